"""The study ledger (Optuna storage) and the search loop."""

from autopeft.study.ledger import Ledger

__all__ = ["Ledger"]
