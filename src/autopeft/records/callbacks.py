"""The callback types that pass through the layers (progress lines, per-step progress, early stopping)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from autopeft.records.trial import Evaluation, TrialResult

#: Where a long job's progress lines go (``print`` by default, a list's ``append`` in tests).
Echo = Callable[[str], None]

#: Called after each evaluation of a trial with (step, total_steps, score).
ProgressFn = Callable[[int, int, float], None]

#: Called after every optimiser step of a trial with (step, total_steps): cheap, for live progress bars.
StepFn = Callable[[int, int], None]

#: Early stopping: called after each evaluation but the last with (curve so far, total steps); returns the
#: predicted final score to stop the trial now, else None (see :mod:`autopeft.study.stopping`).
StopFn = Callable[[Sequence[Evaluation], int], float | None]


class Monitor(Protocol):
    """Live progress of a search (bars on a terminal); the search calls it besides its progress lines.

    Contract: :meth:`trial_started` before a trial's first :meth:`step`, :meth:`trial_finished` once it
    is recorded; :meth:`line` is where the search's progress lines go while bars are shown.
    """

    def line(self, text: str) -> None: ...

    def trial_started(self, number: int, description: str, done: int, total: int) -> None: ...

    def step(self, step: int, total: int) -> None: ...

    def trial_finished(self, result: TrialResult, hypervolume: float | None) -> None: ...

    def close(self) -> None: ...
