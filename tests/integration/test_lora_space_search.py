"""``--space lora`` end to end: a short search of a tiny Llama (the GP proposes from the third trial, with
the LoRA parameter table) and of a tiny T5 (two stacks) completes, and every trial's measured parameter
count is the one the table predicted."""

from __future__ import annotations

import json

import pytest
from tests.conftest import save_tiny_model

import autopeft
from autopeft.cli import main


@pytest.mark.parametrize(("model_type", "optimizer"), [("llama", "gp"), ("t5", "random")])
def test_a_short_lora_space_search_completes(model_type, optimizer, tmp_path, tokenizer, toy_csv, capsys):
    from autopeft.build import ParamTable, load_backbone
    from autopeft.space import PeftConfig, SearchSpace

    model_dir = save_tiny_model(tmp_path / model_type, model_type, tokenizer)
    out = tmp_path / "search"
    args = [
        "search", "--model", str(model_dir), "--task", str(toy_csv), "--text-columns", "sentence",
        "--label-column", "label", "--out", str(out), "--space", "lora", "--optimizer", optimizer,
        "--trials", "3", "--init-trials", "2", "--train-examples", "64", "--val-examples", "32",
        "--max-length", "16", "--quiet",
    ]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    trials = autopeft.load(out).trials
    assert [t.ok for t in trials] == [True] * 3, [t.error for t in trials]
    assert len({json.dumps(t.config, sort_keys=True) for t in trials}) == 3
    backbone = load_backbone(str(model_dir))
    space = SearchSpace.for_model_config("lora", backbone.config)
    table = ParamTable.measure(backbone, space)
    for trial in trials:
        config = PeftConfig.from_dict(trial.config)
        assert space.contains(config)
        assert trial.params_pct == pytest.approx(table.pct(config))
