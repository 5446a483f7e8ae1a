"""LoRA (Hu et al. 2022): low-rank updates of linear projections, sized by the rank; built by HF PEFT
(``peft.LoraConfig``, injected in place), the format LLM users deploy.

Two ways to configure it:

- the value alone (the ``paper``/``extended`` spaces, the preset): one rank in every layer that is on,
  on the query and value projections (or the roles in the ``targets`` option), ``alpha`` the rank;
- the ``lora`` space's options: ``ranks`` (one rank per layer of the model, 0 = none), ``targets`` (roles
  of :data:`LORA_TARGETS`) and ``alpha_scale`` (every layer's ``lora_alpha`` is the scale times its rank),
  built as one ``LoraConfig`` whose ``rank_pattern`` and ``alpha_pattern`` give each module its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from autopeft.errors import TrialError, UserError
from autopeft.modules.base import ModuleKind, Preset
from autopeft.modules.registry import register

#: The projections LoRA adapts by default (Hu et al.).
TARGETS = ("query", "value")
#: The roles (:data:`autopeft.modules.families.ROLES`) the ``lora`` space may target, in encoding order,
#: with their short names in descriptions.
LORA_TARGETS: dict[str, str] = {
    "query": "q",
    "key": "k",
    "value": "v",
    "attention_output": "o",
    "ffn_up": "up",
    "ffn_gate": "gate",
    "ffn_output": "down",
}


def inject_peft(target: Any, peft_config: Any, paths: list[str], adapter_name: str) -> None:
    """Inject an HF PEFT configuration into ``target.model`` at ``paths`` (full module paths), in place;
    the surgery puts the original modules back after the trial."""
    from peft import inject_adapter_in_model

    model = target.model
    target.surgery.keep(model, paths)
    inject_adapter_in_model(peft_config, model, adapter_name=adapter_name)
    # PEFT leaves its config on the model; the manifest of a saved run records ours instead, and a
    # second kind injected (LoRA, then (IA)³) would warn about it
    vars(model).pop("peft_config", None)


def fan_in_fan_out(target: Any, paths: list[str]) -> bool:
    """Whether the targeted layers store their weight transposed (GPT-2's ``Conv1D``), as PEFT must know."""
    return any(hasattr(target.sites.module(p), "nf") for p in paths)


def lora_config(ranks: Mapping[str, int], alphas: Mapping[str, float], **common: Any) -> Any:
    """One ``peft.LoraConfig`` giving each module (full path) its own rank and alpha.

    The most common rank (and its alpha) is the config's ``r`` (``lora_alpha``); every other module gets
    a ``rank_pattern``/``alpha_pattern`` entry keyed by its ``re.escape``d full path. PEFT matches a key
    ``k`` against a module name ``n`` with ``re.match(rf"(.*\\.)?({k})$", n)``, so the full path of layer 1
    (``...layers.1.q_proj``) never matches layer 11's. ``common``: other ``LoraConfig`` arguments
    (``fan_in_fan_out``, ``modules_to_save``, ...); ``target_modules`` is the paths of ``ranks``.
    """
    from peft import LoraConfig

    paths = list(ranks)
    rank = Counter(ranks.values()).most_common(1)[0][0]
    alpha = next(alphas[p] for p in paths if ranks[p] == rank)
    return LoraConfig(
        r=int(rank),
        lora_alpha=float(alpha),
        lora_dropout=0.0,
        target_modules=paths,
        rank_pattern={re.escape(p): int(r) for p, r in ranks.items() if r != rank},
        alpha_pattern={re.escape(p): float(alphas[p]) for p in paths if alphas[p] != alpha},
        **common,
    )


def is_linear(module: Any) -> bool:
    """Whether LoRA can adapt ``module``: an ``nn.Linear`` or GPT-2's ``Conv1D`` (a weight and ``nf``)."""
    from torch import nn

    return isinstance(module, nn.Linear) or (hasattr(module, "nf") and hasattr(module, "weight"))


def offered_targets(sites: Any) -> tuple[str, ...]:
    """The roles of :data:`LORA_TARGETS` that the ``lora`` space offers on a model, in that order: those
    whose module is linear (:func:`is_linear`) in every layer. A module that plays several roles (the
    fused query/key/value projection of GPT-2, ModernBERT, Phi-3, ...) is offered once, under its first
    role, so that no two choices of the space build the same model.

    Args:
        sites: the model's :class:`~autopeft.modules.sites.Sites`.
    """
    offered: list[str] = []
    seen: set[tuple[str | None, ...]] = set()
    for role in LORA_TARGETS:
        paths = tuple(sites.path(layer.index, role) for layer in sites.layers)
        if None in paths or paths in seen or not all(is_linear(sites.module(p)) for p in paths):
            continue
        seen.add(paths)
        offered.append(role)
    return tuple(offered)


def offered_targets_of(model_config: Any) -> tuple[str, ...]:
    """:func:`offered_targets` of the model a ``transformers`` config describes, read from its skeleton
    built on the meta device (no weights: a second for a 7B model), so that a search space is sized
    from the config alone. Whether a layer has a module (a gated T5's ``wi_0``) depends on the config,
    not only on the family, which is why the skeleton is built."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from autopeft.modules.families import family_for
    from autopeft.modules.sites import Sites

    family = family_for(getattr(model_config, "model_type", "?"))
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(model_config)
    return offered_targets(Sites(model, family))


def _rank_list(ranks: Any) -> tuple[int, ...]:
    ok = isinstance(ranks, Sequence) and not isinstance(ranks, str) and len(ranks) > 0
    ok = ok and all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in ranks)
    if not ok:
        raise UserError("options.lora.ranks", ranks, "must be one non-negative integer per layer", "e.g. [8, 8, 0, 4]")
    return tuple(int(r) for r in ranks)


class LoRAKind(ModuleKind):
    """LoRA; the value is the rank (the largest rank, with per-layer ``ranks``).

    Options: ``size`` (the rank), ``alpha`` (default the rank: scaling 1), ``targets`` (roles, default
    query and value); or the ``lora`` space's ``ranks`` (per layer of the model), ``targets`` and
    ``alpha_scale`` (see the module docstring).
    """

    def check_options(self, value: int | bool, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - {"ranks", "targets", "alpha_scale"})
        if unknown:
            raise UserError("options.lora", unknown, "unknown LoRA options", "use ranks, targets and alpha_scale")
        out: dict[str, Any] = {}
        if "ranks" in options:
            out["ranks"] = _rank_list(options["ranks"])
            if max(out["ranks"]) != value:
                raise UserError(
                    "lora", value, f"must be the largest per-layer rank ({max(out['ranks'])})", "set lora to it"
                )
        if "targets" in options:
            targets = options["targets"]
            if isinstance(targets, str) or not set(targets) <= set(LORA_TARGETS):
                raise UserError(
                    "options.lora.targets", targets, "must be roles LoRA targets", f"use {list(LORA_TARGETS)}"
                )
            out["targets"] = tuple(t for t in LORA_TARGETS if t in targets)  # one order, one key
        if "alpha_scale" in options:
            scale = options["alpha_scale"]
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
                raise UserError("options.lora.alpha_scale", scale, "must be a positive number", "e.g. 2 (alpha = 2r)")
            out["alpha_scale"] = float(scale)
        return out

    def describe_config(self, value: int | bool, options: Mapping[str, Any], layers: tuple[int, ...]) -> str:
        return self.describe_options({"size": value, **options}, None, layers)

    def attach(self, target: Any, options: Mapping[str, Any], layers: tuple[int, ...]) -> None:
        roles = options.get("targets", TARGETS)
        if "ranks" in options:
            per_layer = _rank_list(options["ranks"])
            if len(per_layer) != target.sites.num_layers or any(per_layer[i] == 0 for i in layers):
                raise TrialError(f"LoRA ranks {per_layer} do not give a rank to every layer of {layers}")
        else:
            per_layer = tuple(int(options["size"]) for _ in range(target.sites.num_layers))
        ranks = {p: per_layer[i] for i in layers for role in roles for p in target.sites.paths(role, [i])}
        if "alpha_scale" in options:
            alphas = {p: float(options["alpha_scale"]) * r for p, r in ranks.items()}
        else:
            alphas = {p: float(options.get("alpha", r)) for p, r in ranks.items()}
        paths = list(ranks)
        config = lora_config(ranks, alphas, fan_in_fan_out=fan_in_fan_out(target, paths))
        inject_peft(target, config, paths, self.adapter_name)

    def describe_options(
        self, options: Mapping[str, Any], hidden_size: int | None, layers: tuple[int, ...] | None = None
    ) -> str:
        roles = options.get("targets", TARGETS)
        if "ranks" not in options:
            return f"LoRA r={options['size']} on " + "/".join(roles)
        ranks = options["ranks"]
        shown = [ranks[i] for i in layers] if layers is not None else [r for r in ranks if r]
        scale = options.get("alpha_scale")
        alpha = f" alpha={scale:g}r" if scale is not None else ""
        return f"lora r={','.join(map(str, shown))} " + "/".join(LORA_TARGETS[t] for t in roles) + alpha

    def presets(self) -> tuple[Preset, ...]:
        return (Preset("lora", "LoRA", "Hu et al. 2022", {"lora": {"size": 8, "alpha": 8}}),)


LORA = LoRAKind(
    name="lora",
    dimension="size",
    description="LoRA rank (query and value projections)",
    listed_when_off=True,  # every saved configuration dict lists it
    requires=TARGETS,
    first=True,
)

register(LORA)
