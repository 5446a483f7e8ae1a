"""The record of one trial: what was trained, how it scored, what it cost."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["complete", "failed", "stopped"]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation on the validation split during a trial.

    Args:
        step: optimiser steps done when evaluated (>= 1).
        epoch: epochs done, fractional (steps / steps per epoch).
        score: the task's main metric on the validation split (higher is better; a loss lower).
        metrics: every metric of the task on the validation split.
        examples: validation examples scored: fewer than all of them for an evaluation before the last
            when the budget sets ``probe_examples``; None in records made before probes existed (all).
        train_seconds: seconds of training done when evaluated (cumulative, evaluations excluded).
        seconds: seconds this evaluation took.

    The two timings let a trial's cost up to any evaluation be read from its curve (what stopping it
    there would have cost); None in records made before they existed.
    """

    step: int
    epoch: float
    score: float
    metrics: dict[str, float] = field(default_factory=dict)
    examples: int | None = None
    train_seconds: float | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class TrialResult:
    """Everything recorded about one trial.

    Objectives (declared in :mod:`autopeft.records.objectives`): ``score`` (maximise; a causal-LM
    search by loss reads it as ``loss``, minimised) and ``params_pct`` (minimise).

    Args:
        config: the PEFT configuration as a JSON dict (see :class:`autopeft.space.PeftConfig`).
        status: ``"complete"``, ``"failed"`` (then ``error`` says why and ``score`` is None) or
            ``"stopped"`` (early stopping ended it: its learning curve could not reach the Pareto front
            at its parameter count; ``score`` is its last evaluation, ``predicted_score`` what it was
            expected to reach). Only complete trials enter the Pareto front and the hypervolume.
        score: main metric on the validation split carved from the training data, after the last
            evaluation; None when failed. Higher is better except for the metric ``loss`` (a causal-LM
            validation loss, :func:`~autopeft.records.objectives.score_objective`).
        metric: name of the main metric (``"accuracy"``, ``"matthews"``, ``"spearman"``, ``"loss"``, ...).
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
        predicted_score: stopped trials: the final score predicted from its curve (what optimisers
            are told in place of ``score``); None otherwise.
        stopped_at: stopped trials: the fraction of the trial's steps done when it stopped, in (0, 1).
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
    predicted_score: float | None = None
    stopped_at: float | None = None

    def __post_init__(self) -> None:
        if self.status not in ("complete", "failed", "stopped"):
            raise ValueError(f"status={self.status!r}: must be 'complete', 'failed' or 'stopped'")
        if self.status != "failed" and (self.score is None or not math.isfinite(self.score)):
            raise ValueError(f"score={self.score!r}: a {self.status} trial needs a finite score")
        if self.status == "stopped" and (
            self.predicted_score is None
            or not math.isfinite(self.predicted_score)
            or self.stopped_at is None
            or not 0 < self.stopped_at < 1
        ):
            raise ValueError("a stopped trial needs a finite predicted_score and stopped_at in (0, 1)")

    @property
    def ok(self) -> bool:
        """Complete: trained to the end of its budget (stopped and failed trials are not)."""
        return self.status == "complete"

    @property
    def stopped(self) -> bool:
        return self.status == "stopped"

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
