"""Optimisers: propose configurations (``ask``) and learn from results (``tell``)."""

from __future__ import annotations

from autopeft.errors import UserError
from autopeft.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.optim.base import Optimiser
from autopeft.optim.optuna_samplers import OptunaOptimiser
from autopeft.space import SearchSpace

#: ``--optimizer`` names.
OPTIMISERS = ("random", "nsga2", "tpe")


def make_optimiser(
    name: str, space: SearchSpace, seed: int = 0, objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES
) -> Optimiser:
    """The optimiser called ``name`` (one of :data:`OPTIMISERS`)."""
    if name in ("random", "nsga2", "tpe"):
        return OptunaOptimiser(space, name, seed=seed, objectives=objectives)
    raise UserError("--optimizer", name, "unknown optimiser", f"use one of {list(OPTIMISERS)}")


__all__ = ["OPTIMISERS", "Optimiser", "OptunaOptimiser", "make_optimiser"]
