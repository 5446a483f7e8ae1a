"""Experiment tracking: a search's trials logged to the trackers ML engineers already use.

``report_to`` (``autopeft search --report-to mlflow,tensorboard``; the Hugging Face ``Trainer``'s
convention) names the backends; ``none``, the default, logs nowhere. Each backend is a
:class:`~autopeft.tracking.base.Tracker` registered by name in :data:`~autopeft.tracking.registry.TRACKERS`
and imports its package (``mlflow``, ``tensorboard``: the ``tracking`` extra) only when a search uses it.

- :mod:`~autopeft.tracking.base`: the :class:`Tracker` interface and the values every backend logs;
- :mod:`~autopeft.tracking.registry`: the backends by name, ``report_to`` parsed and checked;
- :mod:`~autopeft.tracking.fanout`: :class:`Tracking`, the search's trackers together, a failing one
  warned about once and left out (a tracker never fails or loses a search);
- :mod:`~autopeft.tracking.mlflow_tracker`, :mod:`~autopeft.tracking.tensorboard_tracker`: the backends.

Imports nothing of the project above :mod:`autopeft.records` (the study calls it, not the reverse).
"""

from autopeft.tracking.base import SearchEnd, TrackedSearch, Tracker
from autopeft.tracking.fanout import Tracking
from autopeft.tracking.registry import TRACKERS, Backend, check_installed, make_trackers, parse_report_to

__all__ = [
    "TRACKERS",
    "Backend",
    "SearchEnd",
    "TrackedSearch",
    "Tracker",
    "Tracking",
    "check_installed",
    "make_trackers",
    "parse_report_to",
]
