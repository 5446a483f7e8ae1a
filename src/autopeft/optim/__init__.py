"""Optimisers: propose configurations (``ask``) and learn from results (``tell``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autopeft.errors import UserError
from autopeft.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.optim.base import Optimiser
from autopeft.optim.optuna_samplers import OptunaOptimiser
from autopeft.space import PeftConfig, SearchSpace

if TYPE_CHECKING:
    from autopeft.optim.botorch_gp import GPOptimiser

#: ``--optimizer`` names.
OPTIMISERS = ("random", "nsga2", "tpe", "gp")


def make_optimiser(
    name: str,
    space: SearchSpace,
    seed: int = 0,
    objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES,
    *,
    init_trials: int | None = None,
    param_fn: Callable[[PeftConfig], float] | None = None,
) -> Optimiser:
    """The optimiser called ``name`` (one of :data:`OPTIMISERS`).

    ``init_trials`` (random proposals before the model; default
    :data:`~autopeft.optim.botorch_gp.DEFAULT_INIT_TRIALS`) and ``param_fn`` (exact ``params_pct`` of a
    configuration) concern the model-based optimisers only; the others ignore them.
    """
    if name in ("random", "nsga2", "tpe"):
        return OptunaOptimiser(space, name, seed=seed, objectives=objectives)
    if name == "gp":
        from autopeft.optim.botorch_gp import DEFAULT_INIT_TRIALS, GPOptimiser  # BoTorch loads in seconds

        init = DEFAULT_INIT_TRIALS if init_trials is None else init_trials
        return GPOptimiser(space, seed=seed, objectives=objectives, init_trials=init, param_fn=param_fn)
    raise UserError("--optimizer", name, "unknown optimiser", f"use one of {list(OPTIMISERS)}")


def __getattr__(name: str) -> Any:
    if name == "GPOptimiser":
        from autopeft.optim.botorch_gp import GPOptimiser

        return GPOptimiser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OPTIMISERS", "GPOptimiser", "Optimiser", "OptunaOptimiser", "make_optimiser"]
