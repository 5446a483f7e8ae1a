"""The driver of a search on Ray killed with SIGKILL mid-search: ``autopeft resume`` finishes it, every
trial completed before the kill is kept as it was, and the trials in flight run again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from autopeft.cli import EXIT_OK, main
from autopeft.study.search import open_results

TRIALS = 8


def _complete(db: Path) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:  # not created yet, or locked for a moment
        return 0


@pytest.mark.slow
def test_resume_after_sigkill_of_the_driver_keeps_every_completed_trial(tmp_path, toy_search_args):
    out = tmp_path / "s"
    argv = toy_search_args(
        out, "--optimizer", "random", "--trials", str(TRIALS), "--train-examples", "200", "--epochs", "3",
        "--workers", "2", "--threads-per-trial", "1", "--quiet",
    )  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen([sys.executable, "-m", "autopeft", *argv], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _complete(out / "study.db") < 2 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert driver.poll() is None, "the search ended before it could be killed"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    _, before = open_results(out)
    assert len([r for r in before if r.ok]) >= 2

    assert main(["resume", str(out), "--workers", "2", "--threads-per-trial", "1", "--quiet"]) == EXIT_OK
    _, after = open_results(out)
    assert len(after) == TRIALS
    kept = {r.number: r.to_dict() for r in after}
    for r in before:  # nothing finished before the kill is lost or changed
        assert kept[r.number] == r.to_dict()
    configs = [json.dumps(r.config, sort_keys=True) for r in after]
    assert len(set(configs)) == len(configs)
