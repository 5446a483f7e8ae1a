"""Full-fidelity runs: dev-split scoring, the results ledger, resuming, saved modules that load back onto
the base model."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from autopeft.build import SAVED_MANIFEST, load_saved
from autopeft.errors import UserError
from autopeft.methods import BASELINES, Method
from autopeft.records.trial import TrialResult
from autopeft.runs import ResultsLedger, RunRecord, RunSpec, run_specs
from autopeft.runs.ledger import RESULTS_FILE
from autopeft.space import PeftConfig
from autopeft.tasks import load_task
from autopeft.train.data import collate, prepare_final_data

CONFIG = Method(name="cfg", label="a config", kind="config", config=PeftConfig(layers=(1, 0, 1), serial=3, prefix=1))


def _specs(budget, methods, seeds=(0,), task="superglue/cb"):
    return [
        RunSpec(model="tiny", task=task, method=m, seed=s, budget=budget, role="baseline")
        for m in methods
        for s in seeds
    ]


def test_final_data_trains_on_a_fixed_subset_and_scores_on_dev(data_dir, tokenizer, tiny_budget):
    task = load_task("superglue/cb", data_dir)
    data = prepare_final_data(task, tokenizer, tiny_budget, data_seed=0)
    assert len(data.train) == 24 and len(data.val) == len(task.dev) == 56
    again = prepare_final_data(task, tokenizer, tiny_budget, data_seed=0)
    assert again.train.features == data.train.features
    everything = prepare_final_data(task, tokenizer, dataclasses.replace(tiny_budget, train_examples=None))
    assert len(everything.train) == len(task.train)


def test_a_task_without_dev_split_is_refused(toy, tokenizer, tiny_budget):
    with pytest.raises(UserError, match="dev split"):
        prepare_final_data(toy, tokenizer, tiny_budget)


def test_runs_are_recorded_and_a_rerun_skips_them(tmp_path, tiny_bert, data_dir, tiny_budget):
    specs = _specs(tiny_budget, [BASELINES["lora"], BASELINES["full"], CONFIG], seeds=(0, 1))
    lines: list[str] = []
    first = run_specs(specs, tmp_path, data_dir=data_dir, base=tiny_bert, echo=lines.append, save_adapters=False)
    assert (first.ran, first.skipped, first.failed) == (6, 0, 0)
    records = ResultsLedger(tmp_path).records()
    assert [(r.spec.method.name, r.spec.seed) for r in records] == [(s.method.name, s.seed) for s in specs]
    for record in records:
        assert record.result.ok and 0 <= record.result.score <= 1 and record.result.metric == "accuracy"
    full = next(r for r in records if r.spec.method.name == "full")
    assert full.result.params_pct == pytest.approx(100.0)
    # full fine-tuning trains with its own learning rate; that is part of what makes the run
    assert full.spec.effective_budget.learning_rate == BASELINES["full"].learning_rate != tiny_budget.learning_rate
    # seeds differ in initialisation and order, not in the data
    lora = [r for r in records if r.spec.method.name == "lora"]
    assert lora[0].key != lora[1].key
    second = run_specs(specs, tmp_path, data_dir=data_dir, base=tiny_bert, echo=lines.append)
    assert (second.ran, second.skipped) == (0, 6) and len(second.records) == 6
    assert "6 already finished" in lines[-1]


def test_a_run_cut_off_by_a_crash_is_run_again(tmp_path, tiny_bert, data_dir, tiny_budget):
    specs = _specs(tiny_budget, [BASELINES["ia3"], BASELINES["lora"]])
    run_specs(specs[:1], tmp_path, data_dir=data_dir, base=tiny_bert, echo=lambda _: None, save_adapters=False)
    ledger = ResultsLedger(tmp_path)
    with ledger.path.open("a") as fh:  # a crash while the second record was written
        fh.write('{"key": "abc", "spec": {')
    with pytest.warns(UserWarning, match="unreadable record"):
        outcome = run_specs(specs, tmp_path, data_dir=data_dir, base=tiny_bert, echo=lambda _: None)
    assert (outcome.ran, outcome.skipped) == (1, 1)
    with pytest.warns(UserWarning):
        assert [r.spec.method.name for r in ledger.records()] == ["ia3", "lora"]


def test_failed_runs_are_recorded_and_tried_again(tmp_path, tiny_bert, data_dir, tiny_budget):
    spec = _specs(tiny_budget, [BASELINES["lora"]])[0]
    failed = TrialResult(config=spec.method.to_dict(), status="failed", score=None, metric="accuracy", error="boom")
    ResultsLedger(tmp_path).append(RunRecord.now(spec, failed))
    assert ResultsLedger(tmp_path).completed_keys() == set()
    outcome = run_specs([spec], tmp_path, data_dir=data_dir, base=tiny_bert, echo=lambda _: None)
    assert outcome.ran == 1 and outcome.records[0].result.ok


@pytest.mark.parametrize("method", [CONFIG, BASELINES["mam"]], ids=lambda m: m.name)
def test_saved_modules_load_back_onto_the_base_model(tmp_path, tiny_bert, data_dir, tiny_budget, tokenizer, method):
    """The saved folder rebuilds the trained model on the pristine backbone: the same dev predictions."""
    outcome = run_specs(_specs(tiny_budget, [method]), tmp_path, data_dir=data_dir, base=tiny_bert, echo=lambda _: None)
    record = outcome.records[0]
    folder = tmp_path / record.saved
    manifest = json.loads((folder / SAVED_MANIFEST).read_text())
    assert manifest["labels"] == ["entailment", "contradiction", "neutral"]
    loaded = load_saved(tiny_bert.backbone, folder)
    data = prepare_final_data(load_task("superglue/cb", data_dir), tiny_bert.tokenizer, tiny_budget)
    batch = collate(list(data.val.features), data.pad_token_id)
    try:
        with torch.inference_mode():
            predictions = loaded.model.eval()(**batch).logits.argmax(-1).numpy()
    finally:
        loaded.release()
    accuracy = float(np.mean(predictions == data.val.labels))
    assert accuracy == pytest.approx(record.result.score)


def test_run_keys_of_existing_ledgers_stay_valid():
    """A budget field added later (probe_examples) must not change the key of a run recorded before
    it: the key decides what a resumed run skips. This spec and key are the first record of the
    reproduction's ledger (bench/repro/results)."""
    from autopeft.runs.ledger import RunSpec

    spec = {
        "budget": {
            "batch_size": 16,
            "epochs": 2.0,
            "eval_batch_size": 128,
            "evals_per_epoch": 1,
            "group_by_length": True,
            "learning_rate": 0.001,
            "max_length": 128,
            "max_steps": None,
            "train_examples": 1000,
            "val_examples": 500,
            "warmup_ratio": 0.06,
            "weight_decay": 0.0,
        },
        "data_seed": 0,
        "method": {
            "adapters": None,
            "config": {
                "ia3": False,
                "layers": [False, False, True, False, True, False],
                "lora": 0,
                "parallel": 0,
                "prefix": 1,
                "serial": 0,
            },
            "kind": "config",
            "label": "AutoPEFT 0.01",
            "learning_rate": None,
            "name": "autopeft-0.01",
            "source": "runs/repro-search trial 10 on glue/sst2",
        },
        "model": "minilm",
        "role": "autopeft",
        "seed": 0,
        "source_task": "glue/sst2",
        "task": "glue/cola",
    }
    assert RunSpec.from_dict(spec).key == "b024b7594c234247"
    # standardise_targets, added later still: a classification run's key ignores it either way
    for standardise in (False, True):
        spec["budget"]["standardise_targets"] = standardise
        assert RunSpec.from_dict(spec).key == "b024b7594c234247"


