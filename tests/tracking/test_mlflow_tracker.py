"""MLflow: one nested run per trial under the search's run, in a local store in the search directory
(read back with MLflow's own client, no server)."""

from __future__ import annotations

import pytest
from tracking_records import made_up_trial

from autopeft.tracking.mlflow_tracker import PARENT_TAG, TRIAL_TAG, MlflowTracker, default_tracking_uri

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def _no_mlflow_environment(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)


def _runs(uri: str, experiment: str) -> tuple[object, dict[int, object]]:
    """The search's run and the trial runs by trial number."""
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id])
    (parent,) = [r for r in runs if PARENT_TAG not in r.data.tags]
    trials = {int(r.data.tags[TRIAL_TAG]): r for r in runs if PARENT_TAG in r.data.tags}
    assert all(r.data.tags[PARENT_TAG] == parent.info.run_id for r in trials.values())
    assert len(trials) == len(runs) - 1  # no trial twice
    return parent, trials


def test_one_run_per_trial_under_the_search_run(tracked, report_files):
    tracker = MlflowTracker()
    assert tracker.start(tracked) == set()
    tracker.log_trial(made_up_trial(0), 1.5)
    tracker.log_trial(made_up_trial(1, "failed"), 1.5)
    tracker.log_trial(made_up_trial(2, "stopped"), None)
    tracker.finish(report_files, "finished")

    uri = default_tracking_uri(tracked.out_dir)
    assert (tracked.out_dir / "mlflow.db").is_file() and uri in tracker.where
    parent, trials = _runs(uri, "search")
    assert parent.info.status == "FINISHED" and parent.info.run_name == "search"
    assert parent.data.params["model"] == "tiny" and parent.data.params["budget.epochs"] == "1.0"
    assert parent.data.params["reference"] == "None"
    client = mlflow.MlflowClient(tracking_uri=uri)
    hypervolume = client.get_metric_history(parent.info.run_id, "hypervolume")
    assert [(m.step, m.value) for m in hypervolume] == [(0, 1.5), (1, 1.5)]  # by trial number
    scores = client.get_metric_history(parent.info.run_id, "trial_score")
    assert [(m.step, m.value) for m in scores] == [(0, 0.7)]  # complete trials only
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert artifacts == {"pareto.json", "pareto.png"}
    assert parent.info.artifact_uri.startswith((tracked.out_dir / "mlruns").as_uri())  # inside the search directory

    assert {n: r.info.status for n, r in trials.items()} == {0: "FINISHED", 1: "FAILED", 2: "KILLED"}
    complete = trials[0]
    assert complete.info.run_name == "trial 0" and complete.data.tags["autopeft.status"] == "complete"
    assert complete.data.params == {
        "layers": "0,2", "layer_0": "True", "layer_1": "False", "layer_2": "True",
        "serial": "4", "parallel": "0", "prefix": "0", "seed": "0",
    }  # fmt: skip
    metrics = complete.data.metrics
    assert metrics["score"] == 0.7 and metrics["params_pct"] == 0.3 and metrics["val/f1"] == 0.6
    assert metrics["train_seconds"] == 1.5 and metrics["peak_memory_mb"] == 512.0
    curve = client.get_metric_history(complete.info.run_id, "curve/accuracy")
    assert [(m.step, m.value) for m in curve] == [(5, pytest.approx(0.6)), (10, 0.7)]
    assert trials[1].data.tags["autopeft.error"].startswith("RuntimeError: loss is NaN")
    assert "score" not in trials[1].data.metrics
    assert trials[2].data.metrics["predicted_score"] == 0.7


def test_a_resumed_search_reopens_its_run_and_logs_only_what_is_missing(tracked, report_files):
    first = MlflowTracker()
    first.start(tracked)
    first.log_trial(made_up_trial(0), 1.0)
    first.finish(report_files, "interrupted")
    uri = default_tracking_uri(tracked.out_dir)
    parent, _ = _runs(uri, "search")
    assert parent.info.status == "KILLED"
    # a process killed while logging trial 1 left its run RUNNING
    client = mlflow.MlflowClient(tracking_uri=uri)
    client.create_run(parent.info.experiment_id, tags={PARENT_TAG: parent.info.run_id, TRIAL_TAG: "1"})

    again = MlflowTracker()
    settings = {**tracked.settings, "trials": 5, "device": "cuda"}  # raised on resume; a new setting
    assert again.start(type(tracked)(**{**tracked.__dict__, "settings": settings})) == {0}
    again.log_trial(made_up_trial(1), 2.0)
    again.finish(report_files, "finished")
    parent_again, trials = _runs(uri, "search")
    assert parent_again.info.run_id == parent.info.run_id and parent_again.info.status == "FINISHED"
    assert sorted(trials) == [0, 1] and trials[1].info.status == "FINISHED"
    assert parent_again.data.params["trials"] == "3" and parent_again.data.params["device"] == "cuda"


def test_the_standard_environment_variables_choose_the_store_and_the_experiment(tracked, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "team")
    tracker = MlflowTracker()
    tracker.start(tracked)
    tracker.log_trial(made_up_trial(0), None)
    tracker.finish([], "finished")
    assert not (tracked.out_dir / "mlflow.db").exists()
    _, trials = _runs(uri, "team")
    assert list(trials) == [0]


def test_the_default_store_stays_inside_a_directory_with_url_characters(tmp_path):
    out = tmp_path / "a?b#c"
    assert default_tracking_uri(out).endswith("/a%3Fb%23c/mlflow.db")
