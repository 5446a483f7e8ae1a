"""The ``lora`` space: LoRA alone, with a rank per group of layers, the weight matrices it targets, its
alpha scale and (``--search-lr``) the learning rate. HF PEFT builds it (one ``LoraConfig`` with a
``rank_pattern`` and an ``alpha_pattern``), the format LLM users deploy.

Groups of layers, sized from depth: ``g = ceil(L / 8)`` consecutive layers share a rank (L = all layers,
encoder then decoder), and a group never straddles two stacks (an encoder-decoder's encoder and decoder
are grouped separately, each from its first layer). A 6-layer MiniLM has 6 groups of 1, a 32-layer LLM 8
groups of 4, a 12+12-layer T5 4 + 4 groups of 3.

Encoding (``len(space.dimensions)`` floats, every one an index):

- one ``ordinal`` dimension per group, ``rank_<first>-<last>``: the index of the group's rank in
  ``(0, 1, 2, 4, ..., min(64, H/4))`` (0 = LoRA off in those layers);
- one ``bit`` dimension per offered target, ``target_<role>`` (:func:`~autopeft.modules.lora.offered_targets`:
  the query, key, value, attention output, feed-forward up, gate and down projections the model has);
- one ``ordinal`` dimension ``alpha_scale``: the index of alpha / rank in ``(0.5, 1, 2, 4)``;
- with ``--search-lr``, the ``learning_rate`` ordinal last.

A configuration is valid when some group's rank is above 0 and some target is on. As a
:class:`~autopeft.space.PeftConfig` it is ``layers`` = the layers whose rank is above 0, ``lora`` = the
largest rank, and ``options={"lora": {"ranks": (one per layer), "targets": (roles), "alpha_scale": s}}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autopeft.errors import UserError
from autopeft.modules.lora import LORA_TARGETS
from autopeft.space.space import Dimension, PeftConfig, SearchSpace

#: The most groups of layers per model (see the module docstring).
MAX_GROUPS = 8
#: The largest rank offered (smaller on a narrow model: at most a quarter of the hidden size).
MAX_RANK = 64
#: The choices of alpha / rank.
ALPHA_SCALES = (0.5, 1.0, 2.0, 4.0)


def rank_choices(hidden_size: int) -> tuple[int, ...]:
    """The non-zero ranks offered on a model of hidden size H: powers of two from 1 to
    ``min(64, H // 4)`` (at least 1), ascending. H = 32 gives (1, 2, 4, 8); H = 4096 (1, 2, ..., 64)."""
    top = max(1, min(MAX_RANK, hidden_size // 4))
    return tuple(2**k for k in range(int(math.log2(top)) + 1))


def layer_groups(stacks: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Consecutive layers that share a rank: groups of ``ceil(L / 8)`` layers (L = ``sum(stacks)``),
    each stack split from its first layer (its last group may be smaller), so that no group straddles
    two stacks. ``(6,)`` gives six groups of one layer; ``(32,)`` eight of four; ``(12, 12)`` eight of three."""
    size = math.ceil(sum(stacks) / MAX_GROUPS)
    groups: list[tuple[int, ...]] = []
    start = 0
    for count in stacks:
        groups += [tuple(range(start + i, start + min(i + size, count))) for i in range(0, count, size)]
        start += count
    return tuple(groups)


@dataclass(frozen=True)
class LoraSpace(SearchSpace):
    """The ``lora`` search space for one model (see the module docstring); the interface of
    :class:`~autopeft.space.SearchSpace`, which it extends with:

    Args:
        stacks: layers per stack, encoder first (``num_layers`` is their sum).
        targets: the roles offered (:data:`~autopeft.modules.lora.LORA_TARGETS`, in that order).
        alpha_scales: the choices of alpha / rank, ascending.

    ``modules`` is ``("lora",)`` and ``sizes`` the non-zero rank choices (default :func:`rank_choices`).
    """

    stacks: tuple[int, ...] = ()
    targets: tuple[str, ...] = ()
    alpha_scales: tuple[float, ...] = field(default=ALPHA_SCALES)

    def __post_init__(self) -> None:
        if not self.sizes:
            object.__setattr__(self, "sizes", rank_choices(self.hidden_size))
        super().__post_init__()
        object.__setattr__(self, "stacks", tuple(int(n) for n in self.stacks) or (self.num_layers,))
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "alpha_scales", tuple(float(a) for a in self.alpha_scales))
        if self.modules != ("lora",):
            raise UserError("modules", self.modules, "the lora space searches LoRA alone", 'use ("lora",)')
        if sum(self.stacks) != self.num_layers or min(self.stacks) < 1:
            raise UserError("stacks", self.stacks, f"must be positive and sum to {self.num_layers}", "fix stacks")
        if not self.targets:
            raise UserError("targets", (), "a lora space with no target admits no configuration", "offer a target")
        if list(self.targets) != [t for t in LORA_TARGETS if t in self.targets]:
            raise UserError(
                "targets", self.targets, "must be distinct roles in encoding order", f"{list(LORA_TARGETS)}"
            )
        scales = self.alpha_scales
        if not scales or min(scales) <= 0 or list(scales) != sorted(set(scales)):
            raise UserError("alpha_scales", scales, "must be distinct positive numbers, ascending", "fix them")

    @classmethod
    def for_model_config(cls, name: str, model_config: Any, learning_rates: Sequence[float] = ()) -> LoraSpace:
        """The ``lora`` space of a ``transformers`` config: its stacks, hidden size and the LoRA targets
        its layers have (:func:`~autopeft.modules.lora.offered_targets_of`: reads the model's skeleton).

        Raises:
            UserError: if the model type is in no family, or its layers offer no LoRA target.
        """
        from autopeft.modules.families import family_for, hidden_size, stack_sizes
        from autopeft.modules.lora import offered_targets_of

        family = family_for(getattr(model_config, "model_type", "?"))
        targets = offered_targets_of(model_config)
        if not targets:
            raise UserError(
                "space",
                name,
                f"{family.name} layers have no linear module LoRA can target ({', '.join(LORA_TARGETS)})",
                "use the paper or extended space, or another model",
            )
        stacks = stack_sizes(model_config)
        return cls(
            name=name,
            num_layers=sum(stacks),
            hidden_size=hidden_size(model_config),
            modules=("lora",),
            learning_rates=tuple(learning_rates),
            stacks=stacks,
            targets=targets,
        )

    # --- dimensions and encoding -------------------------------------------------------------

    @property
    def groups(self) -> tuple[tuple[int, ...], ...]:
        """The layers of each group, in encoding order (:func:`layer_groups`)."""
        return layer_groups(self.stacks)

    @property
    def ranks(self) -> tuple[int, ...]:
        """A group's rank choices, in encoding order: ``(0, *sizes)``."""
        return (0, *self.sizes)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        groups = [Dimension(_group_name(g), "ordinal", self.ranks) for g in self.groups]
        targets = [Dimension(f"target_{t}", "bit", (False, True)) for t in self.targets]
        alpha = [Dimension("alpha_scale", "ordinal", self.alpha_scales)]
        rates = [Dimension("learning_rate", "ordinal", self.learning_rates)] if self.learning_rates else []
        return (*groups, *targets, *alpha, *rates)

    @property
    def module_dimensions(self) -> slice:
        """Where the target bits lie in :attr:`dimensions` (after the group ranks): a configuration is
        valid when a group rank and a target bit are non-zero."""
        n = len(self.groups)
        return slice(n, n + len(self.targets))

    def valid_indices(self, idx: np.ndarray) -> np.ndarray:
        """Which rows of encoded indices (shape ``(n, len(dimensions))``) are valid configurations:
        some group's rank above 0 and some target on; shape ``(n,)``, bool."""
        idx = np.asarray(idx).reshape(-1, len(self.dimensions))
        return idx[:, : len(self.groups)].any(axis=1) & idx[:, self.module_dimensions].any(axis=1)

    @property
    def size(self) -> int:
        """Number of valid configurations: (rank choices^groups - 1) (2^targets - 1) scales (rates)."""
        ranks = len(self.ranks) ** len(self.groups) - 1
        return ranks * (2 ** len(self.targets) - 1) * len(self.alpha_scales) * max(1, len(self.learning_rates))

    def encode(self, config: PeftConfig) -> np.ndarray:
        """Configuration → vector, shape ``(len(self.dimensions),)``, float64 (see the module docstring)."""
        self.check(config)
        options = config.options_of("lora")
        values = [float(self.ranks.index(options["ranks"][g[0]])) for g in self.groups]
        values += [float(t in options["targets"]) for t in self.targets]
        values.append(float(self.alpha_scales.index(options["alpha_scale"])))
        if self.learning_rates:
            values.append(float(self.learning_rates.index(config.learning_rate)))
        return np.asarray(values, dtype=np.float64)

    def decode(self, vector: Sequence[float] | np.ndarray) -> PeftConfig:
        """Vector → configuration; values rounded to the nearest index and clipped. A vector with no rank
        above 0 or no target on gives a configuration with LoRA off (not :attr:`~PeftConfig.is_valid`)."""
        vec = np.asarray(vector, dtype=np.float64).reshape(-1)
        dims = self.dimensions
        if vec.shape[0] != len(dims):
            raise ValueError(f"vector has {vec.shape[0]} entries; the space has {len(dims)} dimensions")
        idx = [int(np.clip(np.rint(v), 0, d.cardinality - 1)) for v, d in zip(vec, dims, strict=True)]
        n_groups, n_targets = len(self.groups), len(self.targets)
        ranks = [0] * self.num_layers
        for group, i in zip(self.groups, idx[:n_groups], strict=True):
            for layer in group:
                ranks[layer] = self.ranks[i]
        targets = tuple(t for t, on in zip(self.targets, idx[n_groups : n_groups + n_targets], strict=True) if on)
        scale = self.alpha_scales[idx[n_groups + n_targets]]
        lr = self.learning_rates[idx[-1]] if self.learning_rates else None
        layers = tuple(r > 0 for r in ranks)
        if not any(ranks) or not targets:
            return PeftConfig(layers=layers, learning_rate=lr)  # invalid: LoRA off
        options = {"lora": {"ranks": tuple(ranks), "targets": targets, "alpha_scale": scale}}
        return PeftConfig(layers=layers, learning_rate=lr, options=options, lora=max(ranks))

    def check(self, config: PeftConfig) -> None:
        """Raise :class:`UserError` (naming the field, the value and the fix) unless ``config`` belongs to
        this space and is valid."""
        if len(config.layers) != self.num_layers:
            raise UserError(
                "layers", len(config.layers), f"this space has {self.num_layers} layers", f"give {self.num_layers} bits"
            )
        others = [m for m in config.active_modules if m != "lora"]
        if others:
            raise UserError(others[0], getattr(config, others[0]), "the lora space searches LoRA alone", "turn it off")
        options = config.options_of("lora")
        if not config.lora or set(options) != {"ranks", "targets", "alpha_scale"}:
            raise UserError(
                "config",
                config.describe(),
                "a configuration of the lora space needs LoRA on with options ranks, targets and alpha_scale",
                'give lora=<largest rank> and options={"lora": {"ranks": [...], "targets": [...], "alpha_scale": 1}}',
            )
        ranks = options["ranks"]
        if len(ranks) != self.num_layers:
            raise UserError(
                "options.lora.ranks", list(ranks), f"needs one rank per layer ({self.num_layers})", "fix it"
            )
        bad = [r for r in ranks if r not in self.ranks]
        if bad:
            raise UserError("options.lora.ranks", bad[0], "is not a rank of this space", f"use one of {self.ranks}")
        for group in self.groups:
            if len({ranks[i] for i in group}) > 1:
                raise UserError(
                    "options.lora.ranks",
                    [ranks[i] for i in group],
                    f"layers {group[0]}-{group[-1]} are one group and share a rank",
                    "give them the same rank",
                )
        if tuple(r > 0 for r in ranks) != config.layers:
            raise UserError("layers", config.layers, "must be on exactly where the rank is above 0", "fix the bits")
        missing = [t for t in options["targets"] if t not in self.targets]
        if missing or not options["targets"]:
            raise UserError(
                "options.lora.targets",
                list(options["targets"]),
                "must be targets this model offers",
                f"use {self.targets}",
            )
        if options["alpha_scale"] not in self.alpha_scales:
            raise UserError(
                "options.lora.alpha_scale",
                options["alpha_scale"],
                "is not among this space's",
                f"use {self.alpha_scales}",
            )
        self._check_rate_of(config)

    def describe(self) -> list[dict[str, Any]]:
        """One row per dimension, for ``autopeft space``."""
        rows = []
        for d in self.dimensions:
            if d.name.startswith("rank_"):
                group = next(g for g in self.groups if _group_name(g) == d.name)
                what = f"LoRA rank in layer{'s' if len(group) > 1 else ''} {_span(group)} (0 = none)"
            elif d.name.startswith("target_"):
                role = d.name.removeprefix("target_")
                what = f"LoRA on the {_WORDS[role]} ({LORA_TARGETS[role]})"
            elif d.name == "alpha_scale":
                what = "alpha / rank: each module's lora_alpha is this times its rank"
            else:
                what = "peak learning rate of the trial (--search-lr)"
            rows.append({"name": d.name, "kind": d.kind, "choices": list(d.choices), "meaning": what})
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "layout": "lora",
            **super().to_dict(),
            "stacks": list(self.stacks),
            "targets": list(self.targets),
            "alpha_scales": list(self.alpha_scales),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoraSpace:
        return cls(
            **cls._common_fields(data),
            stacks=tuple(data["stacks"]),
            targets=tuple(data["targets"]),
            alpha_scales=tuple(data.get("alpha_scales", ALPHA_SCALES)),
        )


#: What each target adapts, for ``autopeft space``.
_WORDS = {
    "query": "query projection",
    "key": "key projection",
    "value": "value projection",
    "attention_output": "attention output projection",
    "ffn_up": "feed-forward up projection",
    "ffn_gate": "feed-forward gate projection",
    "ffn_output": "feed-forward down (output) projection",
}


def _span(group: tuple[int, ...]) -> str:
    return f"{group[0]}-{group[-1]}" if len(group) > 1 else str(group[0])


def _group_name(group: tuple[int, ...]) -> str:
    return f"rank_{_span(group)}"
