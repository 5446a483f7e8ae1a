"""Run a list of :class:`~autopeft.runs.ledger.RunSpec` in-process, skipping those already in the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autopeft.build import BuiltModel, save_trained
from autopeft.models import BaseModel
from autopeft.records.callbacks import Echo
from autopeft.runs.ledger import ResultsLedger, RunRecord, RunSpec
from autopeft.tasks import load_task
from autopeft.train.data import PreparedData, prepare_final_data
from autopeft.train.device import check_device_available
from autopeft.train.trainer import run_trial


@dataclass
class RunsOutcome:
    """What :func:`run_specs` did.

    Args:
        records: the latest record of every spec asked for (finished earlier or now), in spec order;
            specs that have no record (interrupted) are absent.
        ran: runs trained by this call.
        skipped: runs found finished in the ledger.
        failed: runs of this call that failed.
    """

    records: list[RunRecord]
    ran: int
    skipped: int
    failed: int


def _save_dir(spec: RunSpec) -> str:
    return f"adapters/{spec.task.replace('/', '_')}/{spec.method.name}/seed{spec.seed}"


def _saver(out_dir: Path, spec: RunSpec, labels: tuple[str, ...] | None) -> Callable[[BuiltModel], None]:
    def save(built: BuiltModel) -> None:
        extra = {
            "model": spec.model,
            "task": spec.task,
            "labels": list(labels) if labels else None,
            "method": spec.method.to_dict(),
            "seed": spec.seed,
        }
        save_trained(built, out_dir / _save_dir(spec), extra=extra)

    return save


def run_specs(
    specs: Sequence[RunSpec],
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
    save_adapters: bool = True,
    echo: Echo = print,
    base: BaseModel | None = None,
) -> RunsOutcome:
    """Train every spec not yet finished in ``out_dir``'s ledger, one after another, and append each
    result to the ledger as soon as it is in. Failed runs are recorded (and tried again by a later
    call); a ``KeyboardInterrupt`` stops between writes, losing only the run in progress.

    Args:
        specs: the runs; the model and each task are loaded once.
        out_dir: the folder of the ledger (``results.jsonl``) and of saved adapters.
        data_dir: where GLUE/SuperGLUE lie (None = ``$AUTOPEFT_DATA`` or the hub).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; one this machine lacks is refused before anything
            is written.
        threads: torch intra-op threads (None = torch's default, one per core).
        save_adapters: save the trained adapters and head of every successful PEFT run (not of full
            fine-tuning) as safetensors with a manifest (:func:`autopeft.build.save_trained`), under
            ``out_dir/adapters/``.
        echo: progress lines.
        base: an already loaded backbone to use for every spec (tests); None = load ``spec.model``.
    """
    check_device_available(device)
    out = Path(out_dir)
    ledger = ResultsLedger(out)
    done = ledger.completed_keys()
    unique: dict[str, RunSpec] = {}
    for spec in specs:  # the same experiment asked twice runs once (the first spec names it)
        unique.setdefault(spec.key, spec)
    specs = list(unique.values())
    todo = [s for s in specs if s.key not in done]
    skipped = len(specs) - len(todo)
    echo(f"{len(specs)} runs: {skipped} already finished in {ledger.path}, {len(todo)} to train")
    if threads is not None:
        torch.set_num_threads(threads)
    failed = ran = 0
    models: dict[str, BaseModel] = {}
    data_cache: dict[tuple[str, str, int | None, int, int], PreparedData] = {}
    tasks: dict[str, Any] = {}
    started = time.perf_counter()
    for i, spec in enumerate(todo, start=1):
        model = base or models.get(spec.model)
        if model is None:
            model = models.setdefault(spec.model, BaseModel.load(spec.model))
        budget = spec.effective_budget
        # the tokenised data depends on these alone, not on the learning rate or other training settings
        data_key = (spec.model, spec.task, budget.train_examples, budget.max_length, spec.data_seed)
        if data_key not in data_cache:
            if spec.task not in tasks:
                tasks[spec.task] = load_task(spec.task, data_dir)
            data_cache[data_key] = prepare_final_data(tasks[spec.task], model.tokenizer, budget, spec.data_seed)
        data = data_cache[data_key]
        saver = None
        if save_adapters and spec.method.kind != "full":
            saver = _saver(out, spec, data.spec.labels)
        t0 = time.perf_counter()

        def progress(step: int, total: int, score: float, metric: str = data.spec.main_metric, t0: float = t0) -> None:
            echo(f"  step {step}/{total}: dev {metric} {score:.4f} ({time.perf_counter() - t0:.0f} s)")

        result = run_trial(
            model, data, spec.method, budget, seed=spec.seed, device=device, on_trained=saver, progress=progress
        )
        ran += 1
        saved = _save_dir(spec) if saver is not None and result.ok else None
        ledger.append(RunRecord.now(spec, result, saved))
        took = time.perf_counter() - t0
        head = f"[{i}/{len(todo)}] {spec.task} {spec.method.name} seed {spec.seed}"
        if result.ok:
            echo(
                f"{head}: dev {result.metric} {result.score:.4f}, {result.params_pct:.3f} % trainable, "
                f"{took:.0f} s ({len(data.train)} train / {len(data.val)} dev examples)"
            )
        else:
            failed += 1
            echo(f"{head}: FAILED ({(result.error or '').splitlines()[0] if result.error else 'no error'})")
    if todo:
        echo(f"{ran} runs in {time.perf_counter() - started:.0f} s, {failed} failed; ledger {ledger.path}")
    latest = {r.key: r for r in ledger.records()}
    return RunsOutcome(
        records=[latest[s.key] for s in specs if s.key in latest], ran=ran, skipped=skipped, failed=failed
    )
