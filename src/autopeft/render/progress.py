"""Live progress of a search on a terminal: a bar for the search and one for the running trial.

The search bar counts finished trials and shows the best score, the hypervolume and the time left
(tqdm's estimate from the trials so far); the trial bar counts the running trial's optimiser steps.
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
        self._trial: Any = None
        self._best: float | None = None

    def line(self, text: str) -> None:
        self._tqdm.write(text, file=self.stream)

    def trial_started(self, number: int, description: str, done: int, total: int) -> None:
        if self._search is None:
            self._search = self._tqdm(
                total=total, initial=done, desc=self.title, unit="trial", position=0, file=self.stream, leave=True
            )
        if self._trial is not None:
            self._trial.close()
        self._trial = self._tqdm(
            desc=f"  #{number} {description}", unit="step", position=1, file=self.stream, leave=False
        )

    def step(self, step: int, total: int) -> None:
        if self._trial is None:
            return
        if self._trial.total != total:
            self._trial.reset(total=total)
        self._trial.update(step - self._trial.n)

    def trial_finished(self, result: TrialResult, hypervolume: float | None) -> None:
        if self._trial is not None:
            self._trial.close()
            self._trial = None
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
        for bar in (self._trial, self._search):
            if bar is not None:
                bar.close()
        self._trial = self._search = None


def monitor_for(stream: IO[str] | None = None, *, quiet: bool = False, title: str = "search") -> LiveProgress | None:
    """Live bars when ``stream`` (stderr by default) is a terminal and not ``quiet``; else None (the
    search then prints plain lines, or nothing when quiet)."""
    stream = stream if stream is not None else sys.stderr
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return None
    return LiveProgress(stream, title)
