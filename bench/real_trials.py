"""The real-trial comparison of issue 18, as pre-registered in ``bench/preregistration_real_trials.md``:
``saas``, ``gp``, ``tpe`` and ``random``, optimiser seeds 0-4, 50 real MiniLM trials each, on glue/sst2 at
the demo's fidelity (``--task sst2``) and on the second task that the pilot chose (``--task stsb``:
glue/stsb at the budget the pilot found, ``bench/results/real_trials/pilot/budgets.json``). Runs the
searches in a fixed order, seed by seed (every optimiser's seed k before any seed k+1, so that a partial
run still holds complete pairs), each through the command line; a search that exists is resumed, one
that is finished is skipped. Stop it at will and run it again.

    .venv/bin/python bench/real_trials.py                  # SST-2, all of them, resumable
    .venv/bin/python bench/real_trials.py --task stsb      # the second task (its saas-k start from
                                                           # warm/cold-k; see the pre-registration)
    .venv/bin/python bench/real_trials.py --status         # what is done
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "real_trials"
OPTIMISERS = ("random", "tpe", "gp", "saas")
SEEDS = range(5)
TRIALS = 50


def budget_flags(task: str) -> tuple[str, list[str]]:
    """The task's name and budget flags: SST-2 at the demo's fidelity, the second task at the pilot's budget
    (``bench/second_task_pilot.py``: its training examples and epochs; 400 validation examples, or a quarter
    of the training split if fewer; length 128)."""
    if task == "sst2":
        return "glue/sst2", ["--train-examples", "1000", "--val-examples", "400", "--max-length", "64"]
    if task == "stsb":
        pilot = json.loads((RESULTS / "pilot" / "budgets.json").read_text())["glue/stsb"]
        flags = ["--train-examples", str(pilot["train_examples"]), "--epochs", str(pilot["epochs"])]
        return "glue/stsb", [*flags, "--val-examples", "400", "--max-length", "128"]
    raise SystemExit(f"--task {task}: use sst2 or stsb")


def _done(folder: Path) -> int:
    """Trials the search's ledger holds as finished (complete or failed), from its trials.csv."""
    table = folder / "trials.csv"
    if not table.is_file():
        return 0
    return max(0, len(table.read_text().strip().splitlines()) - 1)


def _progress(plan: list[tuple[str, int, Path]]) -> str:
    """Trials done of the plan's, and the time left at the median trial's wall seconds so far (training and
    evaluation; proposals not counted)."""
    done = sum(min(_done(folder), TRIALS) for _, _, folder in plan)
    seconds = []
    for _, _, folder in plan:
        if (folder / "trials.csv").is_file():
            with open(folder / "trials.csv", newline="") as f:
                for row in csv.DictReader(f):
                    if row["train_seconds"] and row["eval_seconds"]:
                        seconds.append(float(row["train_seconds"]) + float(row["eval_seconds"]))
    total = len(plan) * TRIALS
    if not seconds or done == total:
        return f"{done} of {total} trials done"
    median = statistics.median(seconds)
    hours = (total - done) * median / 3600
    return f"{done} of {total} trials done; about {hours:.1f} h left at the median trial's {median:.0f} s"


def _command(task: str, optimiser: str, seed: int, folder: Path) -> list[str]:
    autopeft = [sys.executable, "-m", "autopeft"]
    if (folder / "search.json").is_file():
        return [*autopeft, "resume", str(folder), "--trials", str(TRIALS), "--quiet"]
    name, budget = budget_flags(task)
    return [
        *autopeft, "search", "--model", "minilm", "--task", name, "--space", "paper",
        "--optimizer", optimiser, "--optimizer-seed", str(seed), "--seed", "0", "--trials", str(TRIALS),
        "--batch", "1", "--init-trials", "10", *budget, "--out", str(folder), "--quiet",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sst2", choices=("sst2", "stsb"))
    parser.add_argument("--status", action="store_true", help="print the trials done per search and stop")
    args = parser.parse_args()
    plan = [(o, k, RESULTS / args.task / f"{o}-{k}") for k in SEEDS for o in OPTIMISERS]
    if args.status:
        print(json.dumps({f"{o}-{k}": _done(f) for o, k, f in plan}, indent=1))
        print(_progress(plan))
        return
    for optimiser, seed, folder in plan:
        if _done(folder) >= TRIALS:
            continue
        print(f"{optimiser} seed {seed}: {_done(folder)}/{TRIALS} done", flush=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        code = subprocess.call(_command(args.task, optimiser, seed, folder))
        if code not in (0, 1):  # 1: some trials failed, the search still ran; others stop the plan
            raise SystemExit(f"{optimiser} seed {seed} stopped with exit code {code}")


if __name__ == "__main__":
    main()
