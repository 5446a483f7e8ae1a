"""The executor interface: run trial requests, yield results as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
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

    Two ways to drive it, which a caller does not mix while trials are in flight:

    - **batch**: :meth:`run` yields exactly one ``(request, result)`` pair per request, in the order
      they finish (which may differ from the order given).
    - **asynchronous**: :meth:`submit` hands over one request (at most :attr:`slots` may be in flight);
      :meth:`next_result` blocks until one of the submitted requests has finished and returns it with
      its result (each submitted request comes back exactly once, in the order they finish);
      :attr:`in_flight` is how many were submitted and have not come back. The search refills a slot
      as soon as :meth:`next_result` returns (:func:`autopeft.study.search.run`).

    In both, a failing trial comes back as a ``failed`` result; the executor never raises for it (a
    worker process that dies mid-trial included: an executor that runs trials in other processes
    retries such a trial and then reports it failed). ``KeyboardInterrupt`` propagates, leaving
    unfinished requests unreported: their trials stay RUNNING in the ledger, and a resumed search runs
    them again.

    The defaults here make any executor that implements :meth:`run` usable asynchronously: a submitted
    request runs, in this process, when :meth:`next_result` is called (so a one-slot executor behaves
    the same either way).

    :attr:`slots` is how many trials it runs at once. :attr:`asynchronous` says how the search drives
    it: True (an executor that implements :meth:`submit` and :meth:`next_result` itself, such as the
    Ray executor) keeps every slot busy, one new proposal per finished trial; False runs rounds of
    ``max(batch, slots)`` proposals through :meth:`run`.
    :meth:`close` releases what it holds (worker processes, a Ray instance it started); the search
    calls it once at the end, whatever the end.
    """

    slots: int = 1
    asynchronous: bool = False

    @abstractmethod
    def run(self, requests: Sequence[TrialRequest]) -> Iterator[tuple[TrialRequest, TrialResult]]:
        """Run ``requests``; yield each with its result as it finishes."""

    def submit(self, request: TrialRequest) -> None:
        """Hand over one request to run (see the class contract); never blocks on training."""
        if self.in_flight >= self.slots:
            raise RuntimeError(f"{self.in_flight} trial(s) in flight already fill the executor's {self.slots} slot(s)")
        self._queue().append(request)

    def next_result(self) -> tuple[TrialRequest, TrialResult]:
        """Block until a submitted request has finished; return it with its result.

        Raises:
            RuntimeError: nothing is in flight.
        """
        queue = self._queue()
        if not queue:
            raise RuntimeError("next_result() with no trial in flight")
        request = queue[0]
        # the request stays queued while it runs: an interrupt leaves it in flight, unreported
        ((done, result),) = list(self.run([request]))
        queue.popleft()
        return done, result

    @property
    def in_flight(self) -> int:
        """Requests submitted that have not come back from :meth:`next_result`."""
        return len(self._queue())

    def close(self) -> None:
        """Release what the executor holds; it runs nothing more afterwards. Safe to call twice."""
        return  # an in-process executor holds nothing to release

    def _queue(self) -> deque[TrialRequest]:
        # created lazily: subclasses need not call a base __init__
        queue = self.__dict__.get("_submitted")
        if queue is None:
            queue = self.__dict__["_submitted"] = deque()
        return queue
