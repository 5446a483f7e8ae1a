"""Non-dominated sorting and the data objects that reports draw (numpy only; no drawing here).

Directions come from :mod:`autopeft.records.objectives`: by default the score is maximised and the
trainable-parameter percentage (``params_pct``) is minimised.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autopeft.records.objectives import DEFAULT_OBJECTIVES, Direction, Objective, score_gain
from autopeft.records.trial import TrialResult

__all__ = [
    "ParetoFront",
    "StudySummary",
    "best_trial",
    "json_number",
    "objective_values",
    "pareto_mask",
    "short_error",
    "summarise",
]

#: Most booleans one block of pairwise comparisons may hold (bounds memory for large n).
_BLOCK_CELLS = 1 << 22


def pareto_mask(points: np.ndarray, directions: Sequence[Direction]) -> np.ndarray:
    """Which points are non-dominated.

    Point ``a`` dominates point ``b`` when ``a`` is at least as good as ``b`` in every objective and
    strictly better in at least one ("good" per column: larger for ``"maximize"``, smaller for
    ``"minimize"``). Equal points do not dominate each other, so every copy of a non-dominated point
    is kept.

    Args:
        points: array-like of shape ``(n, m)``: ``n`` points, ``m`` objective values each; ``n`` may
            be 0. Values may be ``±inf``, not NaN.
        directions: ``m`` directions, ``"maximize"`` or ``"minimize"``, one per column.

    Returns:
        Boolean array of shape ``(n,)``, True where the point is non-dominated.

    Raises:
        ValueError: ``points`` is not 2-D, has NaN, or its column count differs from ``len(directions)``;
            a direction is unknown.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2:
        raise ValueError(f"points has shape {pts.shape}: expected (n, m)")
    n, m = pts.shape
    if len(directions) != m:
        raise ValueError(f"{len(directions)} directions for {m} objective columns")
    signs = np.empty(m)
    for k, direction in enumerate(directions):
        if direction == "maximize":
            signs[k] = -1.0
        elif direction == "minimize":
            signs[k] = 1.0
        else:
            raise ValueError(f"directions[{k}]={direction!r}: must be 'maximize' or 'minimize'")
    if n == 0:
        return np.zeros(0, dtype=bool)
    if np.isnan(pts).any():
        rows = np.flatnonzero(np.isnan(pts).any(axis=1)).tolist()
        raise ValueError(f"points has NaN in rows {rows[:10]}: drop or repair them first")

    costs = pts * signs  # every column now minimised
    mask = np.empty(n, dtype=bool)
    block = max(1, _BLOCK_CELLS // max(1, n * m))
    for start in range(0, n, block):
        rows = costs[start : start + block, None, :]  # (b, 1, m): the points tested
        others = costs[None, :, :]  # (1, n, m): the candidates that might dominate them
        weakly_better = (others <= rows).all(axis=2)  # (b, n)
        strictly_better = (others < rows).any(axis=2)  # (b, n)
        mask[start : start + block] = ~(weakly_better & strictly_better).any(axis=1)
    return mask


def objective_values(trials: Sequence[TrialResult], objectives: Sequence[Objective]) -> np.ndarray:
    """The objective values of ``trials`` as an array of shape ``(len(trials), len(objectives))``.

    Column ``k`` reads attribute ``objectives[k].attribute`` of each trial.

    Raises:
        ValueError: a value is missing (None) or not a number.
    """
    values = np.empty((len(trials), len(objectives)), dtype=float)
    for i, trial in enumerate(trials):
        for k, objective in enumerate(objectives):
            value = getattr(trial, objective.attribute)
            try:
                values[i, k] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"trial {trial.number}: {objective.attribute}={value!r} is not a number") from None
    return values


def json_number(value: float | int | None) -> float | int | None:
    """A number as strict JSON allows it: NaN and infinities become None."""
    if value is None or isinstance(value, int):
        return value
    value = float(value)
    return value if math.isfinite(value) else None


def _front_order(trial: TrialResult) -> tuple[float, float, int]:
    """Sort key: params % ascending, then score from best to worst (a loss ascending), then trial number."""
    gain = score_gain(trial.score, trial.metric) if trial.score is not None else -math.inf
    return (trial.params_pct, -gain, trial.number)


