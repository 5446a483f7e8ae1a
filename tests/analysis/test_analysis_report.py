"""Rendering a search: config strings, tables, CSV, JSON and the plots."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from autopeft.analysis import ParetoFront, summarise
from autopeft.records.trial import TrialResult
from autopeft.render import (
    format_config,
    format_summary,
    hypervolume_figure,
    pareto_figure,
    pareto_table,
    plot_hypervolume,
    plot_pareto,
    trials_table,
    write_pareto_json,
    write_trials_csv,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"layers": [True, True, True, False, False, True], "serial": 12, "parallel": 0, "prefix": 3},
            "L[0,1,2,5] serial=12 prefix=3",
        ),
        (
            {
                "layers": [True, False, True],
                "serial": 12,
                "parallel": 0,
                "prefix": 3,
                "lora": 0,
                "ia3": False,
            },
            "L[0,2] serial=12 prefix=3",
        ),
        (
            {"layers": [False, True], "serial": 0, "parallel": 96, "prefix": 0, "lora": 8, "ia3": True},
            "L[1] parallel=96 lora=8 ia3",
        ),
        ({"layers": [True], "serial": 0, "parallel": 0, "prefix": 0}, "L[0] (no modules)"),
        ({"serial": 1, "extra": [1, 2], "zeta": 0.5, "alpha": None}, "serial=1 extra=[1,2] zeta=0.5"),
    ],
)
def test_format_config(config: dict, expected: str) -> None:
    assert format_config(config) == expected


def test_trials_table(study) -> None:
    text = trials_table(study)
    lines = text.splitlines()
    assert len(lines) == 2 + len(study)
    header = lines[0]
    for column in ["#", "status", "score (accuracy)", "params %", "PEFT params", "train s", "config"]:
        assert column in header
    assert "0.8000" in lines[2] and "L[0,1,2,5] serial=12 prefix=3" in lines[2]
    failed = next(line for line in lines if "failed" in line)
    assert "error: TrialError: loss is NaN at step 17" in failed
    assert "Traceback" not in failed
    # aligned: the config column starts at the same offset on every row
    offset = header.index("config")
    assert all(line[offset - 2 : offset] == "  " for line in lines[2:])
    assert all(line[offset] != " " for line in lines[2:])


def test_trials_table_long_error_is_shortened(make_trial) -> None:
    text = trials_table([make_trial(0, None, error="x" * 500)])
    assert "x" * 57 + "..." in text and "x" * 61 not in text


def test_tables_empty() -> None:
    assert "(no trials)" in trials_table([])
    assert "no complete trials" in pareto_table(ParetoFront.from_trials([]))


def test_pareto_table(study) -> None:
    lines = pareto_table(ParetoFront.from_trials(study)).splitlines()
    assert len(lines) == 2 + 4
    numbers = [int(line.split()[1]) for line in lines[2:]]
    assert numbers == [2, 0, 5, 3]
    assert "L[3,4,5] parallel=96 lora=8 ia3" in lines[-1]


def test_format_summary(study) -> None:
    text = format_summary(summarise(study))
    assert "7 (6 complete, 1 failed)" in text
    assert "best accuracy: 0.8400 (trial 3" in text
    assert "1 x TrialError: loss is NaN at step 17" in text
    assert "Pareto front (4 trials)" in text
    assert "best: none" in format_summary(summarise([]))


def _cell(value: object) -> str:
    """What a CSV cell holds for ``value`` once read back as text."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def test_trials_csv_round_trip(tmp_path: Path, study) -> None:
    """Every scalar field of every trial comes back from its row; each metric and each configuration
    key has a column of its own; missing values are empty cells."""
    path = write_trials_csv(study, tmp_path / "trials.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(study)
    # The learning curve (a list of evaluations) is the one field a flat table leaves to the ledger.
    scalar = [f.name for f in dataclasses.fields(TrialResult) if f.name not in ("curve", "metrics")]
    metric_names = sorted({name for t in study for name in t.metrics})
    config_keys = sorted({key for t in study for key in t.config})
    assert set(rows[0]) == {
        *scalar,
        *(f"metric_{name}" for name in metric_names),
        *(f"config_{key}" for key in config_keys),
    }
    for trial, row in zip(study, rows, strict=True):
        for name in scalar:
            assert row[name] == _cell(getattr(trial, name)), name
        for name in metric_names:
            assert row[f"metric_{name}"] == _cell(trial.metrics.get(name)), name
        for key in config_keys:
            assert row[f"config_{key}"] == _cell(trial.config.get(key)), key
        assert json.loads(row["config"]) == trial.config
        if trial.score is not None:
            assert float(row["score"]) == trial.score and float(row["params_pct"]) == trial.params_pct


def test_trials_csv_empty(tmp_path: Path) -> None:
    path = write_trials_csv([], tmp_path / "t.csv")
    assert path.read_text().splitlines() == [
        "number,status,score,metric,peft_params,peft_params_train,head_params,backbone_params,"
        "params_pct,train_seconds,eval_seconds,tokens_per_second,peak_memory_mb,proposal_seconds,seed,error,predicted_score,stopped_at,config"
    ]


def test_pareto_json(tmp_path: Path, study) -> None:
    front = ParetoFront.from_trials(study)
    path = write_pareto_json(front, tmp_path / "pareto.json")
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(front.to_dict()))
    assert [e["number"] for e in data["trials"]] == [2, 0, 5, 3]
    assert data["trials"][3]["config"]["ia3"] is True
    assert [o["attribute"] for o in data["objectives"]] == ["score", "params_pct"]


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_plot_many(tmp_path: Path, study) -> None:
    front = ParetoFront.from_trials(study)
    path = plot_pareto(study, front, tmp_path / "many" / "pareto.png", title="SST-2 search")
    _assert_png(path)


