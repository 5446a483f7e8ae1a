"""Configuration → PEFT-augmented model, on the current stack (``transformers`` 5, HF PEFT). The build
layer: with :mod:`autopeft.modules`, the only code that knows how modules are put into a model.

The backbone is a ``transformers`` ``AutoModelForSequenceClassification`` (the family's own task head:
BERT's pooler and classifier, Llama's score on the last non-padding token, T5's and BART's head on the
decoder's last EOS), loaded once per search, frozen. A trial changes it in place: each module kind that
is on attaches itself (:meth:`~autopeft.modules.ModuleKind.attach`) in the layers that are on, through
one :class:`~autopeft.modules.sites.Surgery`; the task head is re-initialised with the trial's seed (a
pretrained pooler starts from its pretrained weights). :meth:`BuiltModel.release` undoes it all, so that
the backbone is bit-identical after every trial (no copy of it is ever made, except of the weights that
full fine-tuning changes).

Saved runs (:func:`save_trained`, :func:`load_saved`): the trained modules as deployed
(``modules.safetensors``; prefixes ejected), the task head (``head.safetensors``) and a manifest
(``autopeft.json``: base model, module options, layers, labels) that rebuilds them on the base model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autopeft.errors import TrialError, UserError
from autopeft.modules import MODULES
from autopeft.modules.families import Family, family_for, hidden_size
from autopeft.modules.sites import Sites, Surgery, Target, get_module
from autopeft.space import PeftConfig

#: ``{module kind: options}``: what a build attaches (see :meth:`~autopeft.modules.ModuleKind.options`).
ModuleSpec = dict[str, dict[str, Any]]


@dataclass
class ParamCounts:
    """Parameter counts measured on a built model.

    Args:
        peft: trainable PEFT parameters as deployed (prefix reparametrisation ejected).
        peft_train: trainable PEFT parameters while training (prefix MLP included).
        head: trainable parameters of the task head.
        backbone: parameters of the pretrained backbone (the base model, without the task head).
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
    """A backbone with a trial's modules attached and a fresh head; :meth:`release` puts it back.

    Args:
        model: the model (the backbone itself, changed in place).
        counts: its parameter counts.
        modules: what was attached, ``{kind: options}``.
        layers: the layer bits that are on (indices).
        head_paths: the modules of the task head (none for a language model: its LM head stays frozen).
        head_output: the path of the head's last linear layer (the logits); ``""`` for a language model.
        surgery: the record of every change.
    """

    model: Any
    counts: ParamCounts
    modules: ModuleSpec
    layers: tuple[int, ...]
    head_paths: tuple[str, ...]
    head_output: str
    surgery: Surgery = field(repr=False)

    @property
    def adapter_names(self) -> tuple[str, ...]:
        """``autopeft_<kind>`` of every module kind attached."""
        return tuple(MODULES[name].adapter_name for name in self.modules)

    def head_linear(self) -> nn.Linear:
        """The task head's last linear layer (the one that outputs the logits).

        Raises:
            TrialError: a language model's build has no task head (it keeps its frozen LM head).
        """
        if not self.head_output:
            raise TrialError("a language model's build has no task head")
        return get_module(self.model, self.head_output)

    def release(self) -> None:
        """Undo the build: the backbone as it was loaded (weights, modules, head, frozen). Safe twice."""
        self.surgery.restore()


# ------------------------------------------------------------------------------------ the backbone
def _freeze(model: nn.Module) -> None:
    # and no gradient left over: a trial that fails after a backward pass (or any backward without an
    # optimiser step) would otherwise add its gradient to the next trial's first step of the parameters
    # it trains again (the pooler of BERT-like heads)
    for param in model.parameters():
        param.requires_grad_(False)
        param.grad = None


def _prepare(model: nn.Module) -> nn.Module:
    model.eval()
    _freeze(model)
    return model


def _auto_class(config: Any, lm: bool) -> Any:
    """The ``transformers`` auto class of a backbone: sequence classification, or, for a causal-LM task
    (``lm``), the model with its language-modelling head (``AutoModelForSeq2SeqLM`` for encoder-decoders,
    ``AutoModelForCausalLM`` for decoders)."""
    import transformers

    if not lm:
        return transformers.AutoModelForSequenceClassification
    if getattr(config, "is_encoder_decoder", False):
        return transformers.AutoModelForSeq2SeqLM
    return transformers.AutoModelForCausalLM


