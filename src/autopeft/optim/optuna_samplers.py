"""Optuna's samplers (random, NSGA-II, TPE) behind the project's :class:`Optimiser` interface.

Each optimiser keeps its own in-memory Optuna study over the encoded space (one integer parameter per
dimension, see :mod:`autopeft.space.space`). The search's ledger is a separate study, so proposals that
the space rejects (invalid or already-seen configurations) never reach the ledger: they are told to
the sampler's study as failed and asked again.

Validity is the space's own (``space.valid_indices`` of the proposed index row), so a space restricted to
some configurations (a benchmark's table of real trials) is searched within them: the sampler's
proposals are rejection-sampled among its members, and the fallback draws uniformly from them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import optuna
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from autopeft.optim.base import Optimiser
from autopeft.optim.grid import SCAN_LIMIT, grid_cells, valid_rows
from autopeft.records.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace

#: Proposals the sampler may make in a row that the space rejects before a random valid, unseen
#: configuration is drawn instead (only reached when a sampler has converged onto seen points).
MAX_REJECTIONS = 200

#: Spaces with at most this many valid configurations are enumerated (once) when that fallback is
#: needed, so that ``ask`` finds the last unseen configurations, or learns that none are left, exactly
#: and at once; larger spaces (and spaces whose grid is too large to scan,
#: :data:`~autopeft.optim.grid.SCAN_LIMIT`) fall back to rejection sampling.
ENUMERATE_LIMIT = 4096


def _sampler(name: str, seed: int, n_objectives: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)
    raise ValueError(f"unknown Optuna sampler {name!r}")


class OptunaOptimiser(Optimiser):
    """One of Optuna's samplers: ``"random"``, ``"nsga2"`` or ``"tpe"``.

    NSGA-II uses a population of 20 (Optuna's default of 50 exceeds many search budgets here).
    """

    def __init__(
        self,
        space: SearchSpace,
        sampler: str,
        seed: int = 0,
        objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES,
    ) -> None:
        super().__init__(space, seed, objectives)
        self.sampler_name = sampler
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._study = optuna.create_study(
            directions=[o.direction for o in objectives], sampler=_sampler(sampler, seed, len(objectives))
        )
        self._distributions = {d.name: IntDistribution(0, d.cardinality - 1) for d in space.dimensions}
        self._pending_trials: dict[str, int] = {}
        self._rng = np.random.default_rng(seed)
        self._all_configs: list[tuple[str, PeftConfig]] | None = None

    def _params(self, config: PeftConfig) -> dict[str, int]:
        vec = self.space.encode(config)
        return {d.name: int(v) for d, v in zip(self.space.dimensions, vec, strict=True)}

    def ask(self, n: int = 1, pending: Sequence[PeftConfig] = ()) -> list[PeftConfig]:
        taken = set(self._seen) | {c.key() for c in pending} | set(self._pending_trials)
        out: list[PeftConfig] = []
        for _ in range(n):
            if self._exhausted(taken):
                break  # nothing left to propose: spare the sampler MAX_REJECTIONS futile proposals
            config = None
            for _attempt in range(MAX_REJECTIONS):
                trial = self._study.ask(self._distributions)
                vec = [trial.params[d.name] for d in self.space.dimensions]
                candidate = self.space.decode(vec)
                if self._valid(vec) and candidate.key() not in taken:
                    config = candidate
                    self._pending_trials[candidate.key()] = trial.number
                    break
                self._study.tell(trial, state=TrialState.FAIL)
            if config is None:
                config = self._random_unseen(taken)
                if config is None:
                    break
                self._fallbacks += 1
            taken.add(config.key())
            out.append(config)
        return out

    def _valid(self, vec: Sequence[int]) -> bool:
        """Whether an encoded index row is a valid configuration of the space (the space's own rule)."""
        return bool(self.space.valid_indices(np.asarray(vec, dtype=np.int64))[0])

    def _enumerable(self) -> bool:
        """True when the space has few valid configurations (:data:`ENUMERATE_LIMIT`) in a grid small
        enough to scan."""
        return self.space.size <= ENUMERATE_LIMIT and grid_cells(self.space) <= SCAN_LIMIT

    def _enumerated(self) -> list[tuple[str, PeftConfig]]:
        """Every valid configuration of the (small) space with its key, in grid order, built once."""
        if self._all_configs is None:
            configs = (self.space.decode(row) for row in valid_rows(self.space))
            self._all_configs = [(c.key(), c) for c in configs]
        return self._all_configs

    def _exhausted(self, taken: set[str]) -> bool:
        """True when the space is small enough to enumerate and every configuration in it is taken."""
        if not self._enumerable() or len(taken) < self.space.size:
            return False
        return all(key in taken for key, _ in self._enumerated())

    def _random_unseen(self, taken: set[str]) -> PeftConfig | None:
        if self._enumerable():
            free = [c for key, c in self._enumerated() if key not in taken]
            return free[int(self._rng.integers(len(free)))] if free else None
        for _ in range(10_000):
            config = self.space.sample(self._rng)
            if config.key() not in taken:
                return config
        return None

    def _observe(self, config: PeftConfig, result: TrialResult) -> None:
        values = self.objective_values(result)
        number = self._pending_trials.pop(config.key(), None)
        if number is not None:
            if values is None:
                self._study.tell(number, state=TrialState.FAIL)
            else:
                self._study.tell(number, values)
            return
        frozen = create_trial(
            params=self._params(config),
            distributions=self._distributions,
            values=values,
            state=TrialState.COMPLETE if values is not None else TrialState.FAIL,
        )
        self._study.add_trial(frozen)
