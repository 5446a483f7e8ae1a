"""TensorBoard: a log directory per trial with its curve, final values and hparams summary, and one for
the search (read back with TensorBoard's EventAccumulator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tracking_records import made_up_trial

from autopeft.tracking.tensorboard_tracker import FOLDER, TensorBoardTracker

pytest.importorskip("tensorboard")


def _events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def _scalars(folder: Path, tag: str) -> list[tuple[int, float]]:
    return [(e.step, pytest.approx(e.value, abs=1e-6)) for e in _events(folder).Scalars(tag)]


def test_each_trial_gets_its_curve_final_values_and_hparams(tracked, report_files):
    tracker = TensorBoardTracker()
    assert tracker.start(tracked) == set()
    tracker.log_trial(made_up_trial(0), 1.5)
    tracker.log_trial(made_up_trial(1, "failed"), 1.5)
    tracker.finish(report_files, "finished")

    root = tracked.out_dir / FOLDER
    assert sorted(p.name for p in root.iterdir()) == ["search", "trial-0000", "trial-0001"]
    trial = root / "trial-0000"
    assert _scalars(trial, "curve/accuracy") == [(5, 0.6), (10, 0.7)]
    assert _scalars(trial, "score") == [(10, 0.7)] and _scalars(trial, "params_pct") == [(10, 0.3)]
    assert _scalars(trial, "peak_memory_mb") == [(10, 512.0)]
    hparams = _events(trial).PluginTagToContent("hparams")
    assert set(hparams) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"])
    values = start.session_start_info.hparams
    assert values["serial"].number_value == 4 and values["layers"].string_value == "0,2"
    assert values["status"].string_value == "complete"
    failed = _events(root / "trial-0001")
    assert "score" not in failed.Tags()["scalars"] and "train_seconds" in failed.Tags()["scalars"]

    search = _events(root / "search")
    assert _scalars(root / "search", "search/hypervolume") == [(0, 1.5), (1, 1.5)]
    assert _scalars(root / "search", "search/trial_score") == [(0, 0.7)]
    assert search.Tags()["images"] == ["report/pareto"]


def test_a_resumed_search_logs_only_the_trials_without_a_directory(tracked):
    first = TensorBoardTracker()
    first.start(tracked)
    first.log_trial(made_up_trial(0), None)
    first.finish([], "interrupted")
    root = tracked.out_dir / FOLDER
    (root / ".trial-0001").mkdir()  # a process killed while writing trial 1
    again = TensorBoardTracker()
    assert again.start(tracked) == {0}
    assert not (root / ".trial-0001").exists()
    again.log_trial(made_up_trial(1), None)
    again.finish([], "finished")
    assert sorted(p.name for p in root.iterdir()) == ["search", "trial-0000", "trial-0001"]
    assert _scalars(root / "trial-0000", "score") == [(10, 0.7)]  # written once
