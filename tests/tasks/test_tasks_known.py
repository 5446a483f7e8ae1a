"""Known GLUE / SuperGLUE tasks loaded from the real data in ../shared/data."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from tasks_checks import check_user_error as _check

from autopeft.errors import UserError
from autopeft.tasks import KNOWN_TASKS, TaskData, load_task, resolve_data_dir

DATA_DIR = Path(os.environ.get("AUTOPEFT_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")).resolve()

# name: (train size, dev size, text columns, labels, train label counts by class id, metrics, main)
EXPECTED = {
    "glue/cola": (8551, 1043, ("sentence",), ("0", "1"), [2528, 6023], ("matthews",), "matthews"),
    "glue/sst2": (67349, 872, ("sentence",), ("0", "1"), [29780, 37569], ("accuracy",), "accuracy"),
    "glue/mrpc": (
        3668,
        408,
        ("sentence1", "sentence2"),
        ("0", "1"),
        [1194, 2474],
        ("accuracy", "f1"),
        "accuracy",
    ),
    "glue/stsb": (5749, 1500, ("sentence1", "sentence2"), None, None, ("pearson", "spearman"), "spearman"),
    "glue/rte": (
        2490,
        277,
        ("sentence1", "sentence2"),
        ("entailment", "not_entailment"),
        [1249, 1241],
        ("accuracy",),
        "accuracy",
    ),
    "glue/wnli": (635, 71, ("sentence1", "sentence2"), ("0", "1"), [323, 312], ("accuracy",), "accuracy"),
    "superglue/rte": (
        2490,
        277,
        ("premise", "hypothesis"),
        ("entailment", "not_entailment"),
        [1249, 1241],
        ("accuracy",),
        "accuracy",
    ),
    "superglue/cb": (
        250,
        56,
        ("premise", "hypothesis"),
        ("entailment", "contradiction", "neutral"),
        [115, 119, 16],
        ("accuracy", "f1"),
        "accuracy",
    ),
}

# name: (first train text_a prefix, first train text_b prefix or None, first train label)
FIRST_TRAIN = {
    "glue/cola": ("Our friends won't buy this analysis", None, 1),
    "glue/sst2": ("hide new secretions from the parental units", None, 0),
    "glue/mrpc": ("Amrozi accused his brother", 'Referring to him as only " the witness "', 1),
    "glue/stsb": ("A plane is taking off.", "An air plane is taking off.", 5.0),
    "glue/rte": ("No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction Found", 1),
    "glue/wnli": ("I stuck a pin through a carrot.", "The carrot had a hole.", 1),
    "superglue/rte": ("No Weapons of Mass Destruction Found in Iraq Yet.", "Weapons of Mass Destruction", 1),
    "superglue/cb": ("It was a complex language.", "the language was peeled down", 0),
}


@cache
def _load(name: str) -> TaskData:
    return load_task(name, DATA_DIR)


def test_registry_lists_exactly_the_known_tasks() -> None:
    assert set(KNOWN_TASKS) == set(EXPECTED)
    for name, spec in KNOWN_TASKS.items():
        assert spec.name == name
        assert spec.label_column == "label"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_known_task_loads_with_sizes_columns_and_labels(name: str) -> None:
    n_train, n_dev, text_columns, labels, counts, metrics, main = EXPECTED[name]
    data = _load(name)
    spec = data.spec
    assert spec == KNOWN_TASKS[name]
    assert (len(data.train), len(data.dev)) == (n_train, n_dev)
    assert spec.text_columns == text_columns
    assert spec.labels == labels
    assert (spec.metrics, spec.main_metric) == (metrics, main)
    for split in (data.train, data.dev):
        assert len(split.text_a) == len(split)
        assert (split.text_b is None) == (len(text_columns) == 1)
        assert all(isinstance(t, str) and t for t in split.text_a)
    if labels is None:
        assert spec.kind == "regression" and spec.num_labels == 1
        assert data.train.labels.dtype == np.float32
        assert data.train.labels.min() >= 0.0 and data.train.labels.max() <= 5.0
        assert data.dev.labels.min() >= 0.0 and data.dev.labels.max() <= 5.0
    else:
        assert spec.kind == "classification" and spec.num_labels == len(labels)
        assert data.train.labels.dtype == np.int64
        assert np.bincount(data.train.labels, minlength=len(labels)).tolist() == counts
        assert set(np.unique(data.dev.labels)) == set(range(len(labels)))


@pytest.mark.parametrize("name", sorted(FIRST_TRAIN))
def test_known_task_maps_file_columns_onto_the_spec(name: str) -> None:
    a, b, label = FIRST_TRAIN[name]
    train = _load(name).train
    assert train.text_a[0].startswith(a)
    if b is None:
        assert train.text_b is None
    else:
        assert train.text_b is not None and train.text_b[0].startswith(b)
    assert train.labels[0] == label


def test_cola_reads_the_headerless_file_and_keeps_the_sentence_column() -> None:
    data = _load("glue/cola")
    # the first column is a source code like "gj04"; it must not leak into the text
    assert not any(t in {"gj04", "bc01"} for t in data.train.text_a[:100])


def test_glue_and_superglue_rte_agree_on_label_ids() -> None:
    glue, superglue = _load("glue/rte"), _load("superglue/rte")
    assert glue.spec.labels == superglue.spec.labels
    assert np.array_equal(glue.train.labels, superglue.train.labels)
    # same examples in the same order (the releases differ in quote characters in a few texts)
    assert glue.train.text_a[:50] == superglue.train.text_a[:50]


def test_task_names_ignore_case_and_hyphens() -> None:
    data = load_task("GLUE/WNLI", DATA_DIR)
    assert data.spec.name == "glue/wnli"
    assert load_task("glue/sts-b", DATA_DIR).spec.name == "glue/stsb"


def test_matching_task_kind_is_accepted_for_known_task() -> None:
    assert load_task("glue/wnli", DATA_DIR, task_kind="classification").spec.kind == "classification"


def test_data_dir_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPEFT_DATA", str(DATA_DIR))
    assert resolve_data_dir(None) == DATA_DIR
    assert len(load_task("superglue/cb").train) == 250
    assert resolve_data_dir("") == DATA_DIR  # an empty argument means "not given"


def test_data_dir_argument_wins_over_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOPEFT_DATA", str(tmp_path))
    assert resolve_data_dir(DATA_DIR) == DATA_DIR
    monkeypatch.delenv("AUTOPEFT_DATA")
    assert resolve_data_dir(None) is None


def test_missing_data_dir_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(UserError) as err:
        resolve_data_dir(missing)
    _check(err, "data_dir", missing)
    monkeypatch.setenv("AUTOPEFT_DATA", str(missing))
    with pytest.raises(UserError) as err:
        load_task("glue/rte")
    _check(err, "AUTOPEFT_DATA", missing)


def test_data_dir_without_task_files_names_the_path_looked_for(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        load_task("glue/sst2", tmp_path)
    _check(err, "data_dir", tmp_path, str(tmp_path / "glue" / "SST-2" / "train.tsv"))
    (tmp_path / "superglue" / "CB").mkdir(parents=True)
    (tmp_path / "superglue" / "CB" / "train.jsonl").write_text(
        '{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0}\n'
    )
    with pytest.raises(UserError) as err:
        load_task("superglue/cb", tmp_path)
    _check(err, "data_dir", tmp_path, str(tmp_path / "superglue" / "CB" / "val.jsonl"))


def test_label_outside_the_task_label_set_names_the_line(tmp_path: Path) -> None:
    rte = tmp_path / "glue" / "RTE"
    rte.mkdir(parents=True)
    header = "index\tsentence1\tsentence2\tlabel\n"
    (rte / "train.tsv").write_text(header + "0\ta\tb\tentailment\n1\tc\td\tmaybe\n")
    (rte / "dev.tsv").write_text(header + "0\ta\tb\tnot_entailment\n")
    with pytest.raises(UserError) as err:
        load_task("glue/rte", tmp_path)
    _check(err, "label", "maybe", "line 3", "entailment")


def test_known_task_file_with_missing_column(tmp_path: Path) -> None:
    sst = tmp_path / "glue" / "SST-2"
    sst.mkdir(parents=True)
    (sst / "train.tsv").write_text("text\tlabel\nfine\t1\n")
    (sst / "dev.tsv").write_text("sentence\tlabel\nfine\t1\n")
    with pytest.raises(UserError) as err:
        load_task("glue/sst2", tmp_path)
    _check(err, "text_columns", "sentence", "text, label")


def test_known_task_file_with_bad_regression_label(tmp_path: Path) -> None:
    sts = tmp_path / "glue" / "STS-B"
    sts.mkdir(parents=True)
    (sts / "train.tsv").write_text("sentence1\tsentence2\tscore\na\tb\t4.0\nc\td\thigh\n")
    (sts / "dev.tsv").write_text("sentence1\tsentence2\tscore\na\tb\t1.0\n")
    with pytest.raises(UserError) as err:
        load_task("glue/stsb", tmp_path)
    _check(err, "label", "high", "line 3")


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("glue/mnli", ("glue/sst2", "superglue/cb", "file:")),
        ("sst2", ("did you mean glue/sst2",)),
        ("rte", ("glue/rte or superglue/rte",)),
        ("", ("glue/sst2",)),
    ],
)
def test_unknown_task_lists_known_tasks_and_local_files(name: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(UserError) as err:
        load_task(name, DATA_DIR)
    _check(err, "task", repr(name), *fragments)


@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"text_columns": ["sentence"]}, "text_columns", "sentence"),
        ({"label_column": "label"}, "label_column", "label"),
        ({"task_kind": "regression"}, "task_kind", "regression"),
    ],
)
def test_file_options_are_refused_for_known_tasks(kwargs: dict[str, object], field: str, value: str) -> None:
    with pytest.raises(UserError) as err:
        load_task("glue/sst2", DATA_DIR, **kwargs)  # type: ignore[arg-type]
    _check(err, field, value, "glue/sst2")


def test_known_task_kind_without_loading_data():
    from autopeft.tasks.registry import known_task_kind

    assert known_task_kind("glue/stsb") == "regression"
    assert known_task_kind("GLUE/STS-B") == "regression"
    assert known_task_kind("glue/sst2") == known_task_kind("superglue/cb") == "classification"
    assert known_task_kind("/data/my-task") is None


@pytest.mark.parametrize(
    ("subdir", "name", "rows", "fragment"),
    [
        ("SST-2", "glue/sst2", "sentence\tlabel\na\t1\nb\t1\n", "one class only"),
        ("STS-B", "glue/stsb", "sentence1\tsentence2\tscore\na\tb\t3.0\nc\td\t3.0\n", "one target only"),
    ],
)
def test_a_known_task_whose_training_labels_never_vary(
    tmp_path: Path, subdir: str, name: str, rows: str, fragment: str
) -> None:
    folder = tmp_path / "glue" / subdir
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_text(rows)
    (folder / "dev.tsv").write_text(rows)
    with pytest.raises(UserError) as err:
        load_task(name, tmp_path)
    _check(err, "data_dir", tmp_path, fragment, "train.tsv")
