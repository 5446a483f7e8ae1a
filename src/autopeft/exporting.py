"""A configuration from a search, trained and written where it is deployed (``autopeft export``).

The search keeps no weights, so the picked configuration is trained again first, exactly as its trial
was (the search's data, budget and the trial's seed; on the CPU the same scores come back). Then:

- ``native``: autopeft's saved-run format (:func:`autopeft.build.save_trained`: safetensors and a
  manifest), for any configuration; :func:`autopeft.build.load_saved` puts it back on the base model.
- ``peft``: HF PEFT's own adapter format, for a configuration of LoRA alone or (IA)³ alone (one PEFT
  adapter holds one tuner type): ``PeftModel.from_pretrained(base, OUT)`` loads it, with ``base`` the
  base model loaded as ``AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=N)``. The
  task head travels as PEFT's ``modules_to_save``. A causal-LM search's model is a language model
  (``AutoModelForCausalLM``, or ``AutoModelForSeq2SeqLM`` for T5/BART) with its own head, unchanged.
- ``peft`` with ``merge``: the adapter merged into the weights and saved as a whole model that loads
  with ``transformers`` alone (``AutoModelForSequenceClassification.from_pretrained(OUT)``).

The directory also gets the tokenizer (aligned with the model: pad token, EOS) and ``autopeft-export.json``
(base model, format, configuration, labels, the retrained and the searched score).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autopeft.build import BuiltModel, save_trained, trained_state
from autopeft.errors import UserError
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig

FORMATS = ("peft", "native")
#: The module kinds that one HF PEFT adapter can hold alone.
PEFT_KINDS = ("lora", "ia3")
EXPORT_MANIFEST = "autopeft-export.json"


@dataclass(frozen=True)
class Exported:
    """What :func:`export_search` wrote.

    Args:
        out: the directory.
        trial: the search's trial that was retrained.
        result: the retrained trial's result (its score should equal the trial's).
        format: ``peft`` or ``native``; merged: whether the weights were merged.
    """

    out: Path
    trial: TrialResult
    result: TrialResult
    format: str
    merged: bool


def check_new_directory(path: Path, field: str) -> None:
    """Refuse an export directory that exists and holds something (an export never writes into one).

    Raises:
        UserError: naming ``field`` (the caller's name for the directory).
    """
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(field, str(path), "exists and is not an empty directory", "give a new directory")


def check_format(config: PeftConfig, fmt: str, merge: bool) -> None:
    """Refuse, before any training, a format the configuration cannot be written in.

    Raises:
        UserError: naming ``format`` or ``merge``, the value and the fix.
    """
    if fmt not in FORMATS:
        raise UserError("format", fmt, "is not an export format", f"use one of {FORMATS}")
    if merge and fmt != "peft":
        raise UserError("merge", True, "merges PEFT adapters only", "use format peft, or leave merge off")
    kinds = set(config.active_modules)
    if fmt == "peft" and not any(kinds == {kind} for kind in PEFT_KINDS):
        raise UserError(
            "format",
            fmt,
            f"holds one PEFT tuner (LoRA alone or (IA)³ alone); {config.describe()} has {sorted(kinds)}",
            "use format native (autopeft's own format) for this configuration",
        )


def export_search(
    search_dir: str | Path,
    out: str | Path,
    *,
    pareto: int | None = None,
    trial: int | None = None,
    fmt: str = "peft",
    merge: bool = False,
    device: str = "cpu",
    echo: Any = print,
) -> Exported:
    """Retrain one configuration of the search in ``search_dir`` as its trial trained, and export it.

    Args:
        pareto: its index in the Pareto front (0 = fewest parameters), or
        trial: its trial number (exactly one of the two).
        fmt: ``peft`` or ``native`` (see the module docstring); merge: merge a PEFT adapter.

    Raises:
        UserError: a bad pick, format or merge (before any training), or a retrain that failed.
    """
    from autopeft.models import BaseModel
    from autopeft.runs.select import pick_trial
    from autopeft.train.data import carve_splits, prepare_data
    from autopeft.train.trainer import run_trial

    settings, picked = pick_trial(search_dir, pareto=pareto, trial=trial)
    config = PeftConfig.from_dict(picked.config)
    check_format(config, fmt, merge)
    out = Path(out)
    task = settings.load_task()
    base = BaseModel.load(settings.model, lm=task.spec.is_lm)
    splits = carve_splits(task, settings.budget, settings.seed)
    data = prepare_data(
        task, base.tokenizer, settings.budget, settings.seed, splits=splits, encoder_decoder=base.is_encoder_decoder
    )
    echo(f"retraining trial {picked.number} ({config.describe()}): the search keeps no weights")
    kept: dict[str, Any] = {}

    def write(built: BuiltModel) -> None:
        if fmt == "native":
            save_trained(built, out, extra={"model": settings.model, "task": settings.task})
        else:
            kept["state"] = trained_state(built)
            kept["modules"] = built.modules
            kept["head_paths"] = built.head_paths
            kept["head_output"] = built.head_output

    result = run_trial(base, data, config, settings.budget, seed=picked.seed, device=device, on_trained=write)
    if not result.ok:
        raise UserError("trial", picked.number, f"failed when trained again: {result.error}", "check the search")
    if fmt == "peft":
        _write_peft(base, kept, out, merge=merge)
    base.tokenizer.save_pretrained(out)
    labels = list(task.spec.labels) if task.spec.labels else None
    manifest = {
        "base_model": settings.model,
        "format": fmt,
        "merged": merge,
        "config": config.to_dict(),
        "task": settings.task,
        "labels": labels,
        "num_labels": task.spec.num_labels,
        "trial": picked.number,
        "searched_score": picked.score,
        "retrained_score": result.score,
        "metric": result.metric,
    }
    (out / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2))
    echo(f"retrained: {result.metric} {result.score:.4f} (the search measured {picked.score:.4f})")
    return Exported(out=out, trial=picked, result=result, format=fmt, merged=merge)


def peft_config(
    modules: dict[str, dict[str, Any]],
    targets: list[str],
    head: list[str],
    fan_in_fan_out: bool,
    ranks: dict[str, int] | None = None,
    task_type: str = "SEQ_CLS",
) -> Any:
    """The HF PEFT configuration of a LoRA-only or (IA)³-only model: ``target_modules`` the full module
    paths, the task head as ``modules_to_save`` (none for a language model, whose head stays frozen);
    ``task_type`` PEFT's: ``SEQ_CLS``, ``CAUSAL_LM`` or ``SEQ_2_SEQ_LM``. ``ranks`` (``{target path:
    rank}``, LoRA only) gives each module its own rank (the ``lora`` space's per-layer ranks, as
    ``rank_pattern``), with alpha ``alpha_scale`` times it (``alpha_pattern``); default the options' one
    ``size`` everywhere."""
    from peft import IA3Config, TaskType

    from autopeft.modules.lora import lora_config

    common = {"modules_to_save": head or None, "task_type": TaskType(task_type), "fan_in_fan_out": fan_in_fan_out}
    if "lora" in modules:
        options = modules["lora"]
        ranks = ranks or {t: int(options["size"]) for t in targets}
        if "alpha_scale" in options:
            alphas = {t: float(options["alpha_scale"]) * r for t, r in ranks.items()}
        else:
            alphas = {t: float(options.get("alpha", r)) for t, r in ranks.items()}
        return lora_config({t: ranks[t] for t in targets}, alphas, **common)
    feedforward = [t for t in targets if t in modules["ia3"].get("_feedforward", [])]
    return IA3Config(target_modules=targets, feedforward_modules=feedforward, **common)


def _write_peft(base: Any, kept: dict[str, Any], out: Path, *, merge: bool) -> None:
    """Put the trained weights into a PEFT model of the (released) backbone and save it as PEFT does."""
    from peft import get_peft_model

    modules, head = kept["state"]
    kind = next(iter(kept["modules"]))
    marker = {"lora": ".lora_", "ia3": ".ia3_l."}[kind]
    targets = sorted({name.split(marker)[0] for name in modules})
    model = base.backbone
    if kept["head_output"]:  # a language model keeps its own head
        _match_head(model, kept["head_output"], head)
        task_type = "SEQ_CLS"
    else:
        task_type = "SEQ_2_SEQ_LM" if base.is_encoder_decoder else "CAUSAL_LM"
    feedforward = _feedforward_targets(base, targets) if kind == "ia3" else []
    options = {kind: {**kept["modules"][kind], "_feedforward": feedforward}}
    fused = any(hasattr(model.get_submodule(t), "nf") for t in targets)
    # the head's own layers (BERT's pooler.dense and classifier, T5's dense and out_proj), each kept whole:
    # PEFT's merge replaces a kept module by one with a weight, which a container (BertPooler) is not
    head_modules = sorted({name.rpartition(".")[0] for name in head})
    # each LoRA module's rank as trained: lora_A's weight is (rank, in_features)
    ranks = {t: int(modules[f"{t}.lora_A.autopeft_lora.weight"].shape[0]) for t in targets} if kind == "lora" else None
    config = peft_config(options, targets, head_modules, fused, ranks=ranks, task_type=task_type)
    peft_model = get_peft_model(model, config)
    state = {n: p for n, p in peft_model.named_parameters()}
    with torch.no_grad():
        for name, value in modules.items():
            state["base_model.model." + name.replace(f".autopeft_{kind}", ".default")].copy_(value)
        for name, value in head.items():
            path, _, leaf = name.rpartition(".")
            state[f"base_model.model.{path}.modules_to_save.default.{leaf}"].copy_(value)
    if merge:
        merged = peft_model.merge_and_unload()
        merged.save_pretrained(out)
    else:
        peft_model.save_pretrained(out)


def _match_head(model: Any, output_path: str, head: dict[str, torch.Tensor]) -> None:
    """Give the backbone's head the trained head's output size (the number of labels), as a user's
    ``from_pretrained(MODEL, num_labels=N)`` does."""
    from torch import nn

    weight = head[f"{output_path}.weight"]
    current = model.get_submodule(output_path)
    if current.weight.shape != weight.shape:
        parent, _, name = output_path.rpartition(".")
        new = nn.Linear(weight.shape[1], weight.shape[0], bias=f"{output_path}.bias" in head)
        setattr(model.get_submodule(parent) if parent else model, name, new.to(current.weight.device))
    model.config.num_labels = weight.shape[0]


def _feedforward_targets(base: Any, targets: list[str]) -> list[str]:
    from autopeft.build import sites_of

    sites = sites_of(base.backbone)
    ffn = {sites.path(layer.index, "ffn_output") for layer in sites.layers}
    return [t for t in targets if t in ffn]
