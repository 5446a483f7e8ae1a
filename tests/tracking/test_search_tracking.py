"""``--report-to`` end to end: a tiny search logs every trial to MLflow and TensorBoard, a resume logs
no trial twice, a bad name or a missing package is refused before anything is written, and a tracker
that fails never fails the search."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from autopeft.cli import EXIT_OK, EXIT_USAGE, main
from autopeft.records.trial import TrialResult
from autopeft.tracking import TRACKERS, Backend, SearchEnd, TrackedSearch, Tracker

#: A two-trial random search of the toy CSV (two evaluations per trial: a curve of two points).
TINY = ("--optimizer", "random", "--trials", "2", "--train-examples", "40", "--threads", "1", "--evals-per-epoch", "2")


@pytest.fixture(autouse=True)
def _no_mlflow_environment(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)


def _mlflow_trials(out: Path) -> tuple[dict[str, object], dict[int, object]]:
    """The search run's artifacts and the trial runs by number, from the store in ``out``."""
    import mlflow

    from autopeft.tracking.mlflow_tracker import PARENT_TAG, TRIAL_TAG, default_tracking_uri

    client = mlflow.MlflowClient(tracking_uri=default_tracking_uri(out))
    runs = client.search_runs([client.get_experiment_by_name(out.name).experiment_id])
    (parent,) = [r for r in runs if PARENT_TAG not in r.data.tags]
    trials = {int(r.data.tags[TRIAL_TAG]): r for r in runs if PARENT_TAG in r.data.tags}
    assert len(trials) == len(runs) - 1, "a trial logged twice"
    artifacts = {a.path: a for a in client.list_artifacts(parent.info.run_id)}
    return artifacts, trials


def test_report_to_logs_every_trial_and_a_resume_logs_each_trial_once(tmp_path, toy_search_args):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    out = tmp_path / "search"
    assert main(toy_search_args(out, *TINY, "--report-to", "mlflow")) == EXIT_OK
    assert json.loads((out / "search.json").read_text())["report_to"] == ["mlflow"]
    artifacts, trials = _mlflow_trials(out)
    assert set(artifacts) == {"search.json", "trials.csv", "pareto.json", "pareto.png", "hypervolume.png"}
    assert sorted(trials) == [0, 1] and not (out / "tensorboard").exists()
    recorded = {r["number"]: r for r in json.loads((out / "pareto.json").read_text())["trials"]}
    for number, run in trials.items():
        assert run.info.status == "FINISHED" and run.data.params["layers"]
        assert {"score", "params_pct", "train_seconds", "peak_memory_mb", "curve/accuracy"} <= set(run.data.metrics)
        if number in recorded:
            assert run.data.metrics["score"] == pytest.approx(recorded[number]["score"])

    # one more trial, and TensorBoard added: it receives the two earlier trials too, MLflow only the new one
    assert main(["resume", str(out), "--trials", "3", "--report-to", "mlflow,tensorboard", "--quiet"]) == EXIT_OK
    _, trials = _mlflow_trials(out)
    assert sorted(trials) == [0, 1, 2]
    logged = sorted(p.name for p in (out / "tensorboard").iterdir())
    assert logged == ["search", "trial-0000", "trial-0001", "trial-0002"]


def _refused(capsys, argv: list[str], out: Path, *needles: str) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("autopeft: error: --report-to=") and "Fix:" in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not out.exists()


def test_an_unknown_tracker_is_refused_before_anything_is_written(tmp_path, capsys, toy_search_args):
    out = tmp_path / "search"
    _refused(capsys, toy_search_args(out, *TINY, "--report-to", "mlflow,wandb"), out, "'wandb'", "--report-to none")


def test_a_tracker_not_installed_is_refused_with_the_install_command(tmp_path, capsys, toy_search_args, monkeypatch):
    monkeypatch.setitem(TRACKERS, "mlflow", dataclasses.replace(TRACKERS["mlflow"], requires=("autopeft_missing",)))
    out = tmp_path / "search"
    _refused(capsys, toy_search_args(out, *TINY, "--report-to", "mlflow"), out, "pip install 'autopeft[tracking]'")


class Flaky(Tracker):
    """Starts, then raises on the first trial it is asked to log."""

    name = "flaky"

    def start(self, search: TrackedSearch) -> set[int]:
        return set()

    def log_trial(self, result: TrialResult, hypervolume: float | None) -> None:
        raise OSError("No space left on device")

    def finish(self, files: Sequence[Path], end: SearchEnd) -> None:
        raise AssertionError("a tracker that failed is not asked to finish")


def test_a_tracker_that_fails_does_not_fail_the_search(tmp_path, tiny_model_dir, toy_csv, monkeypatch, caplog):
    import autopeft

    pytest.importorskip("tensorboard")
    monkeypatch.setitem(TRACKERS, "flaky", Backend("flaky", ("json",), lambda: Flaky))
    out = tmp_path / "search"
    with caplog.at_level("WARNING", logger="autopeft.tracking"):
        result = autopeft.search(
            str(tiny_model_dir), str(toy_csv), text_columns="sentence", label_column="label", out=out,
            optimizer="random", trials=2, train_examples=40, val_examples=40, max_length=16, threads=1,
            quiet=True, report_to=("flaky", "tensorboard"),
        )  # fmt: skip
    assert len(result) == 2 and result.settings.report_to == ("flaky", "tensorboard")
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith("tracking to flaky failed while logging trial 0 (OSError: No space left on device)")
    # the other tracker got every trial
    assert sorted(p.name for p in (out / "tensorboard").glob("trial-*")) == ["trial-0000", "trial-0001"]
