"""The search's trackers together, each one's failures kept from the search."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from autopeft.records.trial import TrialResult
from autopeft.tracking.base import SearchEnd, TrackedSearch, Tracker

T = TypeVar("T")

_log = logging.getLogger("autopeft.tracking")


def _warn(text: str) -> None:
    # a warning through logging: shown on stderr even by a quiet search, whose echo prints nothing
    _log.warning(text)


class Tracking:
    """Tells every tracker of a search what happens in it; a tracker that fails never fails the search.

    The first exception a tracker raises (its package broken, a server gone, a full disk) is warned
    about once, and that tracker is left out for the rest of this process: a tracker that fails once,
    say on a network timeout, would likely fail again and cost the search that time on every trial. Its
    trials stay in the ledger, and ``autopeft resume DIR`` logs the ones it lacks (:meth:`start`).

    Args:
        trackers: the trackers (see :func:`~autopeft.tracking.registry.make_trackers`).
        warn: where the one warning per failed tracker goes (default: the ``autopeft.tracking`` logger).
    """

    def __init__(self, trackers: Sequence[Tracker], warn: Callable[[str], None] = _warn) -> None:
        self.trackers = list(trackers)
        self.warn = warn
        self.failed: dict[str, str] = {}  # tracker name -> the first error it raised

    @property
    def active(self) -> list[Tracker]:
        """The trackers that have not failed."""
        return [t for t in self.trackers if t.name not in self.failed]

    def _guard(self, tracker: Tracker, doing: str, call: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """``call(*args)``; on an exception, warn once and leave ``tracker`` out. Returns whether it
        worked, and what it returned."""
        try:
            return True, call(*args)
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            error = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
            self.failed[tracker.name] = error
            self.warn(
                f"tracking to {tracker.name} failed while {doing} ({error}); the search goes on without it. "
                "Every trial is in the ledger: `autopeft resume DIR` logs the ones it lacks"
            )
            return False, None

    def start(
        self,
        search: TrackedSearch,
        finished: Sequence[TrialResult] = (),
        hypervolumes: Mapping[int, float] | None = None,
    ) -> None:
        """Start every tracker, then log to each the finished trials it does not hold yet.

        A resumed search so logs no trial twice, and a tracker added on resume (or one that failed in an
        earlier process) catches up with every trial of the ledger.

        Args:
            search: the search.
            finished: the trials the ledger holds, in the order they finished.
            hypervolumes: the search's hypervolume once each trial was recorded, by trial number.
        """
        hypervolumes = hypervolumes or {}
        for tracker in self.trackers:
            started, held = self._guard(tracker, "starting", tracker.start, search)
            if not started:
                continue
            for result in finished:
                if result.number in (held or set()):
                    continue
                hv = hypervolumes.get(result.number)
                if not self._guard(tracker, f"logging trial {result.number}", tracker.log_trial, result, hv)[0]:
                    break

    def log_trial(self, result: TrialResult, hypervolume: float | None) -> None:
        """Log one trial the search has just recorded to every tracker still working."""
        for tracker in self.active:
            self._guard(tracker, f"logging trial {result.number}", tracker.log_trial, result, hypervolume)

    def finish(self, files: Sequence[Path], end: SearchEnd) -> None:
        """Hand every tracker still working the report files that exist, and close it."""
        present = [Path(f) for f in files if Path(f).is_file()]
        for tracker in self.active:
            self._guard(tracker, "finishing", tracker.finish, present, end)

    def describe(self) -> str:
        """Where the working trackers write, for a progress line."""
        return "; ".join(t.where for t in self.active)
