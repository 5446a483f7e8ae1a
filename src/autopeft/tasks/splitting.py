"""Carving a held-out validation slice and a training budget out of a training split.

The search selects configurations on a validation slice carved from the *training* data, never on
the reporting (dev) split, so that the reported dev score is not the one that was maximised.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.model_selection import train_test_split

from autopeft.errors import UserError
from autopeft.tasks.spec import Split


def split_train_val(
    split: Split, *, train_examples: int | None, val_examples: int, seed: int, stratify: bool
) -> tuple[Split, Split]:
    """Split ``split`` into disjoint (train, val) parts.

    First ``val_examples`` examples are drawn for validation; then ``train_examples`` examples
    (``None`` = all the rest) are drawn for training from what is left. Both draws use sklearn's
    ``train_test_split`` with ``random_state=seed``, so the result is a pure function of
    (split, sizes, seed), and the validation slice does not depend on ``train_examples``.

    Args:
        split: the examples to divide, ``n`` of them.
        train_examples: size of the training part (``>= 1``), or ``None`` for all ``n - val_examples``.
        val_examples: size of the validation part (``>= 1``).
        seed: random seed of both draws.
        stratify: keep class proportions in both draws. Applies to classification splits (integer
            labels) only; regression splits are drawn uniformly. When a class is too rare for a
            stratified draw (fewer than 2 members, or fewer examples drawn than there are classes)
            the draw falls back to a uniform one and a ``UserWarning`` says so.

    Returns:
        ``(train, val)`` with ``len(train) == train_examples`` (or ``n - val_examples``) and
        ``len(val) == val_examples``; no example is in both.

    Raises:
        UserError: a size below 1, or more examples asked for than the split holds.
    """
    n = len(split)
    if not _is_int(val_examples) or val_examples < 1:
        raise UserError("val_examples", val_examples, "must be a whole number of at least 1", "use e.g. 500")
    if train_examples is not None and (not _is_int(train_examples) or train_examples < 1):
        raise UserError(
            "train_examples",
            train_examples,
            "must be a whole number of at least 1",
            "use e.g. 2000, or leave it out to train on all examples not held out",
        )
    if val_examples >= n:
        raise UserError(
            "val_examples",
            val_examples,
            f"leaves no training examples: the training split has only {n} examples",
            f"use at most {n - 1}",
        )
    left = n - val_examples
    if train_examples is not None and train_examples > left:
        raise UserError(
            "train_examples",
            train_examples,
            f"is more than the {left} examples left after holding out {val_examples} for validation "
            f"(the training split has {n})",
            f"use at most {left}, lower `val_examples`, or leave `train_examples` out to use all",
        )
    strat = stratify and np.issubdtype(split.labels.dtype, np.integer)
    rest, val = _draw(np.arange(n, dtype=np.int64), split.labels, int(val_examples), seed, strat)
    if train_examples is None or train_examples == len(rest):
        train = rest
    else:
        _, train = _draw(rest, split.labels[rest], int(train_examples), seed, strat)
    return split.subset(train), split.subset(val)


def subsample(split: Split, examples: int | None, *, seed: int, stratify: bool) -> Split:
    """``examples`` examples of ``split`` drawn like :func:`split_train_val` draws (seeded, stratified
    for classification); ``None`` or at least ``len(split)`` = the whole split, in its order."""
    if examples is not None and (not _is_int(examples) or examples < 1):
        raise UserError("train_examples", examples, "must be a whole number of at least 1", "e.g. 2000, or all")
    if examples is None or examples >= len(split):
        return split
    strat = stratify and np.issubdtype(split.labels.dtype, np.integer)
    _, drawn = _draw(np.arange(len(split), dtype=np.int64), split.labels, int(examples), seed, strat)
    return split.subset(drawn)


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _draw(indices: np.ndarray, labels: np.ndarray, k: int, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``k`` of ``indices`` (shape ``(m,)``, ``0 < k < m``); return (the rest, the drawn)."""
    try:
        rest, drawn = train_test_split(
            indices, test_size=k, random_state=seed, shuffle=True, stratify=labels if stratify else None
        )
    except ValueError as exc:
        if not stratify:
            raise
        warnings.warn(
            f"cannot stratify a draw of {k} from {len(indices)} examples ({exc}); drawing uniformly",
            UserWarning,
            stacklevel=3,
        )
        rest, drawn = train_test_split(indices, test_size=k, random_state=seed, shuffle=True)
    return np.asarray(rest, dtype=np.int64), np.asarray(drawn, dtype=np.int64)
