"""Configuration → PEFT-augmented model. The build layer: with :mod:`autopeft.modules`, the only code
that knows the PEFT library (``adapters``).

Each module kind that is on (:data:`autopeft.modules.MODULES`) becomes one ``adapters`` adapter of its
own, configured by the kind (:meth:`~autopeft.modules.ModuleKind.adapters_config`) and named
``autopeft_<kind>``; all are active together as one ``Stack``, in registration order. The layer bits
become ``leave_out`` lists.

Baselines (:mod:`autopeft.methods`) are stored as ``adapters``' own JSON dicts; this layer turns them
back into configurations (:func:`method_configs`), describes them (:func:`describe_adapters`), and
supplies the library's presets that combine several kinds (:func:`composite_presets`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adapters
import torch
from adapters.composition import Stack
from adapters.methods.prefix_tuning import PrefixTuning, PrefixTuningGroup

from autopeft.errors import TrialError
from autopeft.modules import MODULES
from autopeft.space import PeftConfig

HEAD_NAME = "autopeft"
ADAPTER_PREFIX = "autopeft_"


def adapter_configs(config: PeftConfig, hidden_size: int) -> dict[str, Any]:
    """One ``adapters`` config per module that is on, keyed by adapter name, in registration order."""
    leave_out = [i for i, on in enumerate(config.layers) if not on]
    return {
        ADAPTER_PREFIX + name: MODULES[name].adapters_config(
            getattr(config, name), leave_out=leave_out, hidden_size=hidden_size
        )
        for name in config.active_modules
    }


@dataclass
class ParamCounts:
    """Parameter counts measured on a built model.

    Args:
        peft: trainable PEFT parameters as deployed (prefix reparametrisation ejected).
        peft_train: trainable PEFT parameters while training (prefix MLP included).
        head: trainable parameters of the task head.
        backbone: parameters of the pretrained backbone.
        per_module: deployed parameters per module name (``"serial"``, ...).
    """

    peft: int
    peft_train: int
    head: int
    backbone: int
    per_module: dict[str, int]

    @property
    def pct(self) -> float:
        """``100 * peft / backbone`` (percent)."""
        return 100.0 * self.peft / self.backbone


@dataclass
class BuiltModel:
    model: Any
    counts: ParamCounts
    adapter_names: tuple[str, ...]


def _belongs(param_name: str, adapter_name: str) -> bool:
    # adapters names every parameter of an adapter with the adapter's name as one path component
    return f".{adapter_name}." in f".{param_name}."


def _deployed_numel(model: Any, adapter_name: str, trainable: dict[str, torch.Tensor]) -> int:
    """Trainable parameters of one adapter as deployed: every prefix reparametrisation MLP is replaced
    by the prefixes it produces (measured on an ejected copy of the prefix modules; the model itself is
    left untouched). Works for plain adapters and for unions (MAM, UniPELT) alike."""
    numel = sum(p.numel() for n, p in trainable.items() if _belongs(n, adapter_name))
    for name, module in model.named_modules():
        if isinstance(module, PrefixTuningGroup) and name.endswith(f".{adapter_name}"):
            numel -= sum(p.numel() for p in module.parameters() if p.requires_grad)
            ejected = copy.deepcopy(module)
            with torch.no_grad():
                ejected.eject()
            numel += sum(p.numel() for p in ejected.parameters())
    return numel


def count_parameters(model: Any, adapter_names: tuple[str, ...], *, full: bool = False) -> ParamCounts:
    """Measure parameter counts on a built model (see :class:`ParamCounts`).

    With ``full`` (full fine-tuning: no adapters, the whole backbone trainable), ``peft`` and
    ``peft_train`` count the trainable backbone parameters, so that the percentage is 100.
    """
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    head = sum(p.numel() for n, p in trainable.items() if n.startswith("heads."))
    peft_train = 0
    per_module: dict[str, int] = {}
    for name in adapter_names:
        peft_train += sum(p.numel() for n, p in trainable.items() if _belongs(n, name))
        per_module[name[len(ADAPTER_PREFIX) :]] = _deployed_numel(model, name, trainable)
    backbone = sum(
        p.numel() for n, p in model.base_model.named_parameters() if not any(_belongs(n, a) for a in adapter_names)
    )
    if full:
        tuned = sum(p.numel() for n, p in trainable.items() if not n.startswith("heads."))
        return ParamCounts(peft=tuned, peft_train=tuned, head=head, backbone=backbone, per_module={"full": tuned})
    if peft_train + head != sum(p.numel() for p in trainable.values()):
        raise RuntimeError("some trainable parameters belong to no PEFT module and not to the head")
    return ParamCounts(
        peft=sum(per_module.values()), peft_train=peft_train, head=head, backbone=backbone, per_module=per_module
    )


def _share_prefix_across_batch(model: Any) -> int:
    """Compute each reparametrised prefix once per batch instead of once per example.

    ``adapters`` runs the prefix MLP on a ``(batch, prefix_length, H)`` copy of the same embedding
    for every example of a batch; the result is the same for all examples (prefix dropout is 0), so
    computing it for one and broadcasting gives identical outputs and gradients at 1/batch of the
    cost (``tests/build`` checks the equality). The class is swapped on this model's own modules
    only; the library is left as it is. Returns how many prefix modules were switched.
    """
    switched = 0
    for group in (m for m in model.modules() if isinstance(m, PrefixTuningGroup)):
        for module in group.values():
            if type(module) is PrefixTuning and module.config.dropout == 0.0:
                module.__class__ = _BatchSharedPrefixTuning
                switched += 1
    return switched


class _BatchSharedPrefixTuning(PrefixTuning):
    """``PrefixTuning`` whose prefix is computed for one example and broadcast over the batch."""

    def forward(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        # each element has shape (2, 1, heads, prefix_length, head_dim): key and value of one layer
        return tuple(kv.expand(-1, batch_size, -1, -1, -1) for kv in super().forward(1))


def build_model(
    backbone: Any,
    config: PeftConfig,
    *,
    num_labels: int,
    seed: int,
    share_prefix: bool = True,
) -> BuiltModel:
    """A fresh PEFT model for one trial: a copy of ``backbone`` with the configuration's modules and a
    new task head; only PEFT modules and the head are trainable.

    Args:
        backbone: pristine ``AutoAdapterModel`` without heads (never modified).
        config: the configuration (must be valid).
        num_labels: classes of the task (1 = regression).
        seed: seeds the initialisation of the PEFT modules and the head.
        share_prefix: compute prefixes once per batch (identical results, see
            :func:`_share_prefix_across_batch`); False keeps the library's per-example computation.
    """
    if not config.is_valid:
        raise TrialError(f"invalid configuration {config.describe()}: needs a layer and a module on")
    model_config = backbone.config
    if len(config.layers) != model_config.num_hidden_layers:
        raise TrialError(
            f"configuration has {len(config.layers)} layer bits; the model has {model_config.num_hidden_layers}"
        )
    built = build_adapters(
        backbone,
        adapter_configs(config, model_config.hidden_size),
        num_labels=num_labels,
        seed=seed,
        share_prefix=share_prefix,
    )
    for name in built.adapter_names:
        module = name[len(ADAPTER_PREFIX) :]
        if built.counts.per_module.get(module, 0) == 0:
            raise TrialError(f"module {module!r} of {config.describe()} was not built (0 parameters)")
    return built


def build_adapters(
    backbone: Any,
    configs: dict[str, Any],
    *,
    num_labels: int,
    seed: int,
    share_prefix: bool = True,
) -> BuiltModel:
    """A copy of ``backbone`` with the given ``adapters`` configurations, all active as one ``Stack``
    in the given order, and a new task head; only the adapters and the head are trainable.

    Args:
        backbone: pristine ``AutoAdapterModel`` without heads (never modified).
        configs: ``{adapter name: adapters config}`` (names should start with :data:`ADAPTER_PREFIX`).
            Empty = full fine-tuning: every backbone parameter is trained.
        num_labels: classes of the task (1 = regression).
        seed: seeds the initialisation of the adapters and the head.
        share_prefix: see :func:`build_model`.
    """
    model = copy.deepcopy(backbone)
    torch.manual_seed(seed)
    for name, cfg in configs.items():
        model.add_adapter(name, config=cfg)
    model.add_classification_head(HEAD_NAME, num_labels=num_labels, layers=2)
    if share_prefix:
        _share_prefix_across_batch(model)
    names = tuple(configs)
    if names:
        model.train_adapter(Stack(*names))
        model.set_active_adapters(Stack(*names))
    else:
        for param in model.parameters():
            param.requires_grad_(True)
    model.active_head = HEAD_NAME
    return BuiltModel(model=model, counts=count_parameters(model, names, full=not names), adapter_names=names)


@dataclass(frozen=True)
class ParamTable:
    """Deployed PEFT parameters per layer of every (module, size) of a space, measured once.

    Every module's deployed parameter count is the same in each layer it occupies (bottlenecks,
    LoRA, (IA)³ per layer; a prefix's ejected keys and values per layer), so a configuration's count
    is the sum over its modules of ``per_layer[(module, size)] * layers on``. Each entry is measured
    on a model built with that one module in layer 0 (``tests/build`` checks the sum against fully
    built models). Optimisers use it to know a configuration's parameter objective before it trains.

    Args:
        per_layer: ``{(module, size): parameters}``; switches ((IA)³) use size 1 for "on".
        backbone: backbone parameters (the denominator of the percentage).
    """

    per_layer: dict[tuple[str, int], int]
    backbone: int

    @classmethod
    def measure(cls, backbone: Any, space: Any) -> ParamTable:
        """Measure every (module, size) of ``space`` (a :class:`~autopeft.space.SearchSpace`) on ``backbone``."""
        per_layer: dict[tuple[str, int], int] = {}
        total = None
        layers = tuple(i == 0 for i in range(space.num_layers))
        for module in space.modules:
            for value in MODULES[module].choices(space.sizes)[1:]:  # every value but off
                config = PeftConfig(layers=layers, **{module: value})
                counts = build_model(backbone, config, num_labels=2, seed=0).counts
                per_layer[(module, int(value))] = counts.per_module[module]
                total = counts.backbone
        assert total is not None
        return cls(per_layer=per_layer, backbone=total)

    def params(self, config: PeftConfig) -> int:
        """Deployed PEFT parameters of ``config``."""
        on = len(config.active_layers)
        return sum(self.per_layer[(m, int(getattr(config, m)))] * on for m in config.active_modules)

    def pct(self, config: PeftConfig) -> float:
        """``100 * params / backbone`` (the parameter objective, percent)."""
        return 100.0 * self.params(config) / self.backbone


def build_method(backbone: Any, method: Any, *, num_labels: int, seed: int) -> BuiltModel:
    """A fresh model for a :class:`~autopeft.methods.Method`: a search-space configuration (exactly as
    a trial builds it), a baseline's ``adapters`` configuration, or full fine-tuning."""
    if method.kind == "config":
        return build_model(backbone, method.config, num_labels=num_labels, seed=seed)
    built = build_adapters(
        backbone, method_configs(method, backbone.config.hidden_size), num_labels=num_labels, seed=seed
    )
    for name in built.adapter_names:
        if built.counts.per_module.get(name[len(ADAPTER_PREFIX) :], 0) == 0:
            raise TrialError(f"method {method.name!r} built no parameters")
    return built


