"""The optimiser interface: ``ask`` for configurations, ``tell`` results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from autopeft.records.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace


class Optimiser(ABC):
    """Proposes PEFT configurations from the results seen so far.

    Contract (every implementation keeps it; ``tests/optim`` checks it for each):

    - ``ask(n, pending)`` returns ``n`` configurations that are valid members of ``space``, distinct
      from each other, from every configuration told so far, and from ``pending`` (configurations
      being evaluated right now), unless the space has fewer such configurations left, in which case
      it returns as many as there are.
    - ``tell(results)`` accepts finished trials in any order, ``complete``, ``stopped`` or ``failed``, including
      trials of configurations this optimiser never proposed (a resumed search replays its ledger
      into a fresh optimiser). Failed trials carry no objective values; an optimiser must not stop
      or crash because of them.
    - The same seed and the same sequence of calls give the same proposals.

    Args:
        space: the search space.
        seed: seeds every random choice of the optimiser.
        objectives: the objectives and their directions.
    """

    def __init__(
        self, space: SearchSpace, seed: int = 0, objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES
    ) -> None:
        self.space = space
        self.seed = seed
        self.objectives = objectives
        self._seen: set[str] = set()
        self._fallbacks = 0

    @property
    def fallbacks(self) -> int:
        """Proposals so far that the optimiser's own method could not make and that were drawn at random
        instead (a sampler whose proposals the space kept rejecting, a model that failed). A random initial
        design that draws members directly (``gp``, ``saas``) never falls back; an Optuna sampler's random
        start-up proposals can, and count. A diagnostic: an optimiser that mostly falls back is random search."""
        return self._fallbacks

    @abstractmethod
    def ask(self, n: int = 1, pending: Sequence[PeftConfig] = ()) -> list[PeftConfig]:
        """``n`` new configurations (see the class contract)."""

    def tell(self, results: Sequence[TrialResult]) -> None:
        """Record finished trials (see the class contract)."""
        for result in results:
            config = PeftConfig.from_dict(result.config)
            self._seen.add(config.key())
            self._observe(config, result)

    @abstractmethod
    def _observe(self, config: PeftConfig, result: TrialResult) -> None:
        """Update the optimiser's state with one finished trial."""

    def objective_values(self, result: TrialResult) -> list[float] | None:
        """The result's objective values in ``self.objectives`` order, or None for a failed trial.

        A trial stopped early is told as if it had finished: its predicted final score in place of the
        score, and its training time scaled up to the whole budget; the model then neither mistakes
        its partial score for a final one nor loses the information that the configuration is weak.
        """
        if result.stopped:
            values = []
            for o in self.objectives:
                if o.attribute == "score":
                    values.append(float(result.predicted_score))
                elif o.attribute == "train_seconds":
                    values.append(float(result.train_seconds) / float(result.stopped_at))
                else:
                    values.append(float(getattr(result, o.attribute)))
            return values
        if not result.ok:
            return None
        return [float(getattr(result, o.attribute)) for o in self.objectives]
