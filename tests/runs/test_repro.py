"""``autopeft reproduce`` end to end on a tiny model: search, pick, runs, report; a second call trains
nothing, even with the search's folder gone (the picks are kept)."""

from __future__ import annotations

import json
import shutil

from autopeft.cli import main as cli_main
from autopeft.runs import ResultsLedger


def main(args: list[str]) -> int:
    return cli_main(["reproduce", *args])


def test_reproduction_runs_and_resumes(tmp_path, tiny_model_dir, data_dir, capsys):
    settings = {
        "model": str(tiny_model_dir),
        "search": {
            "task": "superglue/cb",
            "optimizer": "random",
            "trials": 3,
            "seed": 0,
            "budget": {"train_examples": 24, "val_examples": 24, "max_length": 16, "batch_size": 8},
        },
        "pick_budgets_pct": [100.0],
        "tasks": ["superglue/cb", "glue/rte"],
        "baselines": "lora,ia3",
        "seeds": 2,
        "budget": {"train_examples": 24, "epochs": 1, "max_length": 16, "batch_size": 8},
    }
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    args = ["--settings", str(path), "--data-dir", str(data_dir), "--threads", "1"]
    args += ["--search-dir", str(tmp_path / "search"), "--out", str(tmp_path / "res"), "--report", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "12 runs: 0 already finished" in out  # (1 picked + 2 baselines) x 2 tasks x 2 seeds
    records = ResultsLedger(tmp_path / "res").records()
    assert len(records) == 12 and all(r.result.ok for r in records)
    # seed-major order: every method and task with seed 0 before any seed 1
    assert [r.spec.seed for r in records] == [0] * 6 + [1] * 6
    assert {"report.md", "report.json", "report.png"} <= {p.name for p in tmp_path.iterdir()}
    picks = json.loads((tmp_path / "res" / "picks.json").read_text())["methods"]
    assert [m["name"] for m in picks] == ["autopeft-100"]
    # runs/ is not in git: a later sitting on a fresh machine has the ledger and picks, not the search
    shutil.rmtree(tmp_path / "search")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "== search" not in out and "12 runs: 12 already finished" in out
    assert not (tmp_path / "search").exists()
    # a second reproduction (other tasks or budget) retrains the same picks into its own ledger
    other = [*args[: args.index("--out")], "--out", str(tmp_path / "other"), "--report", str(tmp_path / "other")]
    assert main([*other, "--picks", str(tmp_path / "nowhere.json")]) == 2
    assert "--picks" in capsys.readouterr().err
    assert main([*other, "--picks", str(tmp_path / "res" / "picks.json"), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "== search" not in out and "12 runs, 0 finished" in out and not (tmp_path / "search").exists()
    assert len(ResultsLedger(tmp_path / "res").records()) == 12
