"""Checks shared by the task tests."""

from __future__ import annotations

import pytest

from autopeft.errors import UserError


def check_user_error(err: pytest.ExceptionInfo[UserError], field: str, value: object, *fragments: str) -> None:
    """The error names ``field`` (as its field and in its message), shows ``value`` and every fragment."""
    assert err.value.field == field
    message = str(err.value)
    assert field in message and str(value) in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
