"""Executors run trials. ``local`` runs them in this process, one at a time; ``ray_executor`` runs
several at once on Ray (imported only when a Ray executor is made: Ray is an optional extra)."""

from autopeft.exec.base import Executor, TrialRequest
from autopeft.exec.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "TrialRequest"]