def test_plot_one(tmp_path: Path, make_trial) -> None:
    trials = [make_trial(0, 0.8, 0.3), make_trial(1, None)]
    _assert_png(plot_pareto(trials, ParetoFront.from_trials(trials), tmp_path / "one" / "p.png"))


@pytest.mark.parametrize("n_failed", [0, 2])
def test_plot_none_complete(tmp_path: Path, make_trial, n_failed: int) -> None:
    trials = [make_trial(i, None) for i in range(n_failed)]
    _assert_png(plot_pareto(trials, ParetoFront.from_trials(trials), tmp_path / "none" / "p.png"))


def test_plot_x_axis_is_log_and_symlog_with_zero_params(make_trial) -> None:
    positive = [make_trial(0, 0.5, 0.1), make_trial(1, 0.8, 2.0)]
    assert pareto_figure(positive, ParetoFront.from_trials(positive)).axes[0].get_xscale() == "log"
    # zero parameters (a head-only configuration) cannot sit on a log axis
    trials = [make_trial(0, 0.5, 0.0), make_trial(1, 0.8, 2.0), make_trial(2, 0.6, 3.0)]
    ax = pareto_figure(trials, ParetoFront.from_trials(trials)).axes[0]
    assert ax.get_xscale() == "symlog"
    assert ax.get_xlim()[0] <= 0.0 < 2.0 < 3.0 <= ax.get_xlim()[1]  # every point in view


def test_pareto_figure_draws_every_complete_trial(study) -> None:
    ax = pareto_figure(study, ParetoFront.from_trials(study), title="SST-2 search").axes[0]
    assert ax.get_title() == "SST-2 search"
    drawn = {tuple(xy) for collection in ax.collections for xy in collection.get_offsets()}
    assert drawn == {(t.params_pct, t.score) for t in study if t.ok}
    texts = sorted(text.get_text() for text in ax.texts)
    assert texts == ["#0", "#2", "#3", "#5", "1 failed trial not shown"]  # the front's trials are labelled


def test_plot_hypervolume_writes_png(tmp_path, make_trial):
    trials = [make_trial(0, 0.7, 1.0), make_trial(1, None), make_trial(2, 0.8, 0.5)]
    path = plot_hypervolume(trials, [0.63, 0.63, 0.76], tmp_path / "hv.png", reference_label="ref")
    assert path.read_bytes().startswith(b"\x89PNG")
    empty = plot_hypervolume([], [], tmp_path / "empty.png")
    assert empty.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="shape"):
        plot_hypervolume(trials, [0.1], tmp_path / "bad.png")


def test_hypervolume_figure_against_trials_and_minutes(make_trial) -> None:
    trials = [make_trial(0, 0.7, 1.0), make_trial(1, None), make_trial(2, 0.8, 0.5)]  # 14 s each
    by_count, by_time = hypervolume_figure(trials, [0.63, 0.63, 0.76], reference_label="ref").axes
    assert list(by_count.get_lines()[0].get_xdata()) == [1, 2, 3]
    assert list(by_time.get_lines()[0].get_xdata()) == pytest.approx([14 / 60, 28 / 60, 42 / 60])
    assert list(by_time.get_lines()[0].get_ydata()) == [0.63, 0.63, 0.76]
    assert by_count.get_ylabel() == "hypervolume (ref)"
