"""Rendering: config strings, tables, CSV, JSON and the plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from autopeft.analysis import (
    ParetoFront,
    format_config,
    format_summary,
    pareto_table,
    plot_pareto,
    summarise,
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


def test_trials_csv_round_trip(tmp_path: Path, study) -> None:
    path = write_trials_csv(study, tmp_path / "trials.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(study)
    columns = list(rows[0])
    assert columns[:6] == ["number", "status", "score", "metric", "metric_accuracy", "metric_f1"]
    assert columns[6:21] == [
        "peft_params",
        "peft_params_train",
        "head_params",
        "backbone_params",
        "params_pct",
        "train_seconds",
        "eval_seconds",
        "tokens_per_second",
        "peak_memory_mb",
        "proposal_seconds",
        "seed",
        "error",
        "predicted_score",
        "stopped_at",
        "config",
    ]
    assert columns[21:] == [
        "config_ia3",
        "config_layers",
        "config_lora",
        "config_parallel",
        "config_prefix",
        "config_serial",
    ]
    assert len(columns) == 27
    first, failed, fourth = rows[0], rows[4], rows[3]
    assert int(first["number"]) == 0 and float(first["score"]) == 0.80
    assert float(first["params_pct"]) == 0.5 and int(first["peft_params"]) == 500
    assert json.loads(first["config"]) == study[0].config
    assert json.loads(first["config_layers"]) == study[0].config["layers"]
    assert first["config_prefix"] == "3" and first["config_lora"] == ""  # key absent in that config
    assert fourth["config_ia3"] == "True" and fourth["config_lora"] == "8"
    assert failed["status"] == "failed" and failed["score"] == "" and failed["metric_accuracy"] == ""
    assert failed["error"].startswith("TrialError: loss is NaN")


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


def test_plot_zero_params_uses_symlog(tmp_path: Path, make_trial) -> None:
    trials = [make_trial(0, 0.5, 0.0), make_trial(1, 0.8, 2.0), make_trial(2, 0.6, 3.0)]
    _assert_png(plot_pareto(trials, ParetoFront.from_trials(trials), tmp_path / "zero" / "p.png"))


def test_plot_hypervolume_writes_png(tmp_path, make_trial):
    from autopeft.analysis import plot_hypervolume

    trials = [make_trial(0, 0.7, 1.0), make_trial(1, None), make_trial(2, 0.8, 0.5)]
    path = plot_hypervolume(trials, [0.63, 0.63, 0.76], tmp_path / "hv.png", reference_label="ref")
    assert path.read_bytes().startswith(b"\x89PNG")
    empty = plot_hypervolume([], [], tmp_path / "empty.png")
    assert empty.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="shape"):
        plot_hypervolume(trials, [0.1], tmp_path / "bad.png")
