"""Carry a configuration from one search space to another: the same modules at the same relative depth
and the same size relative to the model's width.

This is what lets configurations found on one task or model seed a search on another (``warm_start``):
the AutoPEFT paper's finding is that good configurations transfer. The rules, in order:

- **layers**: a target layer is on when the source layer at the same relative depth is on (layer ``j``
  of ``L_t`` reads layer ``round(j * (L_s - 1) / (L_t - 1))`` of ``L_s``); the same bits when the
  depths are equal;
- **sized modules**: the size as a fraction of the hidden size, ``size / H_s * H_t``, rounded to the
  nearest size of the target's scale on a log scale (so a bottleneck of H/16 stays H/16); the same size
  when the scales are equal;
- **switches** ((IA)³) stay as they are;
- a module the target space does not search is dropped;
- **learning rate**: kept if the target searches it (the nearest of its choices on a log scale), dropped
  if not; a target that searches it and a source without one take ``default_lr``'s nearest choice.

A configuration that ends up with no layer or no module on (or that the target space refuses) does not
transfer: :func:`transfer` returns None, and the caller says how many were left out. The rules are the
module spaces' (``paper``, ``extended``); a configuration of the ``lora`` layout (per-layer ranks and
targets in its options) moves only into an equal space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from autopeft.errors import UserError
from autopeft.modules import MODULES
from autopeft.space.space import PeftConfig, SearchSpace


def _nearest_log(value: float, choices: Sequence[float]) -> float:
    """The choice nearest ``value`` on a log scale (ties: the smaller)."""
    return min(choices, key=lambda c: (abs(math.log(c) - math.log(value)), c))


def _layers(bits: Sequence[bool], target: int) -> tuple[bool, ...]:
    source = len(bits)
    if source == target:
        return tuple(bits)
    if target == 1:
        return (any(bits),)
    return tuple(bits[round(j * (source - 1) / (target - 1))] for j in range(target))


def transfer(
    config: PeftConfig, source: SearchSpace, target: SearchSpace, *, default_lr: float | None = None
) -> PeftConfig | None:
    """``config`` (a member of ``source``) as a member of ``target`` by the rules of the module
    docstring, or None when it does not transfer."""
    if source.to_dict() == target.to_dict():
        return config if target.contains(config) else None
    if config.options:  # per-layer ranks and targets mean nothing in another layout
        return None
    modules = {}
    for name in target.modules:
        value = getattr(config, name)
        if not value:
            continue
        if MODULES[name].dimension == "size":
            scaled = value / source.hidden_size * target.hidden_size if source.sizes != target.sizes else value
            value = int(_nearest_log(max(scaled, 1e-9), target.sizes))
        modules[name] = value
    learning_rate = None
    if target.learning_rates:
        wanted = config.learning_rate if config.learning_rate is not None else default_lr
        if wanted is not None:
            learning_rate = _nearest_log(wanted, target.learning_rates)
    try:
        moved = PeftConfig(layers=_layers(config.layers, target.num_layers), learning_rate=learning_rate, **modules)
    except UserError:
        return None
    return moved if target.contains(moved) else None
