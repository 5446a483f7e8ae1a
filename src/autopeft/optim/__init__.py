"""Optimisers: propose configurations (``ask``) and learn from results (``tell``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from autopeft.errors import UserError
from autopeft.optim.base import Optimiser
from autopeft.optim.optuna_samplers import OptunaOptimiser
from autopeft.records.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.space import PeftConfig, SearchSpace

if TYPE_CHECKING:
    from autopeft.analysis.hypervolume import ReferencePoint
    from autopeft.optim.botorch_gp import GPOptimiser
    from autopeft.optim.botorch_saas import MapSaasOptimiser, SaasOptimiser

#: ``--optimizer`` names; the first is the default.
OPTIMISERS = ("saas", "saas-map", "gp", "random", "nsga2", "tpe")

#: Optimisers that model the objectives and use the exact parameter objective of any configuration.
MODEL_BASED = ("saas", "saas-map", "gp")


def make_optimiser(
    name: str,
    space: SearchSpace,
    seed: int = 0,
    objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES,
    *,
    reference: ReferencePoint | Sequence[float],
    init_trials: int | None = None,
    param_fn: Callable[[PeftConfig], float] | None = None,
    threads: int | None = None,
) -> Optimiser:
    """The optimiser called ``name`` (one of :data:`OPTIMISERS`).

    ``reference`` is the hypervolume reference point the search is judged at (the study's own
    :class:`~autopeft.analysis.hypervolume.ReferencePoint`, or fixed values in the objectives' units):
    the model-based optimisers aim their acquisition at it. ``init_trials`` (random proposals before
    the model; default :data:`~autopeft.optim.botorch_gp.DEFAULT_INIT_TRIALS`), ``param_fn`` (exact
    ``params_pct`` of a configuration) and ``threads`` (JAX threads of ``saas``) concern the
    model-based optimisers only; Optuna's samplers ignore all four.
    """
    if name in ("random", "nsga2", "tpe"):
        return OptunaOptimiser(space, name, seed=seed, objectives=objectives)
    if name in MODEL_BASED:
        from autopeft.optim.botorch_gp import DEFAULT_INIT_TRIALS, GPOptimiser  # BoTorch loads in seconds

        init = DEFAULT_INIT_TRIALS if init_trials is None else init_trials
        common = {"objectives": objectives, "init_trials": init, "param_fn": param_fn, "reference": reference}
        if name == "gp":
            return GPOptimiser(space, seed=seed, **common)
        from autopeft.optim.botorch_saas import MapSaasOptimiser, SaasOptimiser

        if name == "saas-map":
            return MapSaasOptimiser(space, seed=seed, **common)
        return SaasOptimiser(space, seed=seed, threads=threads, **common)
    raise UserError("optimizer", name, "unknown optimiser", f"use one of {list(OPTIMISERS)}")


def __getattr__(name: str) -> Any:
    if name == "GPOptimiser":
        from autopeft.optim.botorch_gp import GPOptimiser

        return GPOptimiser
    if name in ("SaasOptimiser", "MapSaasOptimiser"):
        from autopeft.optim import botorch_saas

        return getattr(botorch_saas, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MODEL_BASED",
    "OPTIMISERS",
    "GPOptimiser",
    "MapSaasOptimiser",
    "Optimiser",
    "OptunaOptimiser",
    "SaasOptimiser",
    "make_optimiser",
]