def method_configs(method: Any, hidden_size: int) -> dict[str, Any]:
    """``{adapter name: adapters config}`` that build a :class:`~autopeft.methods.Method` on a model of
    hidden size ``hidden_size``: its configuration's modules, its one stored ``adapters`` configuration
    (named after the method), or nothing (full fine-tuning)."""
    if method.kind == "config":
        return adapter_configs(method.config, hidden_size)
    if method.kind == "adapters":
        return {ADAPTER_PREFIX + method.name.replace(".", "_"): adapters.AdapterConfig.load(dict(method.adapters))}
    return {}


def composite_presets() -> dict[str, dict[str, Any]]:
    """The ``adapters`` library's presets that combine several module kinds, as its JSON dicts: ``mam``
    (prefix-tuning + parallel adapter, He et al. 2022) and ``unipelt`` (gated serial adapter, prefix and
    LoRA, Mao et al. 2022). Single-kind presets belong to their kind
    (:meth:`~autopeft.modules.ModuleKind.presets`)."""
    return {"mam": adapters.MAMConfig().to_dict(), "unipelt": adapters.UniPELTConfig().to_dict()}


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


# ------------------------------------------------------------------------------------ load and save
#: The file that tells how to put saved adapters back together (see :func:`load_saved_adapters`).
SAVED_MANIFEST = "autopeft.json"


