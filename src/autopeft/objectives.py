"""The search objectives, declared once.

Every part of the project (optimisers, ledger, Pareto analysis, reports) reads directions from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class Objective:
    """One objective: the :class:`~autopeft.train.result.TrialResult` attribute it reads and its direction."""

    name: str
    attribute: str
    direction: Direction
    label: str


SCORE = Objective("score", "score", "maximize", "validation score")
PARAMS = Objective("params", "params_pct", "minimize", "trainable parameters (% of backbone)")

#: The default objectives of a search, in the order the ledger stores their values.
DEFAULT_OBJECTIVES: tuple[Objective, ...] = (SCORE, PARAMS)


def directions(objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES) -> list[Direction]:
    return [o.direction for o in objectives]
