"""Causal-LM task files: JSONL rows of ``prompt``/``completion`` or ``text``; bad files are refused
with the field, the value (file and line) and the fix, and through the command line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autopeft.cli import main
from autopeft.errors import UserError
from autopeft.tasks import load_task


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_prompt_completion_rows_become_prompts_and_completions(tmp_path):
    path = _jsonl(tmp_path / "sums.jsonl", [{"prompt": "2+3=", "completion": "5"}, {"prompt": "1+1=", "completion": 2}])
    data = load_task(str(path), task_kind="causal_lm")
    assert data.spec.kind == "causal_lm" and data.spec.is_lm and data.spec.num_labels is None
    assert data.spec.text_columns == ("prompt", "completion")
    assert data.spec.metrics == ("loss",) and data.spec.main_metric == "loss"
    assert data.train.text_a == ("2+3=", "1+1=") and data.train.text_b == ("5", "2")  # a number as its text
    assert data.train.labels.dtype == np.float32 and len(data.train) == 2
    assert data.dev is None


def test_text_rows_are_learnt_whole_and_have_no_prompt_to_match(tmp_path):
    path = _jsonl(tmp_path / "texts.jsonl", [{"text": "a cat"}, {"text": "a dog", "source": "x"}])
    data = load_task(f"file:{path}", task_kind="causal_lm")
    assert data.spec.text_columns == ("text",)
    assert data.train.text_a == ("", "") and data.train.text_b == ("a cat", "a dog")
    with pytest.raises(UserError) as err:
        load_task(f"file:{path}", task_kind="causal_lm", lm_score="exact_match")
    assert err.value.field == "lm_score" and "no prompt" in str(err.value)


def test_exact_match_is_a_score_with_the_loss_beside_it(tmp_path):
    path = _jsonl(tmp_path / "sums.jsonl", [{"prompt": "2+3=", "completion": "5"}])
    data = load_task(str(path), task_kind="causal_lm", lm_score="exact_match")
    assert data.spec.main_metric == "exact_match" and data.spec.metrics == ("exact_match", "loss")


def test_text_columns_rename_the_fields(tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", [{"q": "capital of France?", "a": "Paris"}])
    data = load_task(str(path), task_kind="causal_lm", text_columns=["q", "a"])
    assert data.train.text_a == ("capital of France?",) and data.train.text_b == ("Paris",)


@pytest.mark.parametrize(
    ("records", "field", "line", "fragment"),
    [
        ([{"question": "2+3=", "answer": "5"}], "prompt", 1, 'has no "prompt" field'),
        ([{"prompt": "2+3=", "completion": "5"}, {"text": "1+1=2"}], "prompt", 2, 'has no "prompt" field'),
        ([{"prompt": "2+3=", "completion": "5"}, {"prompt": "1+1="}], "completion", 2, 'has no "completion" field'),
        ([{"prompt": "2+3=", "completion": "5"}, {"prompt": "x", "completion": " "}], "completion", 2, "empty"),
        ([{"text": "abc"}, {"text": ["a", "b"]}], "text", 2, "non-text"),
    ],
)
def test_a_row_without_the_schema_fields_is_refused(tmp_path, records, field, line, fragment):
    path = _jsonl(tmp_path / "bad.jsonl", records)
    with pytest.raises(UserError) as err:
        load_task(str(path), task_kind="causal_lm")
    assert err.value.field == field
    message = str(err.value)
    assert f"line {line} of {path.resolve()}" in message and fragment in message, message
    # the fix says what a row holds (an empty completion: to fill it in)
    assert ('"prompt" and "completion"' if fragment != "empty" else "fill it in") in err.value.fix


def test_an_empty_file_and_a_label_column_are_refused(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(UserError, match="holds no examples") as err:
        load_task(str(empty), task_kind="causal_lm")
    assert err.value.field == "task"
    ok = _jsonl(tmp_path / "ok.jsonl", [{"text": "abc"}])
    with pytest.raises(UserError) as err:
        load_task(str(ok), task_kind="causal_lm", label_column="label")
    assert err.value.field == "label_column"


def test_the_command_line_exits_2_naming_the_field_the_line_and_the_fix(tmp_path, tiny_model_dir, capsys):
    path = _jsonl(tmp_path / "bad.jsonl", [{"prompt": "2+3=", "completion": "5"}, {"prompt": "1+1="}])
    args = ["search", "--model", str(tiny_model_dir), "--task", str(path), "--task-kind", "causal_lm"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "completion" in err and f"line 2 of {path.resolve()}" in err and '"prompt" and "completion"' in err, err
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--lm-score", "exact-match"], "--lm-score"),  # a classification task has no LM score
        (["--objectives", "loss,params"], "--objectives"),  # nor a loss to minimise
    ],
)
def test_lm_settings_on_a_classification_task_exit_2(toy_search_args, tmp_path, capsys, extra, flag):
    assert main([*toy_search_args(tmp_path / "out"), *extra]) == 2
    assert flag in capsys.readouterr().err


def test_early_stopping_of_a_loss_is_refused(tmp_path, tiny_model_dir, capsys):
    path = _jsonl(tmp_path / "sums.jsonl", [{"prompt": f"{i}+1=", "completion": str(i + 1)} for i in range(20)])
    args = ["search", "--model", str(tiny_model_dir), "--task", str(path), "--task-kind", "causal_lm"]
    assert main([*args, "--out", str(tmp_path / "out"), "--early-stop", "--evals-per-epoch", "2"]) == 2
    assert "--early-stop" in capsys.readouterr().err
