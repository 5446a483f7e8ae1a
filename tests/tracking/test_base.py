"""The values every tracker logs, read off a trial record."""

from __future__ import annotations

from pathlib import Path

import pytest
from tracking_records import made_up_trial

from autopeft.tracking import TrackedSearch
from autopeft.tracking.base import config_params, curve_points, flatten, last_step, trial_metrics


def test_flatten_joins_nested_settings_and_lists():
    settings = {"budget": {"epochs": 1.0, "max_steps": None}, "objectives": ["score", "params"], "seed": 0}
    flat = {"budget.epochs": 1.0, "budget.max_steps": None, "objectives": "score,params", "seed": 0}
    assert flatten(settings) == flat


def test_configuration_as_parameters_named_as_in_the_ledger():
    params = config_params(made_up_trial(3))
    assert params == {
        "layers": "0,2",
        "layer_0": True,
        "layer_1": False,
        "layer_2": True,
        "serial": 4,
        "parallel": 0,
        "prefix": 0,
        "seed": 0,
    }


def test_final_values_leave_out_what_a_trial_lacks():
    complete = trial_metrics(made_up_trial(0))
    assert complete["score"] == 0.7 and complete["val/f1"] == 0.6 and complete["params_pct"] == 0.3
    assert complete["train_seconds"] == 1.5 and complete["peak_memory_mb"] == 512.0
    assert "predicted_score" not in complete and "proposal_seconds" not in complete
    failed = trial_metrics(made_up_trial(1, "failed"))
    assert "score" not in failed and failed["params_pct"] == pytest.approx(0.301)
    stopped = trial_metrics(made_up_trial(2, "stopped"))
    assert stopped["predicted_score"] == 0.7 and stopped["stopped_at"] == 0.5


def test_the_learning_curve_by_optimiser_step():
    trial = made_up_trial(0)
    assert curve_points(trial) == [
        ("curve/accuracy", 5, pytest.approx(0.6)),
        ("curve/f1", 5, 0.5),
        ("curve/accuracy", 10, 0.7),
        ("curve/f1", 10, 0.6),
    ]
    assert last_step(trial) == 10 and last_step(made_up_trial(1, "failed")) == 0


def test_a_tracked_search_needs_an_absolute_directory():
    with pytest.raises(ValueError, match="absolute"):
        TrackedSearch(out_dir=Path("runs/x"), name="x", study_name="x", title="t", metric="accuracy")
