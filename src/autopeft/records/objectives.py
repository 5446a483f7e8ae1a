"""The search objectives, declared once.

Every part of the project (optimisers, ledger, Pareto analysis, reports) reads directions from here.
A search optimises ``score`` and ``params`` (the default, :data:`DEFAULT_OBJECTIVES`), optionally with
one measured cost as a third objective (``--objectives score,params,time``): see :func:`parse_objectives`.
A causal-LM search scored by its validation loss optimises ``loss`` (minimised) in place of ``score``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from autopeft.errors import UserError

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class Objective:
    """One objective: the :class:`~autopeft.records.trial.TrialResult` attribute it reads and its direction.

    Args:
        name: the name used on the command line and in the ledger.
        attribute: the :class:`~autopeft.records.trial.TrialResult` attribute holding its value.
        direction: ``maximize`` or ``minimize``.
        label: axis label with units.
        log_scale: positive values spanning orders of magnitude; models see their logarithm.
    """

    name: str
    attribute: str
    direction: Direction
    label: str
    log_scale: bool = False


SCORE = Objective("score", "score", "maximize", "validation score")
#: A causal-LM task's validation loss (:mod:`autopeft.train.lm`), the score of a search that scores
#: by loss: it reads the same record attribute as ``score`` (a trial's score is its loss) and is minimised.
LOSS = Objective("loss", "score", "minimize", "validation loss (nats/token)")
PARAMS = Objective("params", "params_pct", "minimize", "trainable parameters (% of backbone)", log_scale=True)
TIME = Objective("time", "train_seconds", "minimize", "training time per trial (s)", log_scale=True)
MEMORY = Objective("memory", "peak_memory_mb", "minimize", "peak memory (MiB)")

#: The default objectives of a search, in the order the ledger stores their values.
DEFAULT_OBJECTIVES: tuple[Objective, ...] = (SCORE, PARAMS)

#: Every objective by name.
OBJECTIVES: dict[str, Objective] = {o.name: o for o in (SCORE, LOSS, PARAMS, TIME, MEMORY)}

#: The objectives that may come first: the task's score (higher is better) or a causal-LM loss.
SCORES = ("score", "loss")
#: The metric (:attr:`~autopeft.records.trial.TrialResult.metric`) whose score is the ``loss`` objective.
LOSS_METRIC = "loss"


def score_objective(metric: str | None) -> Objective:
    """The objective a trial's score is, by its metric: :data:`LOSS` (minimised) for ``loss``, else
    :data:`SCORE` (maximised). What ranks trials by score reads the direction here."""
    return LOSS if metric == LOSS_METRIC else SCORE


def score_gain(score: float, metric: str | None) -> float:
    """``score`` oriented so that higher is better (a loss is negated)."""
    return score if score_objective(metric).direction == "maximize" else -score


#: Measured costs that may join the default objectives as a third one.
COSTS = ("time", "memory")


def parse_objectives(text: str | tuple[str, ...] | list[str]) -> tuple[Objective, ...]:
    """``"score,params"`` (the default) or ``"score,params,time"`` / ``"score,params,memory"``; a
    causal-LM search scored by its validation loss has ``loss`` in place of ``score``.

    The score and the parameter share always come first (reports plot them against each other); a
    measured cost (training time of the trial at the search's budget, or peak memory) may follow.

    Raises:
        UserError: any other list.
    """
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [str(n) for n in text]
    allowed = [f"{first},params{cost}" for first in SCORES for cost in ("", *(f",{c}" for c in COSTS))]
    if ",".join(names) not in allowed:
        raise UserError("objectives", ",".join(names), "is not a supported list", f"use one of {allowed}")
    return tuple(OBJECTIVES[n] for n in names)