def load_backbone(ref: str, *, lm: bool = False) -> Any:
    """The pretrained model at ``ref`` (a directory or a hub name) as ``transformers``'
    ``AutoModelForSequenceClassification``, frozen, in evaluation mode. A head the checkpoint lacks is
    initialised at random; each trial re-initialises it anyway. With ``lm`` (a causal-LM task): the
    model with its language-modelling head (:func:`_auto_class`), which trials keep frozen.

    Raises:
        UserError: if ``transformers`` has no such model for its type.
    """
    from transformers import AutoConfig

    auto = _auto_class(AutoConfig.from_pretrained(ref), lm)
    try:
        model = auto.from_pretrained(ref)
    except ValueError as exc:
        if "Unrecognized configuration class" not in str(exc):
            raise
        what = "language model" if lm else "sequence-classification model"
        fix = "use a decoder (Llama, GPT-2, ...) or an encoder-decoder (T5, BART)"
        if not lm:
            fix = "use an encoder, decoder or T5/BART"
        raise UserError("model", ref, f"has no {what} in transformers", fix) from exc
    return _prepare(model)


def backbone_from_config(config: Any, *, lm: bool = False) -> Any:
    """A randomly initialised backbone from a ``transformers`` config (tests, benchmarks); ``lm``: with
    its language-modelling head (:func:`_auto_class`)."""
    return _prepare(_auto_class(config, lm).from_config(config))


def is_language_model(model: Any) -> bool:
    """Whether ``model`` is a backbone with a language-modelling head (a causal-LM task's), not a
    sequence classifier: such a model keeps its own head, frozen, and trials attach no task head."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    name = type(model).__name__
    return name in set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values()) | set(
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES.values()
    )


def family_of(model_config: Any) -> Family:
    """The layout family of a model (:func:`autopeft.modules.families.family_for` of its type)."""
    return family_for(getattr(model_config, "model_type", "?"))


def sites_of(model: nn.Module) -> Sites:
    """The layers and roles of ``model``, resolved once and kept on it."""
    sites = model.__dict__.get("_autopeft_sites")
    if sites is None:
        sites = Sites(model, family_of(model.config))
        model.__dict__["_autopeft_sites"] = sites
    return sites


def _has_params(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None


def head_paths(model: nn.Module) -> tuple[str, ...]:
    """The modules of the task head: every child of the root model that is not the base model, and the
    base model's pretrained pooler if it has one (trained with the head, as BERT's classifier is)."""
    base = getattr(model, "base_model", model)
    paths = [name for name, child in model.named_children() if child is not base and _has_params(child)]
    base_name = next(name for name, child in model.named_children() if child is base) if base is not model else ""
    pooler = getattr(base, "pooler", None)
    if isinstance(pooler, nn.Module) and _has_params(pooler):
        paths.append(f"{base_name}.pooler" if base_name else "pooler")
    if not paths:
        raise UserError("model", type(model).__name__, "has no task head", "load it as a sequence-classification model")
    return tuple(paths)


def _is_adapter(param_name: str, adapter_names: tuple[str, ...]) -> bool:
    parts = param_name.split(".")
    return any(name in parts for name in adapter_names)


def _param_names(model: nn.Module, paths: tuple[str, ...]) -> list[str]:
    return [f"{p}.{n}" for p in paths for n, _ in get_module(model, p).named_parameters()]


# ------------------------------------------------------------------------------------ the head
def _fresh_head(model: nn.Module, paths: tuple[str, ...], num_labels: int, surgery: Surgery) -> str:
    """Re-initialise the task head (the pooler keeps its pretrained weights) with ``num_labels`` outputs;
    the head's loaded weights come back on restore. Returns the path of its output layer."""
    names = _param_names(model, paths)
    params = dict(model.named_parameters())
    saved = {n: params[n].detach().clone() for n in names}

    def put_back() -> None:
        with torch.no_grad():
            current = dict(model.named_parameters())
            for n, value in saved.items():
                current[n].copy_(value)

    surgery.on_restore(put_back)
    std = float(getattr(model.config, "initializer_range", 0.02) or 0.02)
    linears = [(f"{p}.{n}" if n else p, m) for p in paths for n, m in get_module(model, p).named_modules()]
    linears = [(path, m) for path, m in linears if isinstance(m, nn.Linear) and ".pooler" not in f".{path}"]
    if not linears:
        raise TrialError("the task head has no linear layer")
    last_path, last = linears[-1]
    if last.out_features != num_labels or (num_labels == 1 and last.bias is None):
        # a regression head needs a bias to predict in the task's units (see trainer.rescale_head)
        new = nn.Linear(last.in_features, num_labels, bias=last.bias is not None).to(
            last.weight.device, last.weight.dtype
        )
        surgery.replace(model, last_path, new)
        linears[-1] = (last_path, new)
    with torch.no_grad():
        for _, linear in linears:
            linear.weight.normal_(0.0, std)
            if linear.bias is not None:
                linear.bias.zero_()
    return last_path


