"""Fixtures of the full-fidelity run tests: a tiny search on real SuperGLUE CB (it has a dev split)."""

from __future__ import annotations

import pytest

from autopeft.train.budget import Budget

#: A budget that trains a tiny model in about a second.
TINY_BUDGET = Budget(train_examples=24, epochs=1, max_length=16, batch_size=8, eval_batch_size=64)


@pytest.fixture
def tiny_budget() -> Budget:
    return TINY_BUDGET
