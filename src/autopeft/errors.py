"""Errors that reach the user.

A :class:`UserError` names the bad field, the value it had and how to fix it. The CLI prints it and
exits with status 2 before writing anything; library callers can catch it like any ``ValueError``.

The library names a setting by its field name (``train_examples``), never by a command-line flag: its
problem and fix name other settings in backticks, as `` `val_examples` `` or, with a value to use, as
`` `task_kind=classification` ``. The CLI shows each field, and each such name, as the flag that set
it (``--val-examples``, ``--task-kind classification``).
"""

from __future__ import annotations

from typing import Any


class UserError(ValueError):
    """Bad input from the user: names the field, the value and the fix.

    Args:
        field: the setting (by its field name, for example ``"train_examples"``), column or file that is
            wrong.
        value: the value it had.
        problem: what is wrong with it, as a sentence fragment.
        fix: what the user should do instead; other settings named in backticks (see the module).
    """

    def __init__(self, field: str, value: Any, problem: str, fix: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}={value!r}: {problem}. Fix: {fix}")


class TrialError(RuntimeError):
    """A single trial failed (NaN loss, out of memory, a configuration the model cannot take).

    The search records the trial as failed with this message and goes on.
    """


class SearchFailed(RuntimeError):
    """A search that cannot go on: every trial failed, or the last few failed with the same error.

    The CLI prints it and exits with status 1; what the ledger holds is kept, and the reports show it.
    """
