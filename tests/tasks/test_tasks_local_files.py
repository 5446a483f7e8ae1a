"""Local CSV / TSV / JSONL files as tasks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tasks_checks import check_user_error as _check

from autopeft.errors import UserError
from autopeft.tasks import load_task


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    return _write(path, "".join(json.dumps(r) + "\n" for r in records))


def test_csv_classification_with_quoted_text(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "reviews.csv",
        'text,label,extra\n"good, really",pos,x\nbad,neg,y\n"so ""so""",neu,z\nfine,pos,w\n',
    )
    data = load_task(str(path), text_columns=["text"], label_column="label")
    spec = data.spec
    assert spec.name == f"file:{path.resolve()}"
    assert spec.text_columns == ("text",) and spec.label_column == "label"
    assert spec.kind == "classification"
    assert spec.labels == ("neg", "neu", "pos")  # sorted distinct label strings
    assert spec.metrics == ("accuracy", "f1") and spec.main_metric == "accuracy"
    assert data.dev is None
    assert data.train.text_a == ("good, really", "bad", 'so "so"', "fine")
    assert data.train.text_b is None
    assert data.train.labels.dtype == np.int64
    assert data.train.labels.tolist() == [2, 0, 1, 2]


def test_file_prefix_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffsentence,label\nhello,1\nbye,0\n".encode())
    data = load_task(f"file:{path}", text_columns=("sentence",), label_column="label")
    assert data.train.text_a == ("hello", "bye")
    assert data.spec.labels == ("0", "1")


def test_tsv_sentence_pair_reads_bare_quotes(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "pairs.tsv",
        'id\tfirst\tsecond\tgold\n1\tHe said " hi\tno quote\tyes\n2\tc\td\tno\n',
    )
    data = load_task(str(path), text_columns=["first", "second"], label_column="gold")
    assert data.train.text_a == ('He said " hi', "c")
    assert data.train.text_b == ("no quote", "d")
    assert data.spec.labels == ("no", "yes")
    assert data.train.labels.tolist() == [1, 0]


def test_jsonl_classification_with_numeric_and_bool_labels(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "d.jsonl",
        [{"q": "a", "p": "b", "y": 2}, {"q": "c", "p": "d", "y": 10}, {"q": "e", "p": "f", "y": 2}],
    )
    data = load_task(str(path), text_columns=["q", "p"], label_column="y")
    assert data.spec.labels == ("2", "10")  # integer labels sort numerically
    assert data.train.labels.tolist() == [0, 1, 0]
    path = _jsonl(tmp_path / "b.jsonl", [{"t": "x", "y": True}, {"t": "z", "y": False}])
    data = load_task(str(path), text_columns=["t"], label_column="y")
    assert data.spec.labels == ("false", "true")
    assert data.train.labels.tolist() == [1, 0]


def test_regression_csv_and_jsonl(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "a,b,score\nx,y,0.5\nz,w,4\nu,v,-1e-1\n")
    data = load_task(str(path), text_columns=["a", "b"], label_column="score", task_kind="regression")
    spec = data.spec
    assert (spec.kind, spec.labels, spec.num_labels) == ("regression", None, 1)
    assert spec.metrics == ("pearson", "spearman") and spec.main_metric == "spearman"
    assert data.train.labels.dtype == np.float32
    np.testing.assert_allclose(data.train.labels, [0.5, 4.0, -0.1], rtol=1e-6)
    path = _jsonl(tmp_path / "r.jsonl", [{"t": "x", "s": 1}, {"t": "y", "s": "2.5"}])
    data = load_task(str(path), text_columns=["t"], label_column="s", task_kind="regression")
    np.testing.assert_allclose(data.train.labels, [1.0, 2.5])


def test_a_bare_string_text_column_is_one_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "text,label\nhi,a\nho,b\n")
    data = load_task(str(path), text_columns="text", label_column="label")
    assert data.spec.text_columns == ("text",)


# ------------------------------------------------------------------------------------------ errors


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    return _write(tmp_path / "small.csv", "text,other,label\nhi,x,a\nho,y,b\n")


def test_missing_text_columns_argument(small_csv: Path) -> None:
    with pytest.raises(UserError) as err:
        load_task(str(small_csv), label_column="label")
    _check(err, "text_columns", None, "text, other, label")


def test_missing_label_column_argument(small_csv: Path) -> None:
    with pytest.raises(UserError) as err:
        load_task(str(small_csv), text_columns=["text"])
    _check(err, "label_column", None, "text, other, label")


@pytest.mark.parametrize("columns", [[], ["text", "other", "label"]])
def test_wrong_number_of_text_columns(small_csv: Path, columns: list[str]) -> None:
    with pytest.raises(UserError) as err:
        load_task(str(small_csv), text_columns=columns, label_column="label")
    _check(err, "text_columns", columns, "one or two")


def test_missing_text_column_lists_available_columns(small_csv: Path) -> None:
    with pytest.raises(UserError) as err:
        load_task(str(small_csv), text_columns=["text", "sentence2"], label_column="label")
    _check(err, "text_columns", "sentence2", "text, other, label")


def test_missing_label_column_lists_available_columns(small_csv: Path) -> None:
    with pytest.raises(UserError) as err:
        load_task(str(small_csv), text_columns=["text"], label_column="gold")
    _check(err, "label_column", "gold", "text, other, label")


def test_label_column_that_is_also_text(small_csv: Path) -> None:
    with pytest.raises(UserError) as err:
        load_task(str(small_csv), text_columns=["text"], label_column="text")
    _check(err, "label_column", "text")