# ------------------------------------------------------------------------------------ building
def modules_of(config: PeftConfig) -> ModuleSpec:
    """``{kind: options}`` of a search-space configuration's modules that are on, in registration order:
    each kind's options of its value, updated by the configuration's own options of that kind
    (:attr:`~autopeft.space.PeftConfig.options`: the ``lora`` space's per-layer ranks, for example)."""
    return {
        name: {**MODULES[name].options(getattr(config, name)), **config.options_of(name)}
        for name in config.active_modules
    }


def _check_family_offers(sites: Sites, modules: Mapping[str, Any], layers: tuple[int, ...]) -> None:
    for name in modules:
        for role in MODULES[name].requires:
            missing = [i for i in layers if sites.path(i, role) is None]
            if missing:
                raise TrialError(
                    f"module {name!r} needs a {role} module, which {sites.family.name} layers {missing} lack"
                )


def build_modules(
    backbone: Any,
    modules: Mapping[str, Mapping[str, Any]],
    layers: tuple[int, ...],
    *,
    num_labels: int | None,
    seed: int,
    full: bool = False,
) -> BuiltModel:
    """Attach ``modules`` to ``backbone`` (in place) in ``layers`` and give it a fresh task head; only
    the modules and the head are trainable. Release it with :meth:`BuiltModel.release`.

    Args:
        backbone: a model from :func:`load_backbone` (restored by every earlier build's release).
        modules: ``{kind: options}``; empty with ``full`` = full fine-tuning (every parameter trained;
            its weights are copied first so that release restores them).
        layers: the layer bits that are on (indices, ascending).
        num_labels: classes of the task (1 = regression); None for a causal-LM task, whose backbone
            (:func:`is_language_model`) keeps its language-modelling head, frozen: only the modules train.
        seed: seeds the initialisation of the modules and the head.
    """
    sites = sites_of(backbone)
    _check_family_offers(sites, modules, layers)
    if backbone.__dict__.get("_autopeft_built"):
        raise RuntimeError("the backbone still holds an earlier build: release it (BuiltModel.release) first")
    surgery = Surgery()
    surgery.set_attr(backbone, "_autopeft_built", True)
    surgery.on_restore(lambda: _prepare(backbone))  # frozen, in evaluation mode, as loaded
    target = Target(model=backbone, sites=sites, surgery=surgery, hidden_size=hidden_size(backbone.config))
    lm = num_labels is None
    if lm != is_language_model(backbone):
        raise RuntimeError(f"{type(backbone).__name__} with num_labels={num_labels}: a task head needs a classifier")
    paths = () if lm else head_paths(backbone)
    try:
        torch.manual_seed(seed)
        _attach(target, modules, layers)
        head_output = "" if num_labels is None else _fresh_head(backbone, paths, num_labels, surgery)
        if full:
            _keep_weights(backbone, surgery)
        _mark_trainable(backbone, tuple(modules), paths, full=full)
        counts = count_parameters(target, tuple(modules), paths, full=full)
    except BaseException:
        surgery.restore()
        raise
    ordered = {name: dict(modules[name]) for name in MODULES if name in modules}
    return BuiltModel(backbone, counts, ordered, tuple(layers), paths, head_output, surgery)


def _attach(target: Target, modules: Mapping[str, Mapping[str, Any]], layers: tuple[int, ...]) -> None:
    """Every kind attaches itself: HF PEFT kinds first (they replace the plain layers they target), then
    registration order, so that the same model comes out whatever order ``modules`` has."""
    registered = list(MODULES)
    for name in sorted(modules, key=lambda name: (not MODULES[name].first, registered.index(name))):
        MODULES[name].attach(target, modules[name], layers)


