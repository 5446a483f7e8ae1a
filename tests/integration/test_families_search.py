"""A new user's first search on each kind of model: a tiny random model saved with ``save_pretrained``
beside a tokenizer, searched through the command line on a local CSV task. Every trial completes."""

from __future__ import annotations

import json

import pytest
from tests.conftest import save_tiny_model

from autopeft.cli import main

#: Encoder-decoders (T5, BART), decoders with grouped-query attention (Llama, Qwen2, Mistral) and without
#: (GPT-2), and an encoder other than BERT (DistilBERT).
MODEL_TYPES = ["t5", "bart", "llama", "qwen2", "mistral", "gpt2", "distilbert"]


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_a_two_trial_search_completes_with_no_failed_trial(model_type, tmp_path, tokenizer, toy_csv, capsys):
    model_dir = save_tiny_model(tmp_path / model_type, model_type, tokenizer)
    out = tmp_path / "search"
    args = [
        "search", "--model", str(model_dir), "--task", str(toy_csv), "--text-columns", "sentence",
        "--label-column", "label", "--out", str(out), "--space", "extended", "--optimizer", "random",
        "--trials", "2", "--train-examples", "64", "--val-examples", "32", "--max-length", "16", "--quiet",
    ]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    trials = json.loads((out / "pareto.json").read_text())
    statuses = [line.split(",") for line in (out / "trials.csv").read_text().splitlines()]
    header = statuses[0]
    assert [row[header.index("status")] for row in statuses[1:]] == ["complete", "complete"]
    assert trials["trials"]
