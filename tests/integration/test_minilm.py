"""The real MiniLM on real SST-2: few, short, marked slow (``make test`` runs them; plain pytest does not)."""

from __future__ import annotations

import json

import pytest

from autopeft.cli import main
from autopeft.models import BaseModel
from autopeft.space import PeftConfig
from autopeft.tasks import load_task, majority_score
from autopeft.train.budget import Budget
from autopeft.train.data import prepare_data
from autopeft.train.trainer import run_trial

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm() -> BaseModel:
    return BaseModel.load("minilm")


def test_minilm_learns_sst2_beyond_the_majority_class(minilm, data_dir):
    budget = Budget(train_examples=400, val_examples=200, epochs=2, max_length=64, learning_rate=1e-3)
    task = load_task("glue/sst2", data_dir)
    data = prepare_data(task, minilm.tokenizer, budget, seed=0)
    majority = majority_score(task.spec, data.train.labels, data.val.labels)
    config = PeftConfig(layers=(False, False, False, True, True, True), parallel=48)
    result = run_trial(minilm, data, config, budget, seed=0)
    assert result.status == "complete", result.error
    assert result.backbone_params == 22_713_216  # all-MiniLM-L6-v2
    assert result.head_params == 148_610  # pooler-style dense 384x384 + classifier 384x2
    assert result.peft_params == 3 * (384 * 48 + 48 + 48 * 384 + 384)
    assert result.score > majority + 0.1, (result.score, majority)


def test_search_cli_on_minilm(tmp_path, data_dir, capsys):
    out = tmp_path / "s"
    code = main(
        [
            "search",
            "--model",
            "minilm",
            "--task",
            "glue/sst2",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--optimizer",
            "random",
            "--seed",
            "3",
            "--trials",
            "2",
            "--train-examples",
            "200",
            "--val-examples",
            "100",
            "--max-length",
            "48",
        ]
    )
    assert code == 0
    assert "Pareto front" in capsys.readouterr().out
    front = json.loads((out / "pareto.json").read_text())["trials"]
    assert front and all(t["backbone_params"] == 22_713_216 for t in front)
