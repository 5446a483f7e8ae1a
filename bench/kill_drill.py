"""Kill drill: ``kill -9`` a running search at seeded random moments, resume it each time, and check that
no finished trial is lost, none runs twice, and the study ends with exactly the trials asked for; then
start a second process on a running search (same directory; same storage and study from another
directory) and check that it is refused.

It uses a tiny random BERT saved like a checkpoint and the tests' toy task, so that a trial takes a few
seconds on a CPU; the search is the real CLI in a subprocess.

    .venv/bin/python bench/kill_drill.py --kills 20 --seed 0 --out bench/results/kill_drill.json

Prints a table (one row per kill: when, what the ledger held, trials lost) and writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _fixtures(work: Path) -> tuple[Path, Path]:
    """A tiny random BERT checkpoint and the toy CSV, as the tests build them."""
    import csv

    import torch
    from transformers import AutoTokenizer, BertModel

    sys.path.insert(0, str(REPO / "tests"))
    from autopeft.models import resolve_model
    from conftest import tiny_config, toy_task

    model_dir = work / "tiny-bert"
    torch.manual_seed(0)
    BertModel(tiny_config("bert")).save_pretrained(model_dir)
    AutoTokenizer.from_pretrained(resolve_model("minilm")).save_pretrained(model_dir)
    task = toy_task(300)
    data = work / "toy.csv"
    with data.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sentence", "label"])
        writer.writerows([t, int(y)] for t, y in zip(task.train.text_a, task.train.labels, strict=True))
    return model_dir, data


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "autopeft", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )


def _state(out: Path) -> dict[str, int]:
    """What the ledger holds: finished trials by status, interrupted ones, running ones, and repeated
    configurations among the finished (complete or stopped) trials."""
    import optuna

    from autopeft.study.search import open_search

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if not (out / "search.json").is_file():
        return {"finished": 0, "complete": 0, "failed": 0, "interrupted": 0, "running": 0, "repeated": 0}
    opened = open_search(out)
    study = optuna.load_study(study_name=opened.settings.study_name, storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials(deepcopy=False)
    interrupted = sum(
        1 for t in trials if t.state == optuna.trial.TrialState.FAIL and "autopeft_result" not in t.user_attrs
    )
    running = sum(1 for t in trials if t.state == optuna.trial.TrialState.RUNNING)
    kept = [json.dumps(r.config, sort_keys=True) for r in opened.results if r.status != "failed"]
    return {
        "finished": len(opened.results),
        "complete": sum(r.ok for r in opened.results),
        "failed": sum(r.status == "failed" for r in opened.results),
        "interrupted": interrupted,
        "running": running,
        "repeated": len(kept) - len(set(kept)),
    }


def _integrity(out: Path) -> str:
    with sqlite3.connect(out / "study.db") as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def drill(kills: int, seed: int, trials: int) -> dict:
    rng = np.random.default_rng(seed)
    work = Path(tempfile.mkdtemp(prefix="kill-drill-"))
    model_dir, data = _fixtures(work)
    out = work / "search"
    search = ["search", "--model", str(model_dir), "--task", str(data), "--text-columns", "sentence",
              "--label-column", "label", "--out", str(out), "--optimizer", "random", "--trials", str(trials),
              "--train-examples", "200", "--val-examples", "40", "--max-length", "16", "--epochs", "3",
              "--threads", "1"]  # fmt: skip
    rows = []
    for k in range(kills):
        before = _state(out)
        args = search if k == 0 else ["resume", str(out)]
        delay = float(rng.uniform(1.0, 12.0))
        proc = _cli(*args)
        time.sleep(delay)
        finished_early = proc.poll() is not None
        if not finished_early:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        after = _state(out)
        rows.append({
            "kill": k, "after_seconds": round(delay, 2), "exited_before_kill": finished_early,
            "finished_before": before["finished"], "finished_after": after["finished"],
            "lost": after["interrupted"] - before["interrupted"], "repeated": after["repeated"],
            "integrity": _integrity(out) if (out / "study.db").exists() else "no ledger yet",
        })  # fmt: skip
        print(
            f"kill {k:2d} at {delay:5.2f} s: finished {before['finished']:2d} -> {after['finished']:2d}, "
            f"lost {rows[-1]['lost']}, repeated {after['repeated']}, db {rows[-1]['integrity']}"
            + (" (it had exited)" if finished_early else "")
        )
        if after["finished"] >= trials:
            break
    final = subprocess.run(
        [sys.executable, "-m", "autopeft", "resume", str(out)], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    end = _state(out)
    concurrency = _second_processes(out, search, work)
    summary = {
        "kills": len(rows),
        "seed": seed,
        "trials_asked": trials,
        "final_exit": final.returncode,
        "final": end,
        "max_lost_per_kill": max((r["lost"] for r in rows), default=0),
        "repeated": end["repeated"],
        "integrity_ok": all(r["integrity"] in ("ok", "no ledger yet") for r in rows) and _integrity(out) == "ok",
        "exact_trials": end["finished"] == trials and end["running"] == 0,
        "second_processes": concurrency,
        "rows": rows,
    }
    return summary


def _second_processes(out: Path, search: list[str], work: Path) -> dict[str, int]:
    """Exit codes of a second process started while a search runs (once it owns its directory): on the
    same directory, and on the same storage and study from another directory; and the owner's own."""
    first = _cli("resume", str(out), "--trials", str(_state(out)["finished"] + 10))
    lock = out / ".autopeft.lock"
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None:
        if lock.is_file() and f'"pid": {first.pid},' in lock.read_text():
            break
        time.sleep(0.1)
    shared = [*search, "--storage", f"sqlite:///{out / 'study.db'}", "--study-name", "search"]
    shared[shared.index("--out") + 1] = str(work / "elsewhere")
    same_dir = _cli("resume", str(out))
    same_study = _cli(*shared)
    codes = {"same_directory": same_dir.wait(), "same_study": same_study.wait()}
    codes["owner_still_running"] = int(first.poll() is None)
    codes["owner"] = first.wait()
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", default=None, help="JSON file to write")
    args = parser.parse_args()
    summary = drill(args.kills, args.seed, args.trials)
    print(
        f"\n{summary['kills']} kills: at most {summary['max_lost_per_kill']} trial lost per kill; "
        f"{summary['repeated']} configurations run twice; final {summary['final']['finished']} of "
        f"{summary['trials_asked']} trials (exit {summary['final_exit']}); database integrity ok: "
        f"{summary['integrity_ok']}; second process on the same directory exit "
        f"{summary['second_processes']['same_directory']}, on the same study exit "
        f"{summary['second_processes']['same_study']}"
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
