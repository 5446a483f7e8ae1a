"""The callback types that pass through the layers (progress lines, per-step progress, early stopping)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from autopeft.records.trial import Evaluation

#: Where a long job's progress lines go (``print`` by default, a list's ``append`` in tests).
Echo = Callable[[str], None]

#: Called after each evaluation of a trial with (step, total_steps, score).
ProgressFn = Callable[[int, int, float], None]

#: Early stopping: called after each evaluation but the last with (curve so far, total steps); returns the
#: predicted final score to stop the trial now, else None (see :mod:`autopeft.study.stopping`).
StopFn = Callable[[Sequence[Evaluation], int], float | None]
