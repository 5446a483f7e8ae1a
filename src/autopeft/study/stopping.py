"""Early stopping that understands two objectives.

A trial's parameter count is known before it trains, so the only open question about it is its final
score. After each evaluation but the last, :class:`ParetoStopper` compares the trial's curve with the
curves of the completed trials of the same search (same budget, so the same evaluation steps):

- ``gains``: for every completed trial, its final score minus its score at this step;
- optimistic final = this trial's score now + the largest gain any completed trial made from this
  step on + ``margin`` (for the noise of a single evaluation; default 2 seed standard deviations of
  SST-2 at the demo budget, 2 x 0.014);
- the trial stops when a complete trial with at most its parameter count already scores more than
  that optimistic final: even the best learning curve seen so far could not bring it onto the front.

A trial that has not started to learn is not judged early: while its score is at most ``chance`` +
``margin`` (``chance``: the best score of a constant prediction on the examples the curve is scored
on, :func:`autopeft.tasks.constant_score`), it is not stopped before ``plateau_until`` of its steps.
Such a curve says nothing about the final score: in the first measurement on SST-2 (40 random
trials, an evaluation every quarter epoch, no such guard), 14 trials were stopped at the majority-class
plateau after a quarter of their steps, and 8 of them went on to 0.78-0.83 when trained to the end,
the best trial of the search among them.

Nothing stops before ``min_trials`` complete trials have curves. A stopped trial is recorded with its
partial curve (status ``stopped``); optimisers are told the score predicted for it, its score now
plus the median gain (:meth:`autopeft.optim.base.Optimiser.objective_values`); it never enters the
front or the hypervolume. The rule is conservative by construction: the largest observed gain, plus a
margin, against the front at equal or fewer parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from autopeft.records.callbacks import StopFn
from autopeft.records.trial import Evaluation, TrialResult
from autopeft.tasks import TaskSpec, constant_score
from autopeft.train.data import probe_indices

#: Default margin (score units): two seed standard deviations measured on SST-2 at the demo budget.
DEFAULT_MARGIN = 0.028
#: Complete trials with curves needed before any trial is stopped.
DEFAULT_MIN_TRIALS = 5
#: Fraction of its steps before which a trial at the constant-prediction plateau is never stopped.
DEFAULT_PLATEAU_UNTIL = 0.5


@dataclass(frozen=True)
class StopDecision:
    """Why a trial may stop at one step (for logs and tests).

    Args:
        step: the evaluation's step.
        score: the trial's score at that step.
        optimistic: score + largest gain + margin (the most the rule believes it could reach).
        predicted: score + median gain (told to the optimiser if it stops).
        blocking: score of the best complete trial with at most its parameters, or None.
        plateau: the trial is at the constant-prediction plateau too early to be judged.
        stop: whether it stops.
    """

    step: int
    score: float
    optimistic: float
    predicted: float
    blocking: float | None
    plateau: bool
    stop: bool


@dataclass
class ParetoStopper:
    """Stops trials whose learning curve cannot reach the Pareto front at their parameter count.

    Args:
        margin: score units added to the optimistic final (>= 0).
        min_trials: complete trials with a score at the same step needed before stopping (>= 1).
        chance: the best score of a constant prediction on the examples intermediate evaluations score
            (None: no plateau guard).
        plateau_until: fraction of its steps, in [0, 1], before which a trial scoring at most
            ``chance + margin`` is not stopped.
        nearest: take the gains of only the ``nearest`` complete trials whose score at this step was
            closest to this trial's (ties: earlier trials first), not of all of them: a curve at 0.70
            is then bounded by what curves near 0.70 went on to gain, not by a late jump from the
            plateau. None (the default) = all complete trials; at least ``min_trials``. Not exposed
            in the CLI: replayed on two recorded SST-2 searches (``bench/early_stopping.py replay``),
            ``nearest=5`` stopped more trials but lost two Pareto trials of one of them, where the
            gains of all complete trials lost none.
    """

    margin: float = DEFAULT_MARGIN
    min_trials: int = DEFAULT_MIN_TRIALS
    chance: float | None = None
    plateau_until: float = DEFAULT_PLATEAU_UNTIL
    nearest: int | None = None
    _curves: list[dict[int, float]] = field(default_factory=list)
    _finals: list[float] = field(default_factory=list)
    _front: list[tuple[float, float]] = field(default_factory=list)  # (params_pct, score) of complete trials

    def __post_init__(self) -> None:
        if not self.margin >= 0:
            raise ValueError(f"margin={self.margin}: must be >= 0")
        if self.min_trials < 1:
            raise ValueError(f"min_trials={self.min_trials}: must be >= 1")
        if not 0 <= self.plateau_until <= 1:
            raise ValueError(f"plateau_until={self.plateau_until}: must be in [0, 1]")
        if self.nearest is not None and self.nearest < self.min_trials:
            raise ValueError(f"nearest={self.nearest}: must be None or >= min_trials ({self.min_trials})")

    def update(self, results: Sequence[TrialResult]) -> None:
        """Learn from finished trials (complete ones only; stopped and failed trials are ignored)."""
        for result in results:
            if not result.ok or result.score is None:
                continue
            self._curves.append({e.step: e.score for e in result.curve})
            self._finals.append(float(result.score))
            self._front.append((float(result.params_pct), float(result.score)))

    def decide(self, params_pct: float, curve: Sequence[Evaluation], total_steps: int) -> StopDecision | None:
        """The decision after the last evaluation of ``curve`` for a trial of ``params_pct`` that trains
        ``total_steps`` steps; None when too few complete trials were evaluated at that step."""
        now = curve[-1]
        seen = [(c[now.step], final) for c, final in zip(self._curves, self._finals, strict=True) if now.step in c]
        if self.nearest is not None:
            seen = sorted(seen, key=lambda pair: abs(pair[0] - now.score))[: self.nearest]
        gains = [final - then for then, final in seen]
        if len(gains) < self.min_trials:
            return None
        optimistic = now.score + max(gains) + self.margin
        predicted = now.score + float(np.median(gains))
        better = [score for pct, score in self._front if pct <= params_pct]
        blocking = max(better) if better else None
        plateau = (
            self.chance is not None
            and now.score <= self.chance + self.margin
            and now.step < self.plateau_until * total_steps
        )
        return StopDecision(
            step=now.step,
            score=now.score,
            optimistic=optimistic,
            predicted=predicted,
            blocking=blocking,
            plateau=plateau,
            stop=not plateau and blocking is not None and blocking > optimistic,
        )

    def for_trial(self, params_pct: float) -> StopFn:
        """The stop function of one trial of ``params_pct`` (for :func:`autopeft.train.trainer.run_trial`)."""

        def should_stop(curve: Sequence[Evaluation], total_steps: int) -> float | None:
            decision = self.decide(params_pct, curve, total_steps)
            return decision.predicted if decision is not None and decision.stop else None

        return should_stop


def chance_level(spec: TaskSpec, val_labels: np.ndarray, probe_examples: int | None) -> float:
    """:attr:`ParetoStopper.chance` of a search: the best constant prediction's score on the
    validation examples its intermediate evaluations score (the probe of ``probe_examples`` of
    ``val_labels``, shape ``(n_val,)``)."""
    keep = probe_indices(len(val_labels), probe_examples)
    return constant_score(spec, val_labels if keep is None else np.asarray(val_labels)[keep])


def replay(trials: Sequence[TrialResult], stopper: ParetoStopper) -> list[TrialResult]:
    """What early stopping would have done to a search that ran without it.

    The trials are taken in the order given (numbered order for a sequential search); each one's
    curve is read evaluation by evaluation through ``stopper`` exactly as
    :func:`autopeft.train.trainer.run_trial` would have called it, and ``stopper`` learns from each
    finished trial as the search would have. For the random optimiser (its proposals do not depend on
    results) this is the search with early stopping, decision for decision; a model-based optimiser
    would have been told predicted scores and proposed other configurations.

    A trial that would have stopped comes back ``stopped``: its curve cut after that evaluation, its
    ``train_seconds`` and ``eval_seconds`` what it had spent by then (read from the curve's
    :class:`~autopeft.records.trial.Evaluation` timings, which must be recorded). The others come back
    unchanged.

    Args:
        trials: finished trials of a search without early stopping, with curves of two or more
            evaluations (the last at the trial's final step).
        stopper: a fresh rule (it is updated in place).

    Returns:
        One result per trial, in the same order.

    Raises:
        ValueError: a complete trial's curve lacks the timings.
    """
    out: list[TrialResult] = []
    for trial in trials:
        result = trial
        if trial.ok and len(trial.curve) > 1:
            if any(e.train_seconds is None or e.seconds is None for e in trial.curve):
                raise ValueError(f"trial {trial.number}: its curve has no timings (recorded before they existed)")
            total = trial.curve[-1].step
            should_stop = stopper.for_trial(float(trial.params_pct))
            for k in range(len(trial.curve) - 1):
                predicted = should_stop(trial.curve[: k + 1], total)
                if predicted is None:
                    continue
                now = trial.curve[k]
                result = replace(
                    trial,
                    status="stopped",
                    score=now.score,
                    metrics=now.metrics,
                    curve=trial.curve[: k + 1],
                    train_seconds=float(now.train_seconds),
                    eval_seconds=float(sum(e.seconds for e in trial.curve[: k + 1])),
                    predicted_score=float(predicted),
                    stopped_at=now.step / total,
                )
                break
        stopper.update([result])
        out.append(result)
    return out
