"""The ground floor: plain records that optimisers, analysis and reports read without importing training.

- :mod:`~autopeft.records.trial`: :class:`TrialResult` and :class:`Evaluation` (one trial, its curve);
- :mod:`~autopeft.records.objectives`: the objectives and their directions, declared once;
- :mod:`~autopeft.records.callbacks`: the callback types that cross layers (progress, early stopping);
- :mod:`~autopeft.records.io`: atomic file writes.

Nothing here imports another part of the project except :mod:`autopeft.errors` (itself a leaf).
"""

from autopeft.records.callbacks import Echo, Monitor, ProgressFn, StepFn, StopFn
from autopeft.records.io import atomic_write_bytes, atomic_write_text
from autopeft.records.objectives import (
    DEFAULT_OBJECTIVES,
    LOSS,
    MEMORY,
    OBJECTIVES,
    PARAMS,
    SCORE,
    TIME,
    Direction,
    Objective,
    parse_objectives,
)
from autopeft.records.trial import Evaluation, Status, TrialResult

__all__ = [
    "DEFAULT_OBJECTIVES",
    "LOSS",
    "MEMORY",
    "OBJECTIVES",
    "PARAMS",
    "SCORE",
    "TIME",
    "Direction",
    "Echo",
    "Evaluation",
    "Monitor",
    "Objective",
    "ProgressFn",
    "Status",
    "StepFn",
    "StopFn",
    "TrialResult",
    "atomic_write_bytes",
    "atomic_write_text",
    "parse_objectives",
]
