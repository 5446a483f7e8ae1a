"""Split objects and split_train_val."""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from tasks_checks import check_user_error as _check

from autopeft.errors import UserError
from autopeft.tasks import Split, load_task, split_train_val

DATA_DIR = Path(os.environ.get("AUTOPEFT_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")).resolve()


def _split(labels: list[int] | np.ndarray, pairs: bool = False) -> Split:
    labels = np.asarray(labels)
    texts = tuple(f"ex{i}" for i in range(len(labels)))
    return Split(texts, tuple(f"b{i}" for i in range(len(labels))) if pairs else None, labels)


def _ids(split: Split) -> set[int]:
    return {int(t[2:]) for t in split.text_a}


IMBALANCED = _split(np.array([0] * 240 + [1] * 60, dtype=np.int64), pairs=True)


# ------------------------------------------------------------------------------------------ Split


def test_split_len_subset_and_equality() -> None:
    split = _split(np.array([0, 1, 1, 0], dtype=np.int64), pairs=True)
    assert len(split) == 4
    sub = split.subset([3, 1])
    assert sub.text_a == ("ex3", "ex1") and sub.text_b == ("b3", "b1")
    assert sub.labels.tolist() == [0, 1] and sub.labels.dtype == np.int64
    assert split.subset(np.array([0, 1, 2, 3])) == split
    assert split.subset([]).labels.shape == (0,)
    assert sub != split