def load_backbone(ref: str) -> Any:
    """The pretrained backbone at ``ref`` (a directory or a hub name) as a flexible-head model without
    heads, in evaluation mode."""
    backbone = adapters.AutoAdapterModel.from_pretrained(ref)
    backbone.eval()
    return backbone


def backbone_from_config(config: Any) -> Any:
    """A randomly initialised backbone from a ``transformers`` config (tests, benchmarks)."""
    backbone = adapters.AutoAdapterModel.from_config(config)
    backbone.eval()
    return backbone


def save_trained(model: Any, names: tuple[str, ...], folder: Path) -> None:
    """Save a trained model's PEFT modules (one folder per adapter name) and its head (``head/``) in the
    ``adapters`` library's own format, so that they load with the library alone."""
    for name in names:
        model.save_adapter(str(folder / name), name, with_head=False)
    model.save_head(str(folder / "head"), HEAD_NAME)


def load_saved_adapters(model: Any, folder: str | Path) -> tuple[str, ...]:
    """Load adapters saved by a run into an ``adapters`` model (``AutoAdapterModel`` of the same
    backbone) and activate them with their head; returns the adapter names in stack order.

    Uses the ``adapters`` library alone (``load_adapter``, ``load_head``); the manifest only says the
    order of the stack. A user can do the same by hand::

        model = adapters.AutoAdapterModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
        for name in manifest["stack"]:
            model.load_adapter(f"{folder}/{name}", with_head=False)
        model.load_head(f"{folder}/head")
        model.set_active_adapters(Stack(*manifest["stack"])); model.active_head = manifest["head"]
    """
    folder = Path(folder)
    manifest = json.loads((folder / SAVED_MANIFEST).read_text())
    names = tuple(manifest["stack"])
    for name in names:
        model.load_adapter(str(folder / name), with_head=False)
    model.load_head(str(folder / "head"))
    if names:
        model.set_active_adapters(Stack(*names))
    model.active_head = manifest["head"]
    return names