def test_bad_task_kind(small_csv: Path) -> None:
    with pytest.raises(UserError) as err:
        load_task(str(small_csv), text_columns=["text"], label_column="label", task_kind="ranking")
    _check(err, "task_kind", "ranking", "regression")


def test_non_numeric_regression_label_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "t,s\na,1.0\nb,2.0\nc,lots\n")
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="s", task_kind="regression")
    _check(err, "s", "lots", "line 4")
    path = _jsonl(tmp_path / "r.jsonl", [{"t": "a", "s": 1}, {"t": "b", "s": "nan"}])
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="s", task_kind="regression")
    _check(err, "s", "nan", "line 2")


def test_empty_label_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.csv", "t,y\na,1\nb, \n")
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "y", "''", "line 3")


@pytest.mark.parametrize(("file_name", "content"), [("h.csv", "text,label\n"), ("e.csv", ""), ("e.jsonl", "\n")])
def test_empty_dataset(tmp_path: Path, file_name: str, content: str) -> None:
    path = _write(tmp_path / file_name, content)
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["text"], label_column="label")
    _check(err, "task", path.name, "no examples")


def test_nonexistent_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(UserError) as err:
        load_task(str(missing), text_columns=["t"], label_column="y")
    _check(err, "task", missing, "none exists")
    with pytest.raises(UserError) as err:
        load_task(f"file:{missing}", text_columns=["t"], label_column="y")
    _check(err, "task", f"file:{missing}", "no existing file")


def test_unsupported_file_type(tmp_path: Path) -> None:
    path = _write(tmp_path / "data.txt", "t,y\na,1\n")
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "task", path, ".txt", ".csv, .tsv, .jsonl")


def test_tsv_row_with_wrong_field_count(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.tsv", "t\ty\na\t1\nb\tc\t0\n")
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "task", path, "line 3", "3 fields")


def test_invalid_json_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", '{"t": "a", "y": 1}\n{"t": "b", \n')
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "task", path, "line 2", "JSON")


def test_jsonl_row_missing_a_column(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "m.jsonl", [{"t": "a", "y": 1}, {"t": "b"}])
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "label_column", "y", "line 2")


@pytest.mark.parametrize("file_name", ["latin.csv", "latin.tsv", "latin.jsonl"])
def test_a_file_that_is_not_utf8_names_the_line_and_the_fix(tmp_path: Path, file_name: str) -> None:
    path = tmp_path / file_name
    rows = {
        ".csv": ["t,y", "a,0", "caf\xe9,1"],
        ".tsv": ["t\ty", "a\t0", "caf\xe9\t1"],
        ".jsonl": ['{"t": "a", "y": 0}', '{"t": "caf\xe9", "y": 1}'],
    }[path.suffix]
    path.write_bytes("\n".join(rows).encode("latin-1") + b"\n")
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    line = 3 if path.suffix != ".jsonl" else 2
    _check(err, "task", path, "not UTF-8", f"line {line} (byte 0xe9)", "iconv")


def test_a_csv_field_over_the_csv_modules_limit_is_refused(tmp_path: Path) -> None:
    import csv

    path = _write(tmp_path / "big.csv", f"t,y\na,0\n{'x' * (csv.field_size_limit() + 1)},1\n")
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "task", path, "line 3", "field larger than field limit", "shorten that text")


@pytest.mark.parametrize("missing", ["nan", "NaN", "null", "None", "NA", "n/a"])
def test_a_missing_value_is_not_a_class(tmp_path: Path, missing: str) -> None:
    path = _write(tmp_path / "m.csv", f"t,y\na,pos\nb,neg\nc,{missing}\n")
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "y", missing, "line 4", "missing value")


def test_a_json_nan_label_is_not_a_class(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", '{"t": "a", "y": 1}\n{"t": "b", "y": 0}\n{"t": "c", "y": NaN}\n')
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "y", "nan", "line 3", "missing value")


@pytest.mark.parametrize(
    ("kind", "label", "fragment"),
    [("classification", "pos", "one class only"), ("regression", "2.5", "one target only")],
)
def test_labels_that_never_vary_are_refused(tmp_path: Path, kind: str, label: str, fragment: str) -> None:
    path = _write(tmp_path / "one.csv", "t,y\n" + "".join(f"text {i},{label}\n" for i in range(30)))
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y", task_kind=kind)
    _check(err, "label_column", "y", fragment, "all 30 training examples")


def test_many_distinct_numbers_as_classes_suggest_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 5, size=200).round(3)
    path = _write(tmp_path / "s.csv", "t,y\n" + "".join(f"text {i},{s}\n" for i, s in enumerate(scores)))
    with pytest.raises(UserError) as err:
        load_task(str(path), text_columns=["t"], label_column="y")
    _check(err, "label_column", "y", "distinct numbers", "task_kind=regression")
    # the same column as regression targets is fine
    data = load_task(str(path), text_columns=["t"], label_column="y", task_kind="regression")
    assert data.spec.kind == "regression" and len(data.train) == 200


def test_many_classes_are_fine_when_each_has_examples(tmp_path: Path) -> None:
    """30 numeric classes with 3 examples each are classes, not scores; 30 text classes too."""
    rows = "".join(f"text {i},{i % 30}\n" for i in range(90))
    data = load_task(str(_write(tmp_path / "c.csv", "t,y\n" + rows)), text_columns=["t"], label_column="y")
    assert len(data.spec.labels) == 30
    rows = "".join(f"text {i},class{i}\n" for i in range(40))
    data = load_task(str(_write(tmp_path / "w.csv", "t,y\n" + rows)), text_columns=["t"], label_column="y")
    assert len(data.spec.labels) == 40
