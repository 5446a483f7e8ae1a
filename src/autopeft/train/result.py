"""The record of one trial: what was trained, how it scored, what it cost."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["complete", "failed"]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation on the validation split during a trial.

    Args:
        step: optimiser steps done when evaluated (>= 1).
        epoch: epochs done, fractional (steps / steps per epoch).
        score: the task's main metric on the validation split (higher is better).
        metrics: every metric of the task on the validation split.
    """

    step: int
    epoch: float
    score: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialResult:
    """Everything recorded about one trial.

    Objectives (declared in :mod:`autopeft.objectives`): ``score`` (maximise) and ``params_pct`` (minimise).

    Args:
        config: the PEFT configuration as a JSON dict (see :class:`autopeft.space.PeftConfig`).
        status: ``"complete"`` or ``"failed"`` (then ``error`` says why and ``score`` is None).
        score: main metric on the validation split carved from the training data, after the last
            evaluation; None when failed.
        metric: name of the main metric (``"accuracy"``, ``"matthews"``, ``"spearman"``, ...).
        metrics: all metrics at the last evaluation.
        curve: every evaluation, in order.
        peft_params: trainable parameters of the PEFT modules as deployed (prefix-tuning's
            reparametrisation MLP ejected), counted on the built model; excludes the task head.
        peft_params_train: trainable PEFT parameters while training (with the prefix MLP).
        head_params: trainable parameters of the task head (pooler + classifier), counted apart.
        backbone_params: parameters of the pretrained backbone (no head, no PEFT modules).
        params_pct: ``100 * peft_params / backbone_params`` (percent; the parameter objective).
        seed: the trial's seed (data order, module initialisation).
        train_seconds: wall time of training (s), evaluations excluded.
        eval_seconds: wall time of all evaluations (s).
        tokens_per_second: non-padding training tokens per second of training.
        peak_memory_mb: peak resident memory of the process during the trial (MiB), or peak CUDA
            memory allocated when training on a GPU.
        error: why the trial failed, else None.
        proposal_seconds: wall time the optimiser took to propose the batch this trial came in (s);
            None when it was not proposed (a rerun of an interrupted trial, a trial outside a search).
        number: the trial's number in the study ledger (-1 when not run through a study).
    """

    config: dict[str, Any]
    status: Status
    score: float | None
    metric: str
    metrics: dict[str, float] = field(default_factory=dict)
    curve: tuple[Evaluation, ...] = ()
    peft_params: int = 0
    peft_params_train: int = 0
    head_params: int = 0
    backbone_params: int = 0
    params_pct: float = 0.0
    seed: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    tokens_per_second: float = 0.0
    peak_memory_mb: float = 0.0
    error: str | None = None
    proposal_seconds: float | None = None
    number: int = -1

    def __post_init__(self) -> None:
        if self.status not in ("complete", "failed"):
            raise ValueError(f"status={self.status!r}: must be 'complete' or 'failed'")
        if self.status == "complete" and (self.score is None or not math.isfinite(self.score)):
            raise ValueError(f"score={self.score!r}: a complete trial needs a finite score")

    @property
    def ok(self) -> bool:
        return self.status == "complete"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        data = dict(data)
        data["curve"] = tuple(Evaluation(**e) for e in data.get("curve", ()))
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrialResult:
        return cls.from_dict(json.loads(text))