def _mark_trainable(model: nn.Module, kinds: tuple[str, ...], head: tuple[str, ...], *, full: bool) -> None:
    """Only the modules' and the head's parameters train (everything with ``full``)."""
    adapter_names = tuple(MODULES[name].adapter_name for name in kinds)
    head_names = set(_param_names(model, head))
    for name, param in model.named_parameters():
        param.requires_grad_(full or name in head_names or _is_adapter(name, adapter_names))


def _keep_weights(model: nn.Module, surgery: Surgery) -> None:
    saved = {n: p.detach().clone() for n, p in model.named_parameters()}

    def put_back() -> None:
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in saved:
                    p.copy_(saved[n])

    surgery.on_restore(put_back)


def count_parameters(target: Target, kinds: tuple[str, ...], paths: tuple[str, ...], *, full: bool) -> ParamCounts:
    """Measure parameter counts on a built model (see :class:`ParamCounts`).

    With ``full`` (full fine-tuning: no modules, the whole backbone trainable), ``peft`` and
    ``peft_train`` count the trainable backbone parameters, so that the percentage is 100.
    """
    model = target.model
    named = dict(model.named_parameters())
    head_names = set(_param_names(model, paths))
    head = sum(named[n].numel() for n in head_names)
    adapter_names = tuple(MODULES[k].adapter_name for k in kinds)
    base = getattr(model, "base_model", model)
    backbone = sum(p.numel() for n, p in base.named_parameters() if not _is_adapter(n, adapter_names))
    if full:  # every backbone parameter is tuned (a pretrained pooler counts once, in the backbone)
        return ParamCounts(
            peft=backbone, peft_train=backbone, head=head, backbone=backbone, per_module={"full": backbone}
        )
    per_module: dict[str, int] = {}
    peft_train = 0
    for kind in kinds:
        trainable = sum(p.numel() for n, p in named.items() if _is_adapter(n, (MODULES[kind].adapter_name,)))
        peft_train += trainable
        per_module[kind] = MODULES[kind].deployed_numel(target, trainable)
    return ParamCounts(
        peft=sum(per_module.values()), peft_train=peft_train, head=head, backbone=backbone, per_module=per_module
    )


def build_model(backbone: Any, config: PeftConfig, *, num_labels: int | None, seed: int) -> BuiltModel:
    """A search-space configuration's model for one trial (see :func:`build_modules`).

    Raises:
        TrialError: if the configuration is invalid, does not fit the model's layers, or a module
            built no parameters.
    """
    if not config.is_valid:
        raise TrialError(f"invalid configuration {config.describe()}: needs a layer and a module on")
    layers = sites_of(backbone).num_layers
    if len(config.layers) != layers:
        raise TrialError(f"configuration has {len(config.layers)} layer bits; the model has {layers}")
    built = build_modules(backbone, modules_of(config), config.active_layers, num_labels=num_labels, seed=seed)
    _check_built(built, config.describe())
    return built


def _check_built(built: BuiltModel, what: str) -> None:
    for module in built.modules:
        if built.counts.per_module.get(module, 0) == 0:
            built.release()
            raise TrialError(f"module {module!r} of {what} was not built (0 parameters)")


def build_method(backbone: Any, method: Any, *, num_labels: int | None, seed: int) -> BuiltModel:
    """A fresh model for a :class:`~autopeft.methods.Method`: a search-space configuration (exactly as
    a trial builds it), a baseline's modules in every layer, or full fine-tuning."""
    if method.kind == "config":
        return build_model(backbone, method.config, num_labels=num_labels, seed=seed)
    if method.kind == "full":
        return build_modules(backbone, {}, (), num_labels=num_labels, seed=seed, full=True)
    if method.kind != "modules":
        raise UserError(
            "method",
            method.name,
            f"is stored as kind {method.kind!r} (built with the adapters library by autopeft 0.1)",
            "rerun the baselines with this version (they are kind 'modules' now)",
        )
    layers = tuple(range(sites_of(backbone).num_layers))
    built = build_modules(backbone, method.modules, layers, num_labels=num_labels, seed=seed)
    _check_built(built, method.name)
    return built


