"""The executor interface: run trial requests, yield results as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig


@dataclass(frozen=True)
class TrialRequest:
    """One trial to run: the ledger's trial number, the configuration and the seed."""

    number: int
    config: PeftConfig
    seed: int


class Executor(ABC):
    """Runs trials.

    Contract: :meth:`run` yields exactly one ``(request, result)`` pair per request, in the order
    they finish (which may differ from the order given). A failing trial yields a ``failed`` result;
    it never raises for it. ``KeyboardInterrupt`` propagates, leaving unfinished requests unreported.
    :attr:`slots` is how many trials it runs at once (the search asks the optimiser for that many).
    """

    slots: int = 1

    @abstractmethod
    def run(self, requests: Sequence[TrialRequest]) -> Iterator[tuple[TrialRequest, TrialResult]]:
        """Run ``requests``; yield each with its result as it finishes."""