@dataclass(frozen=True)
class ParetoFront:
    """The non-dominated complete trials of a study.

    Args:
        trials: the non-dominated complete trials, sorted by ``params_pct`` ascending (ties: score
            descending, then trial number).
        objectives: the objectives (and so directions) dominance was judged on.
    """

    trials: tuple[TrialResult, ...]
    objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES

    @classmethod
    def from_trials(
        cls, trials: Iterable[TrialResult], objectives: Sequence[Objective] = DEFAULT_OBJECTIVES
    ) -> ParetoFront:
        """The front of ``trials``; failed trials are ignored.

        Raises:
            ValueError: a complete trial has a missing or NaN objective value.
        """
        objectives = tuple(objectives)
        complete = [t for t in trials if t.ok]
        values = objective_values(complete, objectives)
        mask = pareto_mask(values, [o.direction for o in objectives])
        front = sorted((t for t, keep in zip(complete, mask, strict=True) if keep), key=_front_order)
        return cls(trials=tuple(front), objectives=objectives)

    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self) -> Iterator[TrialResult]:
        return iter(self.trials)

    @property
    def numbers(self) -> tuple[int, ...]:
        """Trial numbers of the front, in front order."""
        return tuple(t.number for t in self.trials)

    def values(self) -> np.ndarray:
        """Objective values of the front, shape ``(len(self), len(self.objectives))``."""
        return objective_values(self.trials, self.objectives)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the front (strict JSON: non-finite numbers become null).

        Returns:
            ``{"objectives": [{name, attribute, direction, label}, ...], "trials": [entry, ...]}``
            where each entry has ``rank`` (0-based position in the front, fewest parameters first),
            ``number``, ``config``, ``score``, ``metric``, ``metrics``, ``peft_params``,
            ``head_params``, ``backbone_params``, ``params_pct`` and ``train_seconds``.
        """
        entries = [
            {
                "rank": rank,
                "number": t.number,
                "config": t.config,
                "score": json_number(t.score),
                "metric": t.metric,
                "metrics": {k: json_number(v) for k, v in t.metrics.items()},
                "peft_params": t.peft_params,
                "head_params": t.head_params,
                "backbone_params": t.backbone_params,
                "params_pct": json_number(t.params_pct),
                "train_seconds": json_number(t.train_seconds),
            }
            for rank, t in enumerate(self.trials)
        ]
        objectives = [
            {"name": o.name, "attribute": o.attribute, "direction": o.direction, "label": o.label}
            for o in self.objectives
        ]
        return {"objectives": objectives, "trials": entries}


def short_error(error: str | None, width: int = 80) -> str:
    """First non-empty line of an error, whitespace collapsed, cut to ``width`` characters (``...``
    marks a cut). Failures are grouped by it, and tables show it in place of a whole traceback."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    text = " ".join(lines[0].split()) if lines else "unknown error"
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass(frozen=True)
class StudySummary:
    """What a report of a study shows: counts, the best trial, the front, the failures.

    Args:
        trials: every trial, in the order given to :func:`summarise`.
        front: the Pareto front of the complete trials.
        best: the complete trial with the highest score (ties: fewer parameters, then lower
            number), or None when no trial completed.
        metric: name of the main metric (of the best trial), or None when no trial completed.
        failures: distinct errors of failed trials (first line, shortened) with their counts, most
            frequent first.
        train_seconds: training time of all trials together (s).
    """

    trials: tuple[TrialResult, ...]
    front: ParetoFront
    best: TrialResult | None
    metric: str | None
    failures: tuple[tuple[str, int], ...]
    train_seconds: float

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return self.front.objectives

    @property
    def n_total(self) -> int:
        return len(self.trials)

    @property
    def n_complete(self) -> int:
        return sum(1 for t in self.trials if t.ok)

    @property
    def n_failed(self) -> int:
        return sum(1 for t in self.trials if t.status == "failed")

    @property
    def n_stopped(self) -> int:
        """Trials ended early by early stopping."""
        return sum(1 for t in self.trials if t.stopped)

    @property
    def complete(self) -> tuple[TrialResult, ...]:
        """The complete trials, in the order given."""
        return tuple(t for t in self.trials if t.ok)

    @property
    def best_score(self) -> float | None:
        return None if self.best is None else self.best.score

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, best trial (number, score, params %), failures, front."""
        best = None
        if self.best is not None:
            best = {
                "number": self.best.number,
                "score": json_number(self.best.score),
                "params_pct": json_number(self.best.params_pct),
                "config": self.best.config,
            }
        return {
            "n_total": self.n_total,
            "n_complete": self.n_complete,
            "n_failed": self.n_failed,
            "n_stopped": self.n_stopped,
            "metric": self.metric,
            "best": best,
            "train_seconds": json_number(self.train_seconds),
            "failures": [{"error": error, "count": count} for error, count in self.failures],
            "front": self.front.to_dict(),
        }


def best_trial(trials: Iterable[TrialResult]) -> TrialResult | None:
    """The complete trial with the best score (the highest; the lowest loss, :func:`score_gain`; ties:
    fewer parameters, then the lower number), or None when no trial completed."""
    complete = [t for t in trials if t.ok]
    if not complete:
        return None
    return min(complete, key=lambda t: (-score_gain(t.score or 0.0, t.metric), t.params_pct, t.number))


def summarise(trials: Iterable[TrialResult], objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> StudySummary:
    """Summarise a study's trials (complete and failed) for reports."""
    trials = tuple(trials)
    complete = [t for t in trials if t.ok]
    best = best_trial(complete)
    failures = Counter(short_error(t.error) for t in trials if t.status == "failed")
    return StudySummary(
        trials=trials,
        front=ParetoFront.from_trials(complete, objectives),
        best=best,
        metric=None if best is None else best.metric,
        failures=tuple(sorted(failures.items(), key=lambda item: (-item[1], item[0]))),
        train_seconds=float(sum(t.train_seconds for t in trials)),
    )
