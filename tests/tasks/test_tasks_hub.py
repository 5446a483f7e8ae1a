"""Known tasks from the Hugging Face hub, with datasets.load_dataset replaced by a fake (no network)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pytest

from autopeft.errors import UserError
from autopeft.tasks import KNOWN_TASKS, load_task

DATA_DIR = Path(os.environ.get("AUTOPEFT_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")).resolve()

# name: (hub path, config, text columns on the hub, train labels, validation labels)
HUB = {
    "glue/cola": ("nyu-mll/glue", "cola", ("sentence",), [0, 1, 1], [1, 0]),
    "glue/sst2": ("nyu-mll/glue", "sst2", ("sentence",), [1, 0, 1], [0, 1]),
    "glue/mrpc": ("nyu-mll/glue", "mrpc", ("sentence1", "sentence2"), [1, 0, 1], [0, 1]),
    "glue/stsb": ("nyu-mll/glue", "stsb", ("sentence1", "sentence2"), [5.0, 3.8, 0.0], [4.75, 1.5]),
    "glue/rte": ("nyu-mll/glue", "rte", ("sentence1", "sentence2"), [1, 0, 0], [1, 0]),
    "glue/wnli": ("nyu-mll/glue", "wnli", ("sentence1", "sentence2"), [1, 1, 0], [0, 1]),
    "superglue/rte": ("aps/super_glue", "rte", ("premise", "hypothesis"), [1, 0, 0], [0, 1]),
    "superglue/cb": ("aps/super_glue", "cb", ("premise", "hypothesis"), [0, 1, 2], [1, 2]),
}


def _hub_split(text_columns: tuple[str, ...], labels: list[Any], prefix: str) -> datasets.Dataset:
    n = len(labels)
    columns: dict[str, list[Any]] = {c: [f"{prefix}-{c}-{i}" for i in range(n)] for c in text_columns}
    columns["label"] = labels
    columns["idx"] = list(range(n))
    return datasets.Dataset.from_dict(columns)


class FakeHub:
    """Stands in for ``datasets.load_dataset``; records its calls."""

    def __init__(self, splits: dict[str, datasets.Dataset] | None = None, error: Exception | None = None):
        self.splits = splits
        self.error = error
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, path: str, name: str | None = None, **kwargs: Any) -> dict[str, datasets.Dataset]:
        self.calls.append((path, name, kwargs))
        if self.error is not None:
            raise self.error
        assert self.splits is not None
        return self.splits


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOPEFT_DATA", raising=False)


def _install(monkeypatch: pytest.MonkeyPatch, name: str) -> FakeHub:
    _, _, text_columns, train, dev = HUB[name]
    fake = FakeHub(
        {
            "train": _hub_split(text_columns, train, "train"),
            "validation": _hub_split(text_columns, dev, "val"),
            # test splits are unlabelled (-1) and must not be read
            "test": _hub_split(text_columns, [-1], "test"),
        }
    )
    monkeypatch.setattr(datasets, "load_dataset", fake)
    return fake


@pytest.mark.parametrize("name", sorted(HUB))
def test_known_task_from_hub(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    path, config, text_columns, train_labels, dev_labels = HUB[name]
    fake = _install(monkeypatch, name)
    data = load_task(name)
    assert fake.calls == [(path, config, {})]
    assert data.spec == KNOWN_TASKS[name]
    assert data.dev is not None
    assert len(data.train) == 3 and len(data.dev) == 2
    assert data.train.text_a == tuple(f"train-{text_columns[0]}-{i}" for i in range(3))
    if len(text_columns) == 2:
        assert data.train.text_b == tuple(f"train-{text_columns[1]}-{i}" for i in range(3))
    else:
        assert data.train.text_b is None
    if data.spec.kind == "regression":
        assert data.train.labels.dtype == np.float32
        np.testing.assert_allclose(data.train.labels, train_labels)
    else:
        assert data.train.labels.dtype == np.int64
        # hub label ids and spec class ids are the same index order
        assert data.train.labels.tolist() == train_labels
        assert data.dev.labels.tolist() == dev_labels


def test_hub_and_local_label_ids_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub RTE 0 = entailment, CB 0/1/2 = entailment/contradiction/neutral: same ids as local files."""
    local_rte = load_task("glue/rte", DATA_DIR)
    local_cb = load_task("superglue/cb", DATA_DIR)
    _install(monkeypatch, "glue/rte")
    hub_rte = load_task("glue/rte")
    assert hub_rte.spec.labels is not None and hub_rte.spec.labels[0] == "entailment"
    assert hub_rte.spec == local_rte.spec
    # local first train example is not_entailment, as is the hub's (label 1)
    assert local_rte.train.labels[0] == hub_rte.train.labels[0] == 1
    _install(monkeypatch, "superglue/cb")
    hub_cb = load_task("superglue/cb")
    assert hub_cb.spec == local_cb.spec
    assert hub_cb.spec.labels == ("entailment", "contradiction", "neutral")
    assert local_cb.train.labels[0] == 0  # "entailment" in the jsonl


def test_hub_failure_says_to_use_a_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(error=ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub"))
    monkeypatch.setattr(datasets, "load_dataset", fake)
    with pytest.raises(UserError) as err:
        load_task("glue/sst2")
    assert err.value.field == "task"
    message = str(err.value)
    for fragment in ("glue/sst2", "ConnectionError", "data_dir", "AUTOPEFT_DATA", "nyu-mll/glue"):
        assert fragment in message, (fragment, message)
    assert isinstance(err.value.__cause__, ConnectionError)


def test_hub_without_validation_split_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub({"train": _hub_split(("sentence",), [0, 1], "train")})
    monkeypatch.setattr(datasets, "load_dataset", fake)
    with pytest.raises(UserError) as err:
        load_task("glue/sst2")
    assert err.value.field == "task" and "data_dir" in str(err.value)


def test_hub_unlabelled_rows_are_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(
        {
            "train": _hub_split(("sentence",), [0, -1, 1], "train"),
            "validation": _hub_split(("sentence",), [0], "val"),
        }
    )
    monkeypatch.setattr(datasets, "load_dataset", fake)
    with pytest.raises(UserError) as err:
        load_task("glue/sst2")
    assert err.value.field == "label" and "-1" in str(err.value) and "row 1" in str(err.value)


def test_hub_split_missing_a_column_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(
        {
            "train": _hub_split(("sentence",), [0, 1], "train"),
            "validation": _hub_split(("sentence",), [0], "val"),
        }
    )
    monkeypatch.setattr(datasets, "load_dataset", fake)
    with pytest.raises(UserError) as err:
        load_task("glue/mrpc")
    assert err.value.field == "task"
    assert "sentence1" in str(err.value) and "glue/mrpc" in str(err.value)


def test_data_dir_takes_precedence_over_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(error=AssertionError("the hub must not be called"))
    monkeypatch.setattr(datasets, "load_dataset", fake)
    assert len(load_task("superglue/cb", DATA_DIR).train) == 250
    monkeypatch.setenv("AUTOPEFT_DATA", str(DATA_DIR))
    assert len(load_task("superglue/cb").train) == 250
    assert fake.calls == []


def test_hub_training_split_of_one_class_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHub(
        {
            "train": _hub_split(("sentence",), [1, 1, 1], "train"),
            "validation": _hub_split(("sentence",), [0, 1], "val"),
        }
    )
    monkeypatch.setattr(datasets, "load_dataset", fake)
    with pytest.raises(UserError) as err:
        load_task("glue/sst2")
    assert err.value.field == "task" and "one class only" in str(err.value) and "data_dir" in str(err.value)