@dataclass(frozen=True)
class ParamTable:
    """Deployed PEFT parameters of a space's configurations, measured once, known before training.

    Every module's deployed parameter count is the same in each layer it occupies (bottlenecks,
    LoRA, (IA)³ per layer; a prefix's ejected keys and values per layer), so a configuration's count
    is the sum over its modules of ``per_layer[(module, size)] * layers on``. Each entry is measured
    on a model built with that one module in layer 0 (``tests/build`` checks the sum against fully
    built models). Optimisers use it to know a configuration's parameter objective before it trains.

    The ``lora`` space's LoRA has a rank and targets per layer, and a LoRA module's parameters,
    ``r * (in + out)``, are linear in its rank: ``lora_units[(layer, role)]`` is the parameters of the
    role's module in that layer at rank 1, measured on one model built with every offered target in every
    layer at rank 1, and a configuration's count is ``sum over layers of rank * sum over its targets of
    lora_units``.

    Args:
        per_layer: ``{(module, size): parameters}``; switches ((IA)³) use size 1 for "on".
        backbone: backbone parameters (the denominator of the percentage).
        lora_units: ``{(layer, role): parameters at rank 1}`` (the ``lora`` space; empty otherwise).
    """

    per_layer: dict[tuple[str, int], int]
    backbone: int
    lora_units: dict[tuple[int, str], int] = field(default_factory=dict)

    @classmethod
    def measure(cls, backbone: Any, space: Any) -> ParamTable:
        """Measure every (module, size) of ``space`` (a :class:`~autopeft.space.SearchSpace`) on ``backbone``,
        or the rank-1 LoRA units of a :class:`~autopeft.space.LoraSpace`."""
        from autopeft.space import LoraSpace

        if isinstance(space, LoraSpace):
            return cls._measure_lora(backbone, space)
        per_layer: dict[tuple[str, int], int] = {}
        total = None
        layers = tuple(i == 0 for i in range(space.num_layers))
        lm = is_language_model(backbone)
        for module in space.modules:
            for value in MODULES[module].choices(space.sizes)[1:]:  # every value but off
                config = PeftConfig(layers=layers, **{module: value})
                built = build_model(backbone, config, num_labels=None if lm else 2, seed=0)
                built.release()
                per_layer[(module, int(value))] = built.counts.per_module[module]
                total = built.counts.backbone
        assert total is not None
        return cls(per_layer=per_layer, backbone=total)

    @classmethod
    def _measure_lora(cls, backbone: Any, space: Any) -> ParamTable:
        """One build: every offered target in every layer at rank 1; each module's LoRA parameters read
        from the parameter names under its full path."""
        layers = tuple(range(space.num_layers))
        options = {"size": 1, "ranks": (1,) * space.num_layers, "targets": space.targets, "alpha_scale": 1.0}
        built = build_modules(backbone, {"lora": options}, layers, num_labels=2, seed=0)
        try:
            sites = sites_of(backbone)
            adapter = (MODULES["lora"].adapter_name,)
            lora = {n: p.numel() for n, p in backbone.named_parameters() if _is_adapter(n, adapter)}
            units = {}
            for layer in layers:
                for role in space.targets:
                    prefix = f"{sites.path(layer, role)}."  # the dot: layer 1's path is no prefix of layer 11's
                    units[(layer, role)] = sum(n for name, n in lora.items() if name.startswith(prefix))
            if sum(units.values()) != built.counts.per_module["lora"]:
                raise TrialError("LoRA parameters outside the targeted modules: the rank-1 table would be wrong")
        finally:
            built.release()
        return cls(per_layer={}, backbone=built.counts.backbone, lora_units=units)

    def params(self, config: PeftConfig) -> int:
        """Deployed PEFT parameters of ``config``."""
        options = config.options_of("lora")
        if "ranks" in options:
            targets = options["targets"]
            ranks = options["ranks"]
            return sum(r * sum(self.lora_units[(i, t)] for t in targets) for i, r in enumerate(ranks) if r)
        on = len(config.active_layers)
        return sum(self.per_layer[(m, int(getattr(config, m)))] * on for m in config.active_modules)

    def pct(self, config: PeftConfig) -> float:
        """``100 * params / backbone`` (the parameter objective, percent)."""
        return 100.0 * self.params(config) / self.backbone


def composite_presets() -> dict[str, ModuleSpec]:
    """Presets that combine several module kinds: ``mam`` (prefix-tuning of length 30 with a
    reparametrisation of width 800, and a parallel adapter of H/2; He et al. 2022, as the ``adapters``
    library's ``MAMConfig``). Single-kind presets belong to their kind
    (:meth:`~autopeft.modules.ModuleKind.presets`)."""
    return {"mam": {"prefix": {"size": 30, "bottleneck": 800}, "parallel": {"reduction_factor": 2}}}


