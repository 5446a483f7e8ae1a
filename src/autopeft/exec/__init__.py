"""Executors run trials. ``local`` runs them in this process, one at a time."""

from autopeft.exec.base import Executor, TrialRequest
from autopeft.exec.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "TrialRequest"]
