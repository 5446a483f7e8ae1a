"""Live progress of a search on a terminal: a bar for the search and one for each running trial.

The search bar counts finished trials and shows the best score, the hypervolume and the time left
(tqdm's estimate from the trials so far); a trial's bar counts its optimiser steps when they reach this
process (the local executor), else shows how long it has run (trials on Ray workers: one bar per slot).
The search's progress lines (proposals, outcomes) are written above the bars. When the output is not
a terminal the search prints plain lines instead (see :func:`monitor_for`), and ``quiet`` prints none.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from autopeft.records.objectives import score_gain
from autopeft.records.trial import TrialResult


class LiveProgress:
    """A :class:`~autopeft.records.callbacks.Monitor` drawing two tqdm bars on ``stream``.

    Args:
        stream: where the bars go (a terminal; stderr by default).
        title: the search bar's label.
    """

    def __init__(self, stream: IO[str] | None = None, title: str = "search") -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.stream = stream if stream is not None else sys.stderr
        self.title = title
        self._search: Any = None
        self._trials: dict[int, Any] = {}  # trial number -> its bar, while it runs
        self._latest: int | None = None  # the trial that step() counts: the one started last
        self._best: float | None = None

    def line(self, text: str) -> None:
        self._tqdm.write(text, file=self.stream)

    def trial_started(self, number: int, description: str, done: int, total: int) -> None:
        if self._search is None:
            self._search = self._tqdm(
                total=total, initial=done, desc=self.title, unit="trial", position=0, file=self.stream, leave=True
            )
        stale = self._trials.pop(number, None)  # a rerun of a trial whose bar is still up
        if stale is not None:
            stale.close()
        taken = {bar.pos for bar in self._trials.values()}
        position = next(p for p in range(1, len(self._trials) + 2) if p not in taken and -p not in taken)
        self._trials[number] = self._tqdm(
            desc=f"  #{number} {description}", unit="step", position=position, file=self.stream, leave=False
        )
        self._latest = number

    def step(self, step: int, total: int) -> None:
        bar = self._trials.get(self._latest) if self._latest is not None else None
        if bar is None:
            return
        if bar.total != total:
            bar.reset(total=total)
        bar.update(step - bar.n)

    def trial_finished(self, result: TrialResult, hypervolume: float | None) -> None:
        bar = self._trials.pop(result.number, None)
        if bar is not None:
            bar.close()
        if (
            result.ok
            and result.score is not None
            and (self._best is None or score_gain(result.score, result.metric) > score_gain(self._best, result.metric))
        ):
            self._best = result.score
        if self._search is not None:
            postfix = {"best": "-" if self._best is None else f"{self._best:.4f}"}
            if hypervolume is not None:
                postfix["HV"] = f"{hypervolume:.4f}"
            self._search.set_postfix(postfix, refresh=False)
            self._search.update(1)

    def close(self) -> None:
        for bar in [*self._trials.values(), self._search]:
            if bar is not None:
                bar.close()
        self._trials, self._search = {}, None


def monitor_for(stream: IO[str] | None = None, *, quiet: bool = False, title: str = "search") -> LiveProgress | None:
    """Live bars when ``stream`` (stderr by default) is a terminal and not ``quiet``; else None (the
    search then prints plain lines, or nothing when quiet)."""
    stream = stream if stream is not None else sys.stderr
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return None
    return LiveProgress(stream, title)
