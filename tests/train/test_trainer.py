"""One budgeted trial on a tiny random model: it learns, records everything, and fails cleanly."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

from autopeft.space import PeftConfig
from autopeft.train.budget import Budget
from autopeft.train.data import collate, prepare_data
from autopeft.train.trainer import run_trial

CONFIG = PeftConfig(layers=(1, 1, 1), parallel=16, lora=4)


def _budget(**kw) -> Budget:
    return Budget(
        **{
            "train_examples": 160,
            "val_examples": 60,
            "epochs": 3,
            "max_length": 16,
            "batch_size": 16,
            "learning_rate": 5e-3,
            "evals_per_epoch": 1,
            **kw,
        }
    )


def test_prepare_data_carves_validation_from_training(toy, tokenizer):
    data = prepare_data(toy, tokenizer, _budget(), seed=0)
    assert len(data.train) == 160 and len(data.val) == 60
    train = {tuple(f["input_ids"]) for f in data.train.features}
    val = {tuple(f["input_ids"]) for f in data.val.features}
    # texts may repeat by chance in the toy data, but the split itself must be disjoint by index:
    assert len(train | val) <= 220
    assert max(len(f["input_ids"]) for f in data.train.features) <= 16


def test_collate_pads_dynamically():
    batch = collate(
        [{"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1]}, {"input_ids": [4], "attention_mask": [1]}], 0
    )
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_trial_learns_and_records_everything(tiny_base, tokenizer, make_toy):
    budget = _budget(train_examples=400, val_examples=100, epochs=4, learning_rate=1e-2)
    data = prepare_data(make_toy(500), tokenizer, budget, seed=0)
    seen = []
    result = run_trial(tiny_base, data, CONFIG, budget, seed=0, progress=lambda s, t, sc: seen.append((s, t, sc)))
    assert result.status == "complete", result.error
    assert result.metric == "accuracy"
    # The toy task is learnable (majority ~0.5); measured: 0.91 (BERT), 0.68 (RoBERTa), seeded.
    assert result.score > 0.6 and result.score > result.curve[0].score
    assert [e.step for e in result.curve] == [25, 50, 75, 100] and len(seen) == 4
    assert result.curve[-1].score == result.score
    assert set(result.metrics) == {"accuracy", "f1"}
    assert result.peft_params > 0 and result.head_params > 0 and result.backbone_params > 0
    assert result.params_pct == pytest.approx(100 * result.peft_params / result.backbone_params)
    assert result.train_seconds > 0 and result.tokens_per_second > 0 and result.peak_memory_mb > 0
    assert result.config == CONFIG.to_dict()


def test_trial_is_reproducible(tiny_bert, toy, tokenizer):
    budget = _budget(epochs=1)
    data = prepare_data(toy, tokenizer, budget, seed=0)
    a = run_trial(tiny_bert, data, CONFIG, budget, seed=5)
    b = run_trial(tiny_bert, data, CONFIG, budget, seed=5)
    assert a.score == b.score and a.metrics == b.metrics


def test_max_steps_and_evals_per_epoch(tiny_bert, toy, tokenizer):
    budget = _budget(max_steps=7, evals_per_epoch=2)
    data = prepare_data(toy, tokenizer, budget, seed=0)
    result = run_trial(tiny_bert, data, CONFIG, budget, seed=0)
    assert [e.step for e in result.curve] == [5, 7]


def test_probe_is_a_fixed_subset_of_the_validation_examples(toy, tokenizer):
    data = prepare_data(toy, tokenizer, _budget(), seed=0)
    probe = data.probe(20)
    assert len(probe) == 20 and probe.labels.shape == (20,)
    rows = {tuple(f["input_ids"]): i for i, f in enumerate(data.val.features)}
    picked = [rows[tuple(f["input_ids"])] for f in probe.features]
    assert all(data.val.labels[i] == label for i, label in zip(picked, probe.labels, strict=True))
    assert [tuple(f["input_ids"]) for f in data.probe(20).features] == [tuple(f["input_ids"]) for f in probe.features]
    assert data.probe(None) is data.val and data.probe(60) is data.val and data.probe(1000) is data.val


def test_probed_evaluations_leave_training_and_the_final_score_unchanged(tiny_bert, toy, tokenizer):
    """Intermediate evaluations on the probe are cheaper; the trial trains the same and its score is
    still on every validation example."""
    full = _budget(epochs=1, evals_per_epoch=4)
    probed = _budget(epochs=1, evals_per_epoch=4, probe_examples=20)
    data = prepare_data(toy, tokenizer, full, seed=0)
    a = run_trial(tiny_bert, data, CONFIG, full, seed=3)
    b = run_trial(tiny_bert, data, CONFIG, probed, seed=3)
    assert [e.step for e in a.curve] == [e.step for e in b.curve]
    assert [e.examples for e in a.curve] == [60] * len(a.curve)
    assert [e.examples for e in b.curve] == [20] * (len(b.curve) - 1) + [60]
    assert b.score == a.score and b.metrics == a.metrics
    # each evaluation's timings add up to the trial's
    assert sum(e.seconds for e in b.curve) == pytest.approx(b.eval_seconds)
    assert b.curve[-1].train_seconds == pytest.approx(b.train_seconds)
    assert all(x.train_seconds < y.train_seconds for x, y in zip(b.curve, b.curve[1:], strict=False))


@pytest.mark.parametrize(
    ("field", "value"),
    [("train_examples", 0), ("batch_size", 2.5), ("warmup_ratio", 1.0), ("weight_decay", -0.1), ("group_by_length", 1)],
)
def test_a_bad_budget_value_names_its_field(field, value):
    from autopeft.errors import UserError

    with pytest.raises(UserError) as err:
        Budget(**{field: value})
    assert err.value.field == field and err.value.value == value


@pytest.mark.parametrize("field", ["learning_rate", "epochs", "weight_decay", "warmup_ratio", "max_steps"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_budget_number_must_be_finite(field, value):
    from autopeft.errors import UserError

    with pytest.raises(UserError, match="must be a finite number") as err:
        Budget(**{field: value})
    assert err.value.field == field and f"`{field}`" in err.value.fix


def test_a_very_high_learning_rate_warns_but_is_kept():
    with pytest.warns(UserWarning, match=r"learning_rate=1e\+06 is above 1"):
        budget = Budget(learning_rate=1e6)
    assert budget.learning_rate == 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Budget(learning_rate=1.0)  # at the bound: no warning


@pytest.mark.parametrize("value", [0, -5, 2.5])
def test_probe_examples_is_checked(value):
    from autopeft.errors import UserError

    with pytest.raises(UserError, match="probe_examples"):
        _budget(probe_examples=value)


@pytest.mark.parametrize(
    ("per_epoch", "total", "evals", "expected"),
    [
        (63, 63, 4, [16, 32, 47, 63]),
        (63, 63, 2, [32, 63]),
        (63, 63, 1, [63]),
        (10, 25, 2, [5, 10, 15, 20, 25]),  # 2.5 epochs: the last step too
        (10, 7, 2, [5, 7]),  # max_steps inside the first epoch
        (3, 6, 8, [1, 2, 3, 4, 5, 6]),  # more evaluations than steps: every step once
    ],
)
def test_evaluations_are_evenly_spaced(per_epoch, total, evals, expected):
    from autopeft.train.trainer import eval_steps

    assert sorted(eval_steps(per_epoch, total, evals)) == expected


def test_nan_loss_fails_the_trial_not_the_caller(tiny_bert, toy, tokenizer, monkeypatch):
    import autopeft.train.trainer as trainer

    monkeypatch.setattr(trainer, "_loss", lambda logits, labels, regression: logits.sum() * float("nan"))
    budget = _budget(epochs=1)
    data = prepare_data(toy, tokenizer, budget, seed=0)
    result = run_trial(tiny_bert, data, CONFIG, budget, seed=0)
    assert result.status == "failed" and result.score is None
    assert "loss is nan at step 1" in result.error
    assert result.peft_params > 0  # what was measured before the failure is kept


def test_out_of_memory_and_bad_configs_are_recorded(tiny_bert, toy, tokenizer, monkeypatch):
    budget = _budget(epochs=1)
    data = prepare_data(toy, tokenizer, budget, seed=0)
    bad = run_trial(tiny_bert, data, PeftConfig(layers=(1,) * 7, serial=3), budget, seed=0)
    assert bad.status == "failed" and "layer bits" in bad.error

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")

    monkeypatch.setattr(torch.optim.AdamW, "step", oom)
    result = run_trial(tiny_bert, data, CONFIG, budget, seed=0)
    assert result.status == "failed" and result.error.startswith("out of memory")


def _regression_data(toy, tokenizer, budget, offset: float = 3.0, spread: float = 5.0):
    """The toy task as regression: targets ``label * spread + offset``."""
    from dataclasses import replace

    spec = replace(toy.spec, kind="regression", labels=None, metrics=("pearson", "spearman"), main_metric="spearman")
    train = replace(toy.train, labels=toy.train.labels.astype(np.float32) * spread + offset)
    return prepare_data(replace(toy, spec=spec, train=train), tokenizer, budget, seed=0)


def test_regression_task(tiny_bert, toy, tokenizer):
    budget = _budget(epochs=2)
    data = _regression_data(toy, tokenizer, budget, offset=0.0)
    result = run_trial(tiny_bert, data, CONFIG, budget, seed=0)
    assert result.status == "complete", result.error
    assert result.metric == "spearman" and -1 <= result.score <= 1


def test_standardised_targets_train_on_z_scores_and_predict_in_task_units(tiny_bert, toy, tokenizer, monkeypatch):
    from autopeft.train import trainer
    from autopeft.train.data import eval_batches

    budget = _budget(epochs=1)
    data = _regression_data(toy, tokenizer, budget)
    mean, std = trainer.target_scale(data, budget)
    assert mean == pytest.approx(float(data.train.labels.mean()), rel=1e-6)
    assert std == pytest.approx(float(data.train.labels.std()), rel=1e-6) and std > 1
    seen_labels = []
    loss = trainer._loss
    monkeypatch.setattr(trainer, "_loss", lambda lo, la, r: seen_labels.append(la.clone()) or loss(lo, la, r))
    kept = {}

    def score_trained(built) -> None:  # the trained model exists until the trial releases it
        model = built.model.eval()
        with torch.inference_mode():
            batches = eval_batches(data.val, 128, data.pad_token_id)
            kept["preds"] = np.concatenate([model(**b).logits.squeeze(-1).numpy() for _, b in batches])
        kept["again"] = trainer.evaluate(model, data, 128, torch.device("cpu"))

    result = run_trial(tiny_bert, data, CONFIG, budget, seed=0, on_trained=score_trained)
    assert result.status == "complete", result.error
    # the loss saw z-scores of the training targets (means ~0 over the epoch), not 3..8
    assert abs(torch.cat(seen_labels).mean().item()) < 0.2 and torch.cat(seen_labels).min() < 0
    # the trained model is rescaled: its raw outputs are in the task's units, and scoring them
    # without a scale reproduces the trial's own final evaluation
    assert abs(kept["preds"].mean() - mean) < std  # near the targets' mean, not near 0
    again = kept["again"]
    assert again["pearson"] == pytest.approx(result.metrics["pearson"], abs=1e-5)
    assert again["spearman"] == pytest.approx(result.metrics["spearman"], abs=1e-5)


def test_raw_targets_and_classification_are_left_alone(toy, tokenizer):
    from autopeft.train.trainer import target_scale

    budget = _budget()
    assert target_scale(_regression_data(toy, tokenizer, budget), Budget(standardise_targets=False)) is None
    assert target_scale(prepare_data(toy, tokenizer, budget, seed=0), budget) is None


def test_a_saved_budget_reads_back_and_a_missing_field_takes_the_default():
    from autopeft.errors import UserError

    budget = Budget(train_examples=None, epochs=2.0, group_by_length=False, standardise_targets=False)
    assert Budget.from_dict(budget.to_dict()) == budget
    assert Budget.from_dict({"epochs": 2.0}) == Budget(epochs=2.0)
    with pytest.raises(UserError, match="epoch"):
        Budget.from_dict({"epoch": 2.0})
    with pytest.raises(UserError, match="standardise_targets"):
        Budget(standardise_targets="yes")


def _encoded(lengths: list[int]):
    from autopeft.train.data import Encoded

    feats = tuple({"input_ids": [5] * n, "attention_mask": [1] * n} for n in lengths)
    return Encoded(features=feats, labels=np.arange(len(lengths)))


@pytest.mark.parametrize("group", [False, True])
def test_every_example_once_per_epoch_and_seeded(group):
    from autopeft.train.data import train_batches

    data = _encoded(list(np.random.default_rng(0).integers(1, 60, size=1003)))
    run = [
        [labels.tolist() for _, labels in train_batches(data, 16, np.random.default_rng(3), 0, group_by_length=group)]
        for _ in range(2)
    ]
    assert run[0] == run[1]  # seeded
    seen = sorted(i for batch in run[0] for i in batch)
    assert seen == list(range(1003)) and len(run[0]) == 63


def test_length_grouping_cuts_padding_and_keeps_batches_random():
    from autopeft.train.data import GROUP_WINDOW, train_batches

    rng = np.random.default_rng(0)
    lengths = list(rng.integers(3, 64, size=2000))
    data = _encoded(lengths)

    def padded(group: bool, seed: int) -> tuple[int, list[list[int]]]:
        out = list(train_batches(data, 16, np.random.default_rng(seed), 0, group_by_length=group))
        return sum(b["input_ids"].numel() for b, _ in out), [labels.tolist() for _, labels in out]

    (random_tokens, _), (grouped_tokens, batches) = padded(False, 1), padded(True, 1)
    assert grouped_tokens < 0.7 * random_tokens and grouped_tokens >= sum(lengths)
    # batches come in random order, not sorted by length across the epoch
    maxima = [max(lengths[i] for i in b) for b in batches]
    assert maxima != sorted(maxima) and maxima != sorted(maxima, reverse=True)
    # another seed groups other examples together
    assert padded(True, 2)[1][0] != batches[0]
    assert len(lengths) > GROUP_WINDOW * 16


def test_ungrouped_trial_learns_too(tiny_bert, tokenizer, make_toy):
    """The grouped path is the default (``test_trial_learns_and_records_everything``); random batches still work."""
    budget = _budget(train_examples=400, val_examples=100, epochs=4, learning_rate=1e-2, group_by_length=False)
    data = prepare_data(make_toy(500), tokenizer, budget, seed=0)
    result = run_trial(tiny_bert, data, CONFIG, budget, seed=0)
    assert result.ok and result.score > 0.6


def test_gradient_checkpointing_trains_the_same_model(tiny_bert, toy):
    """Activations recomputed in the backward pass (dropout's random state replayed): the same curve."""
    budget = _budget(epochs=1)
    data = prepare_data(toy, tiny_bert.tokenizer, budget, seed=0)
    plain = run_trial(tiny_bert, data, CONFIG, budget, seed=0)
    checkpointed = run_trial(
        tiny_bert, data, CONFIG, Budget(**{**budget.to_dict(), "gradient_checkpointing": True}), seed=0
    )
    assert plain.status == checkpointed.status == "complete", (plain.error, checkpointed.error)
    assert checkpointed.score == pytest.approx(plain.score, abs=1e-6)
    assert not tiny_bert.backbone.is_gradient_checkpointing  # switched off again with the trial's release


def test_bf16_autocast_trains_on_the_cpu(tiny_bert, toy):
    budget = _budget(epochs=1, dtype="bf16")
    data = prepare_data(toy, tiny_bert.tokenizer, budget, seed=0)
    result = run_trial(tiny_bert, data, CONFIG, budget, seed=0)
    assert result.status == "complete", result.error
    assert all(p.dtype == torch.float32 for p in tiny_bert.backbone.parameters())  # weights stay fp32


def test_a_precision_autopeft_does_not_train_in_is_refused_by_field():
    from autopeft.errors import UserError

    with pytest.raises(UserError) as err:
        Budget(dtype="int8")
    assert err.value.field == "dtype" and "bf16" in err.value.fix


def test_a_configuration_with_a_learning_rate_trains_with_it():
    from autopeft.methods import Method
    from autopeft.train.trainer import learning_rate

    budget = _budget(learning_rate=1e-3)
    assert learning_rate(CONFIG, budget) == 1e-3
    searched = PeftConfig(layers=(1, 1, 1), parallel=16, learning_rate=3e-4)
    assert learning_rate(searched, budget) == 3e-4
    picked = Method(name="autopeft-1", label="picked", kind="config", config=searched)
    assert learning_rate(picked, budget) == 3e-4  # retraining a pick keeps the rate the search chose


def test_the_learning_rate_warms_up_from_the_first_step_to_the_peak_then_decays_to_zero() -> None:
    from autopeft.train.trainer import lr_factor

    factors = [lr_factor(s, warmup=3, total=10) for s in range(10)]
    assert factors[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])  # the first step already trains
    assert factors[3] == pytest.approx(1.0)
    assert all(a > b for a, b in itertools.pairwise(factors[3:]))  # then strictly down
    assert lr_factor(10, warmup=3, total=10) == 0.0
    assert lr_factor(0, warmup=0, total=10) == 1.0  # no warmup: the peak at once
