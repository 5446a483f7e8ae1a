"""The bad inputs of issue 19's drill: each one exit 2, a message naming the flag and the fix, nothing written."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from autopeft.cli import EXIT_ERROR, EXIT_OK, EXIT_USAGE, main


@pytest.fixture
def search_args(tiny_model_dir):
    """``search_args(out, *extra, task=FILE)``: a one-trial random search of a local file (or the toy
    CSV) with the tiny model, small enough to finish in seconds when nothing is wrong."""

    def make(out: Path | str, *extra: str, task: Path | None = None) -> list[str]:
        columns = ["--text-columns", "sentence", "--label-column", "label"]
        return [
            "search", "--model", str(tiny_model_dir), "--task", str(task), *columns, "--out", str(out),
            "--optimizer", "random", "--trials", "1", "--train-examples", "40", "--val-examples", "40",
            "--max-length", "16", "--threads", "1", *extra,
        ]  # fmt: skip

    return make


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path, *needles: str) -> str:
    """Run ``argv``: exit 2, every needle and a fix on stderr, no traceback, and ``out`` not created."""
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("autopeft: error: ") and "Fix:" in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not out.exists()
    return err


def _csv(path: Path, rows: list[tuple[object, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sentence", "label"])
        writer.writerows(rows)
    return path


def _texts(n: int) -> list[str]:
    return [f"text number {i}" for i in range(n)]


# ---------------------------------------------------------------------------------------------- task files


def test_a_task_file_that_is_not_utf8(tmp_path, capsys, search_args):
    path = tmp_path / "latin.csv"
    path.write_bytes("sentence,label\nok,0\ncaf\xe9,1\n".encode("latin-1"))
    out = tmp_path / "out"
    _refused(capsys, search_args(out, task=path), out, "--task=", "not UTF-8", "line 3", "iconv")


def test_a_csv_field_over_the_csv_modules_limit(tmp_path, capsys, search_args):
    path = _csv(tmp_path / "big.csv", [("x" * (csv.field_size_limit() + 1), 0), ("b", 1)])
    out = tmp_path / "out"
    _refused(capsys, search_args(out, task=path), out, "--task=", "line 2", "field limit", "--max-length")


@pytest.mark.parametrize(
    ("labels", "needles"),
    [
        (["1"], ("--label-column='label'", "one class only", "all 60 training examples")),
        (["0", "1", "nan"], ("label='nan'", "line 4", "missing value")),
        (["0", "1", ""], ("label=''", "line 4", "empty")),
    ],
    ids=["one-class", "nan-class", "empty-class"],
)
def test_degenerate_class_labels(tmp_path, capsys, search_args, labels, needles):
    path = _csv(tmp_path / "d.csv", [(t, labels[i % len(labels)]) for i, t in enumerate(_texts(60))])
    out = tmp_path / "out"
    _refused(capsys, search_args(out, task=path), out, *needles)


def test_scores_read_as_classes_suggest_regression(tmp_path, capsys, search_args):
    scores = np.random.default_rng(0).uniform(0, 5, size=200).round(3)
    path = _csv(tmp_path / "stsb-like.csv", list(zip(_texts(200), scores, strict=True)))
    out = tmp_path / "out"
    err = _refused(capsys, search_args(out, task=path), out, "--label-column='label'", "distinct numbers")
    assert "--task-kind regression" in err.split("Fix:")[1], err


def test_constant_regression_targets(tmp_path, capsys, search_args):
    path = _csv(tmp_path / "flat.csv", [(t, 2.5) for t in _texts(60)])
    out = tmp_path / "out"
    _refused(capsys, search_args(out, "--task-kind", "regression", task=path), out, "one target only")


# ---------------------------------------------------------------------------------------------- budget


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--learning-rate", "inf"), ("--learning-rate", "nan"), ("--weight-decay", "nan"), ("--epochs", "inf")],
)
def test_a_budget_number_that_is_not_finite(tmp_path, capsys, search_args, toy_csv, flag, value):
    out = tmp_path / "out"
    err = _refused(capsys, search_args(out, flag, value, task=toy_csv), out, f"{flag}={value}", "finite")
    assert flag in err.split("Fix:")[1], err


def test_a_very_high_learning_rate_warns_and_runs(tmp_path, capsys, search_args, toy_csv):
    """A warning, not a refusal: the search runs (its trials may diverge, which fails them: exit 1)."""
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match=r"learning_rate=1e\+06 is above 1"):
        assert main(search_args(out, "--learning-rate", "1e6", task=toy_csv)) in (EXIT_OK, EXIT_ERROR)
    assert (out / "study.db").is_file() and (out / "trials.csv").is_file()


# ---------------------------------------------------------------------------------------------- --out


def test_an_empty_out_is_refused(tmp_path, capsys, search_args, toy_csv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused(capsys, search_args("", task=toy_csv), tmp_path / "study.db", "--out=''", "empty")
    assert list(tmp_path.iterdir()) == []


def test_url_characters_in_out_keep_the_ledger_inside_it(tmp_path, capsys, search_args, toy_csv):
    """``?`` starts a URL's query, ``%`` escapes, ``#`` a fragment, ``{`` a template field: none may move
    or break the SQLite ledger of ``out``."""
    out = tmp_path / "a?b%20c#d{e}"
    assert main(search_args(out, task=toy_csv)) == 0
    assert {p.name for p in tmp_path.iterdir()} == {out.name}
    with sqlite3.connect(out / "study.db") as db:
        assert db.execute("select count(*) from trials").fetchone() == (1,)
    assert main(["show", str(out)]) == 0
    assert "1 of 1 trials finished" in capsys.readouterr().out


def test_an_out_under_a_file(tmp_path, capsys, search_args, toy_csv):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    out = a_file / "search"
    _refused(capsys, search_args(out, task=toy_csv), out, "--out=", "a file")
    assert a_file.read_text() == "not a folder"


def test_an_out_the_os_will_not_let_us_write(tmp_path, capsys, search_args, toy_csv, monkeypatch):
    """A folder the OS will not let this user write (faked, since root writes into read-only folders)."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == tmp_path else real_access(path, mode))
    out = tmp_path / "search"
    _refused(capsys, search_args(out, task=toy_csv), out, "--out=", "cannot be written")


