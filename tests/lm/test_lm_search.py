"""``autopeft search`` on a prompt/completion JSONL file with a tiny Llama and a tiny T5: every trial
completes, the front is validation loss (minimised) against parameters, and the search resumes."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from tests.conftest import tiny_family_config

from autopeft.cli import main


@pytest.fixture(scope="module")
def sums_jsonl(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "sums.jsonl"
    rows = [{"prompt": f"{a}+{b}=", "completion": str(a + b)} for a in range(7) for b in range(6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _model_dir(tmp_path, tokenizer, model_type: str):
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    config = tiny_family_config(model_type)
    auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    torch.manual_seed(0)
    path = tmp_path / model_type
    auto.from_config(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _args(model_dir, task, out, *extra):
    return [
        "search", "--model", str(model_dir), "--task", str(task), "--task-kind", "causal_lm", "--out", str(out),
        "--optimizer", "random", "--train-examples", "32", "--val-examples", "10", "--max-length", "16",
        "--batch-size", "8", "--quiet", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("model_type", ["llama", "t5"])
def test_a_search_gives_a_front_of_validation_loss_against_parameters_and_resumes(
    model_type, tmp_path, tokenizer, sums_jsonl, capsys
):
    model_dir = _model_dir(tmp_path, tokenizer, model_type)
    out = tmp_path / "search"
    assert main(_args(model_dir, sums_jsonl, out, "--trials", "2")) == 0, capsys.readouterr().err
    settings = json.loads((out / "search.json").read_text())
    assert settings["objectives"] == ["loss", "params"] and settings["lm_score"] == "loss"
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto["objectives"][0] == {
        "name": "loss",
        "attribute": "score",
        "direction": "minimize",
        "label": "validation loss (nats/token)",
    }
    assert [t["metric"] for t in pareto["trials"]] == ["loss"] * len(pareto["trials"])
    front = sorted((t["params_pct"], t["score"]) for t in pareto["trials"])
    assert all(a[1] > b[1] for a, b in itertools.pairwise(front))  # more parameters, lower loss
    assert main(["resume", str(out), "--trials", "3", "--quiet"]) == 0, capsys.readouterr().err
    rows = (out / "trials.csv").read_text().splitlines()
    status = rows[0].split(",").index("status")
    assert [r.split(",")[status] for r in rows[1:]] == ["complete"] * 3
    assert main(["show", str(out)]) == 0
    assert "reference: loss" in capsys.readouterr().out  # twice the first trial's loss, recorded
    # retraining on the file itself would need a dev split: refused, naming the flag
    assert main(["retrain", str(out), "--pick", "0", "--out", str(tmp_path / "retrain")]) == 2
    assert "--tasks" in capsys.readouterr().err and not (tmp_path / "retrain").exists()


def test_a_search_by_exact_match_maximises_it(tmp_path, tokenizer, sums_jsonl, capsys):
    model_dir = _model_dir(tmp_path, tokenizer, "llama")
    out = tmp_path / "search"
    assert main(_args(model_dir, sums_jsonl, out, "--trials", "1", "--lm-score", "exact-match")) == 0
    assert json.loads((out / "search.json").read_text())["objectives"] == ["score", "params"]
    (trial,) = json.loads((out / "pareto.json").read_text())["trials"]
    assert trial["metric"] == "exact_match" and set(trial["metrics"]) == {"exact_match", "loss"}
