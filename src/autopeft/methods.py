"""Methods trained at full fidelity: AutoPEFT configurations and the standard PEFT baselines.

A :class:`Method` is one of three kinds:

- ``config``: a configuration of the search space (:class:`~autopeft.space.PeftConfig`), built like a trial;
- ``modules``: module kinds with their options (``{kind: options}``, a baseline), in every layer;
- ``full``: full fine-tuning (every backbone parameter trained).

Ledgers written by autopeft 0.1 also hold kind ``adapters`` (a baseline stored as the ``adapters``
library's JSON dict): they are read and described, not built.

The baselines (:data:`BASELINES`) are the paper's comparison methods at the sizes of the literature (the
``adapters`` library's presets): full fine-tuning, each module kind's presets
(:meth:`autopeft.modules.ModuleKind.presets`, in registration order), then the presets that combine
kinds (MAM; :func:`autopeft.build.composite_presets`). UniPELT is not among them: it needs gated modules,
which the modules of this version do not have. Bottleneck sizes are reduction factors of the hidden size
``H``, so they scale with the model; prefix lengths and ranks are fixed as in the literature.
``baseline_table(H)`` lists them with the sizes they get on a model of hidden size ``H``.

Learning rates: every PEFT method trains with the budget's learning rate (the search's, 1e-3 by
default); full fine-tuning uses :data:`FULL_FT_LEARNING_RATE`, the top of BERT's recommended grid
(Devlin et al. 2019: 2e-5 … 5e-5), because a PEFT learning rate destroys a fully trained backbone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from autopeft.errors import UserError
from autopeft.modules import MODULES
from autopeft.space import PeftConfig

MethodKind = Literal["config", "modules", "adapters", "full"]

#: Learning rate of full fine-tuning (the budget's learning rate is meant for PEFT modules).
FULL_FT_LEARNING_RATE = 5e-5


@dataclass(frozen=True)
class Method:
    """One way of fine-tuning a backbone.

    Args:
        name: identifier in results and reports (``"lora"``, ``"autopeft-0.5"``); letters, digits,
            ``-``, ``_`` and ``.`` only (it names folders).
        label: display name in reports.
        kind: ``"config"``, ``"modules"``, ``"full"`` or (read only) ``"adapters"`` (see the module docstring).
        config: the search-space configuration (kind ``config``).
        adapters: the ``adapters`` configuration as a JSON dict (kind ``adapters``, autopeft 0.1).
        modules: ``{module kind: options}`` (kind ``modules``).
        learning_rate: overrides the budget's learning rate; None = the budget's.
        source: where the method comes from (a citation, or the search and trial it was picked from).
    """

    name: str
    label: str
    kind: MethodKind
    config: PeftConfig | None = None
    adapters: dict[str, Any] | None = None
    learning_rate: float | None = None
    source: str = ""
    modules: dict[str, dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise UserError("method name", self.name, "must be letters, digits, '-', '_' or '.'", "rename it")
        if self.kind not in ("config", "modules", "adapters", "full"):
            raise UserError("method kind", self.kind, "unknown", "use config, modules or full")
        if (self.kind == "config") != (self.config is not None):
            raise UserError("method config", self.config, f"kind {self.kind!r} and config disagree", "set both")
        if (self.kind == "adapters") != (self.adapters is not None):
            raise UserError("method adapters", self.adapters, f"kind {self.kind!r} and adapters disagree", "set both")
        if (self.kind == "modules") != (self.modules is not None):
            raise UserError("method modules", self.modules, f"kind {self.kind!r} and modules disagree", "set both")
        unknown = sorted(set(self.modules or {}) - set(MODULES))
        if unknown:
            raise UserError("method modules", unknown, "are not registered module kinds", f"use {list(MODULES)}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise UserError("method learning_rate", self.learning_rate, "must be positive", "e.g. 1e-3")

    def describe(self, hidden_size: int | None = None) -> str:
        """What is trained, in a few words (sizes resolved when ``hidden_size`` is given)."""
        if self.kind == "full":
            return "every parameter"
        if self.kind == "config":
            assert self.config is not None
            return self.config.describe()
        if self.kind == "modules":
            return " + ".join(MODULES[k].describe_options(o, hidden_size) for k, o in (self.modules or {}).items())
        return describe_adapters(self.adapters or {}, hidden_size)

    def to_dict(self) -> dict[str, Any]:
        """The method as JSON data; ``modules`` only when set, so that the dicts (and run keys) of
        methods of the other kinds are those autopeft 0.1 wrote."""
        out = dataclasses.asdict(self)
        out["config"] = None if self.config is None else self.config.to_dict()
        if out["modules"] is None:
            del out["modules"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Method:
        data = dict(data)
        if data.get("config") is not None:
            data["config"] = PeftConfig.from_dict(data["config"])
        return cls(**data)


def _baselines() -> dict[str, Method]:
    from autopeft.build import composite_presets

    def peft(name: str, label: str, modules: dict[str, Any], source: str) -> Method:
        return Method(name=name, label=label, kind="modules", modules=modules, source=source)

    full = Method(
        name="full",
        label="Full fine-tuning",
        kind="full",
        learning_rate=FULL_FT_LEARNING_RATE,
        source="Devlin et al. 2019",
    )
    single = [peft(p.name, p.label, p.modules, p.source) for kind in MODULES.values() for p in kind.presets()]
    composite = composite_presets()
    methods = [
        full,
        *single,
        peft("mam", "MAM adapter", composite["mam"], "He et al. 2022; prefix + parallel adapter"),
    ]
    by_name = {m.name: m for m in methods}
    if len(by_name) != len(methods):
        raise ValueError(f"two baselines share a name: {[m.name for m in methods]}")
    return by_name


#: The paper's comparison methods, by name, in report order.
BASELINES: dict[str, Method] = _baselines()


def parse_baselines(text: str) -> list[Method]:
    """``all`` or comma-separated names of :data:`BASELINES` → methods (in the order given)."""
    if text.strip() == "all":
        return list(BASELINES.values())
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BASELINES]
    if unknown or not names:
        raise UserError("methods", text, f"unknown baselines {unknown}", f"use all or some of {list(BASELINES)}")
    return [BASELINES[n] for n in names]


def baseline_table(hidden_size: int) -> list[dict[str, str]]:
    """One row per baseline: name, label, what it trains on a model of hidden size ``hidden_size``,
    learning rate, source."""
    return [
        {
            "name": m.name,
            "label": m.label,
            "trains": m.describe(hidden_size),
            "learning_rate": "budget's" if m.learning_rate is None else f"{m.learning_rate:g}",
            "source": m.source,
        }
        for m in BASELINES.values()
    ]


def describe_adapters(cfg: dict[str, Any], hidden: int | None) -> str:
    """What an ``adapters`` configuration dict trains, in a few words: ``"serial adapter 24 after ffn"``,
    ``"prefix 30 + parallel adapter 192 after ffn"``. Bottleneck sizes are resolved on a model of hidden
    size ``hidden`` (``H/16`` style when None)."""
    parts = [describe_adapters(c, hidden) for c in cfg["configs"]] if cfg.get("architecture") == "union" else []
    if parts:
        return " + ".join(parts)
    arch = cfg.get("architecture")
    if arch == "prefix_tuning":
        return f"prefix {cfg['prefix_length']}" + (" (gated)" if cfg.get("use_gating") else "")
    if arch == "lora":
        if cfg.get("composition_mode") == "scale":
            return "(IA)³ on " + "/".join(cfg["attn_matrices"]) + (" + ffn" if cfg.get("intermediate_lora") else "")
        return f"LoRA r={cfg['r']} on " + "/".join(cfg["attn_matrices"]) + (" (gated)" if cfg.get("use_gating") else "")
    rf = cfg["reduction_factor"]
    size = f"{int(hidden // rf)}" if hidden else f"H/{rf:g}"
    where = []
    if cfg.get("mh_adapter"):
        where.append("attention")
    if cfg.get("output_adapter"):
        where.append("ffn")
    kind = "parallel" if cfg.get("is_parallel") else "serial"
    return f"{kind} adapter {size} after {'+'.join(where)}" + (" (gated)" if cfg.get("use_gating") else "")