def describe_modules(modules: Mapping[str, Mapping[str, Any]], hidden: int | None) -> str:
    """What a ``{kind: options}`` trains, in a few words: ``"prefix 30 + parallel adapter 192 beside ffn"``."""
    return " + ".join(MODULES[name].describe_options(options, hidden) for name, options in modules.items())


# ------------------------------------------------------------------------------------ load and save
#: The manifest of a saved run (see :func:`load_saved`).
SAVED_MANIFEST = "autopeft.json"
#: The format of saved runs that this version writes and reads.
SAVED_FORMAT = "autopeft-modules/1"


def trained_state(built: BuiltModel) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The trained modules as deployed (prefix reparametrisation ejected, on a copy) and the head's
    weights: two ``{parameter name: tensor}`` dicts, on the CPU."""
    from autopeft.modules.prefix_tuning import PrefixPool

    model = built.model
    names = built.adapter_names
    modules = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if _is_adapter(n, names)}
    for path, module in model.named_modules():
        if isinstance(module, PrefixPool) and not module.ejected:
            for n in [n for n in modules if n.startswith(f"{path}.")]:
                del modules[n]
            with torch.no_grad():
                modules[f"{path}.prefix"] = module.mlp(module.embedding.weight).detach().cpu().clone()
    head = {
        n: p.detach().cpu().clone()
        for n, p in model.named_parameters()
        if n in set(_param_names(model, built.head_paths))
    }
    return modules, head


def save_trained(built: BuiltModel, folder: Path, *, extra: Mapping[str, Any] | None = None) -> None:
    """Save a trained model's modules as deployed and its head (safetensors) with a manifest that
    :func:`load_saved` rebuilds them from onto the same base model.

    Files: ``modules.safetensors`` and ``head.safetensors`` (parameter names as in the model),
    ``autopeft.json`` (``format``, ``model_type``, ``modules`` ``{kind: options}``, ``layers``,
    ``num_labels``, plus ``extra``: the run's model, task, labels, method, seed).
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    modules, head = trained_state(built)
    save_file({k: v.contiguous() for k, v in modules.items()}, str(folder / "modules.safetensors"))
    save_file({k: v.contiguous() for k, v in head.items()}, str(folder / "head.safetensors"))
    manifest = {
        "format": SAVED_FORMAT,
        "model_type": built.model.config.model_type,
        "modules": built.modules,
        "layers": list(built.layers),
        "num_labels": built.head_linear().out_features if built.head_output else None,
        **dict(extra or {}),
    }
    (folder / SAVED_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def load_saved(backbone: Any, folder: str | Path) -> BuiltModel:
    """Put a run saved by :func:`save_trained` onto ``backbone`` (the same base model, from
    :func:`load_backbone`): the modules in their deployed form and the trained head. Release it with
    :meth:`BuiltModel.release` to get the base model back.

    Raises:
        UserError: if the folder holds no manifest of this format, or the model type differs.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    path = folder / SAVED_MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError("saved run", str(folder), f"has no readable {SAVED_MANIFEST}", "give a run's folder") from exc
    if manifest.get("format") != SAVED_FORMAT:
        raise UserError(
            "saved run",
            str(folder),
            f"is in format {manifest.get('format', 'adapters (autopeft 0.1)')!r}, not {SAVED_FORMAT!r}",
            "retrain it with this version (autopeft runs) or load it with the adapters library",
        )
    if manifest["model_type"] != backbone.config.model_type:
        raise UserError(
            "saved run", str(folder), f"was trained on a {manifest['model_type']} model", "load it onto that base model"
        )
    modules = {k: dict(v) for k, v in manifest["modules"].items()}
    if "prefix" in modules:
        modules["prefix"]["ejected"] = True
    num_labels = None if manifest["num_labels"] is None else int(manifest["num_labels"])
    built = build_modules(backbone, modules, tuple(manifest["layers"]), num_labels=num_labels, seed=0)
    state = {**load_file(str(folder / "modules.safetensors")), **load_file(str(folder / "head.safetensors"))}
    params = dict(backbone.named_parameters())
    unknown = sorted(set(state) - set(params))
    if unknown:
        built.release()
        raise UserError(
            "saved run", str(folder), f"holds parameters the model lacks: {unknown[:3]}", "check the base model"
        )
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
    return built