def test_standardised_targets_change_the_key_of_regression_runs_only():
    """On STS-B, standardised targets are a different experiment (a ledger on raw targets must not
    count it as done); raw targets keep the key of records made before the field existed, which
    spell it out as false."""
    from autopeft.methods import BASELINES
    from autopeft.runs.ledger import RunSpec
    from autopeft.train.budget import Budget

    def key(task: str, **budget) -> str:
        return RunSpec("minilm", task, BASELINES["lora"], 0, Budget(**budget)).key

    raw = RunSpec("minilm", "glue/stsb", BASELINES["lora"], 0, Budget(standardise_targets=False)).to_dict()
    assert RunSpec.from_dict(raw).key == key("glue/stsb", standardise_targets=False)
    without_it = copy.deepcopy(raw)
    del without_it["budget"]["standardise_targets"]
    assert RunSpec.from_dict(without_it).key == key("glue/stsb")  # a missing field takes the default
    assert key("glue/stsb", standardise_targets=True) != key("glue/stsb", standardise_targets=False)
    assert key("glue/sst2", standardise_targets=True) == key("glue/sst2", standardise_targets=False)
    # a local task's kind is unknown to the key: the field counts (a rerun rather than a wrong skip)
    assert key("/data/my-task", standardise_targets=True) != key("/data/my-task", standardise_targets=False)


@pytest.mark.parametrize("ledger", ["results", "stsb_standardised/results"])
def test_the_committed_ledgers_read_back_with_the_keys_they_were_written_with(ledger):
    """A resumed reproduction skips the runs of its ledger by key: every committed record must still
    read back with the key written beside it."""
    path = Path(__file__).resolve().parents[2] / "bench" / "repro" / ledger / RESULTS_FILE
    lines = path.read_text().splitlines()
    assert lines
    for line in lines:
        data = json.loads(line)
        assert RunRecord.from_dict(data).key == data["key"]
