"""Configuration → PEFT-augmented model. The only module that knows the PEFT library (``adapters``).

Each module of :data:`autopeft.space.MODULES` is one ``adapters`` adapter of its own, all active
together as one ``Stack``:

- ``serial``  → ``SeqBnConfig`` after the attention sub-layer (``mh_adapter``);
- ``parallel`` → ``ParBnConfig`` beside the feed-forward sub-layer (``output_adapter``), as in He et al.;
- ``prefix``  → ``PrefixTuningConfig`` (keys and values of self-attention);
- ``lora``    → ``LoRAConfig`` (query and value, alpha = rank);
- ``ia3``     → ``IA3Config``.

Why the serial adapter sits after attention rather than after the feed-forward block (the paper's
place): ``adapters`` cannot run a serial and a parallel bottleneck adapter at the same location. A
``ConfigUnion`` refuses them, and in a ``Stack("seq", "par")`` the parallel adapter replaces the serial
adapter's output by the sub-layer input, so the serial adapter silently receives no gradient (verified
with adapters 1.3.0; ``tests/build`` checks every module receives gradients). Keeping the parallel
adapter at the feed-forward block keeps He et al.'s parallel adapter and the MAM adapter (prefix +
parallel) inside the space.

The layer bits become ``leave_out`` lists. Bottleneck sizes are set exactly: ``adapters`` computes the
size as ``int(H // reduction_factor)``, so ``reduction_factor = H / (d + 0.5)`` yields exactly ``d``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from autopeft.errors import TrialError
from autopeft.space import PeftConfig

HEAD_NAME = "autopeft"
ADAPTER_PREFIX = "autopeft_"


def _reduction_factor(hidden: int, size: int) -> float:
    return hidden / (size + 0.5)


def adapter_configs(config: PeftConfig, hidden_size: int) -> dict[str, Any]:
    """One ``adapters`` config per module that is on, keyed by adapter name."""
    import adapters

    leave_out = [i for i, on in enumerate(config.layers) if not on]
    out: dict[str, Any] = {}
    if config.serial:
        out["serial"] = adapters.SeqBnConfig(
            mh_adapter=True,
            output_adapter=False,
            reduction_factor=_reduction_factor(hidden_size, config.serial),
            leave_out=leave_out,
        )
    if config.parallel:
        out["parallel"] = adapters.ParBnConfig(
            reduction_factor=_reduction_factor(hidden_size, config.parallel), leave_out=leave_out
        )
    if config.prefix:
        out["prefix"] = adapters.PrefixTuningConfig(prefix_length=config.prefix, leave_out=leave_out)
    if config.lora:
        out["lora"] = adapters.LoRAConfig(r=config.lora, alpha=config.lora, leave_out=leave_out)
    if config.ia3:
        out["ia3"] = adapters.IA3Config(leave_out=leave_out)
    return {ADAPTER_PREFIX + k: v for k, v in out.items()}


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


def _deployed_numel(module: torch.nn.Module) -> int:
    """Trainable parameters of one adapter module once prefix reparametrisations are ejected."""
    from adapters.methods.prefix_tuning import PrefixTuningGroup

    total = 0
    groups = [m for m in module.modules() if isinstance(m, PrefixTuningGroup)]
    inside_group = {id(p) for g in groups for p in g.parameters()}
    total += sum(p.numel() for p in module.parameters() if p.requires_grad and id(p) not in inside_group)
    for g in groups:
        ejected = copy.deepcopy(g)
        with torch.no_grad():
            ejected.eject()
        total += sum(p.numel() for p in ejected.parameters())
    return total


def count_parameters(model: Any, adapter_names: tuple[str, ...]) -> ParamCounts:
    """Measure parameter counts on a built model (see :class:`ParamCounts`)."""
    head_params = sum(p.numel() for n, p in model.named_parameters() if n.startswith("heads.") and p.requires_grad)
    peft_train = 0
    per_module: dict[str, int] = {}
    trainable_names = {n for n, p in model.named_parameters() if p.requires_grad and not n.startswith("heads.")}
    for name in adapter_names:
        # Each adapter's parameters carry its name in their path (".seq." style keys use the adapter name).
        params = {n: p for n, p in model.named_parameters() if f".{name}." in f".{n}." and n in trainable_names}
        peft_train += sum(p.numel() for p in params.values())
        per_module[name[len(ADAPTER_PREFIX) :]] = _deployed_from_params(model, name, params)
    accounted = peft_train
    everything = sum(p.numel() for n, p in model.named_parameters() if n in trainable_names)
    if accounted != everything:
        raise RuntimeError(f"{everything - accounted} trainable parameters belong to no PEFT module")
    backbone = sum(p.numel() for n, p in model.base_model.named_parameters() if not _is_adapter_param(n, adapter_names))
    return ParamCounts(
        peft=sum(per_module.values()),
        peft_train=peft_train,
        head=head_params,
        backbone=backbone,
        per_module=per_module,
    )


def _is_adapter_param(name: str, adapter_names: tuple[str, ...]) -> bool:
    return any(f".{a}." in f".{name}." for a in adapter_names)


def _deployed_from_params(model: Any, adapter_name: str, params: dict[str, torch.nn.Parameter]) -> int:
    from adapters.methods.prefix_tuning import PrefixTuningGroup

    groups = [
        m for n, m in model.named_modules() if isinstance(m, PrefixTuningGroup) and n.endswith(f".{adapter_name}")
    ]
    if not groups:
        return sum(p.numel() for p in params.values())
    return sum(_deployed_numel(g) for g in groups)


def build_model(
    backbone: Any,
    config: PeftConfig,
    *,
    num_labels: int,
    seed: int,
) -> BuiltModel:
    """A fresh PEFT model for one trial: a copy of ``backbone`` with the configuration's modules and a
    new task head; only PEFT modules and the head are trainable.

    Args:
        backbone: pristine ``AutoAdapterModel`` without heads (never modified).
        config: the configuration (must be valid).
        num_labels: classes of the task (1 = regression).
        seed: seeds the initialisation of the PEFT modules and the head.
    """
    from adapters.composition import Stack

    if not config.is_valid:
        raise TrialError(f"invalid configuration {config.describe()}: needs a layer and a module on")
    model_config = backbone.config
    if len(config.layers) != model_config.num_hidden_layers:
        raise TrialError(
            f"configuration has {len(config.layers)} layer bits; the model has {model_config.num_hidden_layers}"
        )
    model = copy.deepcopy(backbone)
    torch.manual_seed(seed)
    configs = adapter_configs(config, model_config.hidden_size)
    for name, cfg in configs.items():
        model.add_adapter(name, config=cfg)
    model.add_classification_head(HEAD_NAME, num_labels=num_labels, layers=2)
    names = tuple(configs)
    model.train_adapter(Stack(*names))
    model.set_active_adapters(Stack(*names))
    model.active_head = HEAD_NAME
    counts = count_parameters(model, names)
    for name in names:
        module = name[len(ADAPTER_PREFIX) :]
        if counts.per_module.get(module, 0) == 0:
            raise TrialError(f"module {module!r} of {config.describe()} was not built (0 parameters)")
    return BuiltModel(model=model, counts=counts, adapter_names=names)