# ---------------------------------------------------------------------------------------------- --device


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x", "cpu:0", "CUDA"])
def test_an_unknown_device(tmp_path, capsys, search_args, toy_csv, device):
    out = tmp_path / "out"
    err = _refused(capsys, search_args(out, "--device", device, task=toy_csv), out, f"--device='{device}'")
    assert "cuda:N" in err.split("Fix:")[1]


def test_cuda_without_a_visible_gpu(tmp_path, capsys, search_args, toy_csv, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "out"
    err = _refused(capsys, search_args(out, "--device", "cuda", task=toy_csv), out, "no CUDA device is visible")
    assert "--device cpu" in err.split("Fix:")[1], err


def test_a_gpu_index_past_the_last_gpu(tmp_path, capsys, search_args, toy_csv, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    out = tmp_path / "out"
    _refused(capsys, search_args(out, "--device", "cuda:2", task=toy_csv), out, "--device='cuda:2'", "cuda:1")


def test_baselines_check_the_device_before_writing(tmp_path, capsys, tiny_model_dir):
    out = tmp_path / "out"
    argv = ["baselines", "--task", "glue/rte", "--model", str(tiny_model_dir), "--methods", "lora"]
    _refused(capsys, [*argv, "--device", "tpu", "--out", str(out)], out, "--device='tpu'")


# ---------------------------------------------------------------------------------------------- --model


def test_a_model_directory_without_a_tokenizer(tmp_path, capsys, search_args, toy_csv, tiny_model_dir):
    bare = tmp_path / "bare-model"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bare / name).write_bytes((tiny_model_dir / name).read_bytes())
    out = tmp_path / "out"
    argv = search_args(out, task=toy_csv)
    argv[argv.index("--model") + 1] = str(bare)
    err = _refused(capsys, argv, out, f"--model='{bare}'", "no tokenizer files")
    assert "save_pretrained" in err.split("Fix:")[1]
    # the space needs the config alone, so it is still shown
    assert main(["space", "--model", str(bare)]) == 0
