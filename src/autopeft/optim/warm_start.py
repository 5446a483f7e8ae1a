"""Warm start: propose given configurations first (the Pareto fronts of earlier searches), then whatever
the wrapped optimiser proposes."""

from __future__ import annotations

from collections.abc import Sequence

from autopeft.optim.base import Optimiser
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig


class WarmStart(Optimiser):
    """An optimiser that asks ``first`` before ``inner``.

    ``ask(n, pending)`` returns, in their order, the configurations of ``first`` that are neither told
    nor pending, up to ``n``; ``inner`` proposes the rest, told that those are pending, so that it never
    proposes one of them. ``tell`` passes every result on to ``inner``, so a model-based optimiser fits
    on the warm-start trials as on any other, and its random initial design shrinks by as many (its
    ``init_trials`` counts told trials). The :class:`Optimiser` contract holds because ``inner`` keeps it
    and ``first`` holds distinct, valid members of the space.

    Args:
        inner: the search's optimiser.
        first: configurations to propose first, distinct members of ``inner.space``, in the order to run.

    Raises:
        ValueError: a configuration of ``first`` is not a valid member of the space, or repeats one.
    """

    def __init__(self, inner: Optimiser, first: Sequence[PeftConfig]) -> None:
        super().__init__(inner.space, inner.seed, inner.objectives)
        keys = [c.key() for c in first]
        if len(set(keys)) != len(keys):
            raise ValueError("warm-start configurations repeat one another")
        for config in first:
            if not inner.space.contains(config):
                raise ValueError(f"warm-start configuration {config.describe()} is not in the space")
        self.inner = inner
        self.first = tuple(first)

    def ask(self, n: int = 1, pending: Sequence[PeftConfig] = ()) -> list[PeftConfig]:
        blocked = self._seen | {c.key() for c in pending}
        chosen = [c for c in self.first if c.key() not in blocked][:n]
        if len(chosen) < n:
            chosen += self.inner.ask(n - len(chosen), pending=[*pending, *chosen])
        return chosen

    @property
    def fallbacks(self) -> int:
        """The wrapped optimiser's fallbacks (the warm-start configurations are not proposals of a method)."""
        return self.inner.fallbacks

    def tell(self, results: Sequence[TrialResult]) -> None:
        super().tell(results)
        self.inner.tell(results)

    def _observe(self, config: PeftConfig, result: TrialResult) -> None:
        return None  # the seen set is all this wrapper keeps; inner learns from the results
