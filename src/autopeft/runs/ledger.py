"""The results ledger of full-fidelity runs: one JSON line per finished run, appended and synced."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from autopeft.methods import Method
from autopeft.records.trial import TrialResult
from autopeft.tasks.registry import known_task_kind
from autopeft.train.budget import Budget

RESULTS_FILE = "results.jsonl"

#: What a run is for in a report: a configuration found by AutoPEFT, or a comparison method.
Role = Literal["autopeft", "baseline"]


@dataclass(frozen=True)
class RunSpec:
    """One full-fidelity run: ``method`` trained on ``task`` with ``seed`` within ``budget``, scored on
    the task's dev split.

    Args:
        model: ``--model`` value.
        task: task name (``glue/rte``, ...).
        method: what is trained.
        seed: seeds module initialisation, the head and the data order.
        budget: training budget; its learning rate is replaced by the method's own when it has one.
        role: ``"autopeft"`` or ``"baseline"`` (how the report shows it).
        data_seed: seeds the draw of the training subset (the same for every seed of a method, so
            that the seed spread is that of training, not of the data).
        source_task: the task the method was found on (transfer), or None.
    """

    model: str
    task: str
    method: Method
    seed: int
    budget: Budget
    role: Role = "baseline"
    data_seed: int = 0
    source_task: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ("autopeft", "baseline"):
            raise ValueError(f"role={self.role!r}: must be 'autopeft' or 'baseline'")

    @property
    def effective_budget(self) -> Budget:
        """The budget the run trains with (the method's learning rate, when it has one)."""
        if self.method.learning_rate is None:
            return self.budget
        return dataclasses.replace(self.budget, learning_rate=self.method.learning_rate)

    @property
    def key(self) -> str:
        """Identifies the run: equal keys = the same experiment (labels and provenance excluded)."""
        method = self.method.to_dict()
        for cosmetic in ("label", "source"):
            method.pop(cosmetic)
        budget = self.effective_budget.to_dict()
        # added after ledgers existed, and no run's score depends on it: absent, keys stay as they were
        if budget["probe_examples"] is None:
            del budget["probe_examples"]
        # also added later, and it changes nothing for a classification task: keys of classification
        # runs, and of runs on raw targets, stay as they were (a local task's kind is not known here)
        if not budget["standardise_targets"] or known_task_kind(self.task) == "classification":
            del budget["standardise_targets"]
        # added with the current stack; at their defaults keys stay as they were
        for name, default in (("dtype", "fp32"), ("gradient_checkpointing", False)):
            if budget.get(name) == default:
                del budget[name]
        payload = {
            "model": self.model,
            "task": self.task,
            "method": method,
            "seed": self.seed,
            "budget": budget,
            "data_seed": self.data_seed,
        }
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "method": self.method.to_dict(),
            "seed": self.seed,
            "budget": self.budget.to_dict(),
            "role": self.role,
            "data_seed": self.data_seed,
            "source_task": self.source_task,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        data["method"] = Method.from_dict(data["method"])
        data["budget"] = Budget.from_dict(data["budget"])
        return cls(**data)


@dataclass(frozen=True)
class RunRecord:
    """A finished run: its spec, its result (score on the dev split, measured parameters, times) and
    where its trained adapters were saved (None when not saved).

    Args:
        spec: the run.
        result: the run's :class:`~autopeft.records.trial.TrialResult` (``score`` = the dev metric at
            the end of training; no checkpoint is chosen on the dev split).
        finished: ISO-8601 UTC time it finished.
        saved: folder of the saved adapters, relative to the ledger's folder, or None.
    """

    spec: RunSpec
    result: TrialResult
    finished: str
    saved: str | None = None

    @property
    def key(self) -> str:
        return self.spec.key

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "spec": self.spec.to_dict(),
            "result": self.result.to_dict(),
            "finished": self.finished,
            "saved": self.saved,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        return cls(
            spec=RunSpec.from_dict(data["spec"]),
            result=TrialResult.from_dict(data["result"]),
            finished=data["finished"],
            saved=data.get("saved"),
        )

    @classmethod
    def now(cls, spec: RunSpec, result: TrialResult, saved: str | None = None) -> RunRecord:
        return cls(
            spec=spec, result=result, finished=datetime.now(timezone.utc).isoformat(timespec="seconds"), saved=saved
        )


class ResultsLedger:
    """``DIR/results.jsonl``: append-only; a record is on disk (flushed and synced) once ``append``
    returns. A line cut short by a crash is skipped with a warning when read, never fatal.

    When one key appears more than once (a failed run tried again), the last record counts.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / RESULTS_FILE

    def records(self) -> list[RunRecord]:
        """The latest record of every key, in the order keys first appeared."""
        if not self.path.is_file():
            return []
        latest: dict[str, RunRecord] = {}
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = RunRecord.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                warnings.warn(f"{self.path}:{number}: unreadable record skipped ({exc})", UserWarning, stacklevel=2)
                continue
            latest[record.key] = record
        return list(latest.values())

    def completed_keys(self) -> set[str]:
        """Keys of the runs that finished successfully (failed runs are run again)."""
        return {r.key for r in self.records() if r.result.ok}

    def append(self, record: RunRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record.to_dict(), sort_keys=True)
        with self.path.open("a+", encoding="utf-8") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(fh.tell() - 1)
                if fh.read(1) != "\n":  # a line cut short by a crash: start a fresh one
                    fh.write("\n")
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def read_records(directories: list[str | Path]) -> list[RunRecord]:
    """The records of several ledgers (directories holding ``results.jsonl``), latest per key."""
    merged: dict[str, RunRecord] = {}
    for directory in directories:
        for record in ResultsLedger(directory).records():
            merged[record.key] = record
    return list(merged.values())