def test_split_is_immutable() -> None:
    labels = np.array([0, 1], dtype=np.int64)
    split = _split(labels)
    labels[0] = 1  # the split holds its own copy
    assert split.labels.tolist() == [0, 1]
    with pytest.raises(ValueError):
        split.labels[0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.text_a = ("x",)  # type: ignore[misc]


def test_split_rejects_mismatched_columns() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        Split(("a", "b"), None, np.array([0]))
    with pytest.raises(ValueError, match="differ in length"):
        Split(("a",), ("b", "c"), np.array([0]))
    with pytest.raises(IndexError):
        _split([0, 1]).subset([2])


# -------------------------------------------------------------------------------- split_train_val


def test_sizes_and_no_overlap() -> None:
    train, val = split_train_val(IMBALANCED, train_examples=100, val_examples=50, seed=0, stratify=True)
    assert (len(train), len(val)) == (100, 50)
    assert not _ids(train) & _ids(val)
    assert len(_ids(train)) == 100 and len(_ids(val)) == 50
    # texts and labels travel together
    for part in (train, val):
        assert part.text_b == tuple(f"b{i}" for i in (int(t[2:]) for t in part.text_a))
        assert part.labels.tolist() == [int(int(t[2:]) >= 240) for t in part.text_a]


def test_all_remaining_examples_when_train_examples_is_none() -> None:
    train, val = split_train_val(IMBALANCED, train_examples=None, val_examples=50, seed=1, stratify=False)
    assert (len(train), len(val)) == (250, 50)
    assert _ids(train) | _ids(val) == set(range(300))
    assert not _ids(train) & _ids(val)


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    kwargs = {"train_examples": 100, "val_examples": 50, "stratify": True}
    a = split_train_val(IMBALANCED, seed=3, **kwargs)  # type: ignore[arg-type]
    b = split_train_val(IMBALANCED, seed=3, **kwargs)  # type: ignore[arg-type]
    c = split_train_val(IMBALANCED, seed=4, **kwargs)  # type: ignore[arg-type]
    assert a == b
    assert a[1] != c[1]


def test_validation_slice_does_not_depend_on_train_budget() -> None:
    _, val_small = split_train_val(IMBALANCED, train_examples=20, val_examples=50, seed=7, stratify=True)
    _, val_all = split_train_val(IMBALANCED, train_examples=None, val_examples=50, seed=7, stratify=True)
    assert val_small == val_all


def test_stratification_keeps_class_proportions() -> None:
    for seed in range(5):
        train, val = split_train_val(IMBALANCED, train_examples=100, val_examples=50, seed=seed, stratify=True)
        assert np.bincount(val.labels).tolist() == [40, 10]
        assert np.bincount(train.labels).tolist() == [80, 20]


def test_unstratified_draw_is_a_uniform_sample() -> None:
    """Without stratification the validation slice is a uniform draw: over seeds, its minority count
    follows the hypergeometric law (mean and variance), where a stratified slice always holds the same."""
    from scipy.stats import hypergeom

    n, minority, drawn = len(IMBALANCED), int(IMBALANCED.labels.sum()), 50
    law = hypergeom(M=n, n=minority, N=drawn)
    seeds = range(300)
    counts = np.array(
        [
            int(
                split_train_val(IMBALANCED, train_examples=None, val_examples=drawn, seed=s, stratify=False)[
                    1
                ].labels.sum()
            )
            for s in seeds
        ]
    )
    assert abs(counts.mean() - law.mean()) < 4 * law.std() / np.sqrt(len(counts))
    assert 0.7 < counts.var(ddof=1) / law.var() < 1.4


def test_stratified_split_of_real_cb_keeps_the_rare_class() -> None:
    cb = load_task("superglue/cb", DATA_DIR).train  # 115 / 119 / 16
    train, val = split_train_val(cb, train_examples=100, val_examples=50, seed=0, stratify=True)
    val_counts = np.bincount(val.labels, minlength=3)
    assert abs(val_counts[2] - 50 * 16 / 250) <= 1
    assert np.bincount(train.labels, minlength=3)[2] >= 5
    assert len(set(cb.text_a)) == len(cb)  # premises are unique, so they identify examples
    assert not set(train.text_a) & set(val.text_a)


def test_regression_split_ignores_stratify() -> None:
    split = Split(tuple(f"ex{i}" for i in range(40)), None, np.linspace(0, 5, 40, dtype=np.float32))
    train, val = split_train_val(split, train_examples=10, val_examples=10, seed=0, stratify=True)
    assert (len(train), len(val)) == (10, 10)
    assert train.labels.dtype == np.float32
    assert not _ids(train) & _ids(val)


def test_unstratifiable_draw_falls_back_with_warning() -> None:
    split = _split(np.array([0] * 20 + [1], dtype=np.int64))  # class 1 has a single member
    with pytest.warns(UserWarning, match="cannot stratify"):
        train, val = split_train_val(split, train_examples=None, val_examples=5, seed=0, stratify=True)
    assert (len(train), len(val)) == (16, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split_train_val(split, train_examples=None, val_examples=5, seed=0, stratify=False)


@pytest.mark.parametrize(
    ("train_examples", "val_examples", "field", "value", "fragments"),
    [
        (10, 0, "val_examples", 0, ("at least 1",)),
        (10, -3, "val_examples", -3, ("at least 1",)),
        (10, 2.5, "val_examples", 2.5, ("whole number",)),
        (0, 10, "train_examples", 0, ("at least 1",)),
        (True, 10, "train_examples", True, ("whole number",)),
        (None, 300, "val_examples", 300, ("only 300",)),
        (None, 400, "val_examples", 400, ("only 300",)),
        (251, 50, "train_examples", 251, ("250 examples left", "has 300", "at most 250")),
    ],
)
def test_bad_sizes_are_user_errors(
    train_examples: int | None, val_examples: int, field: str, value: object, fragments: tuple[str, ...]
) -> None:
    with pytest.raises(UserError) as err:
        split_train_val(IMBALANCED, train_examples=train_examples, val_examples=val_examples, seed=0, stratify=True)
    _check(err, field, value, *fragments)


def test_exact_fit_is_allowed() -> None:
    train, val = split_train_val(IMBALANCED, train_examples=250, val_examples=50, seed=0, stratify=True)
    assert _ids(train) | _ids(val) == set(range(300))
    train, val = split_train_val(IMBALANCED, train_examples=1, val_examples=299, seed=0, stratify=False)
    assert (len(train), len(val)) == (1, 299)
