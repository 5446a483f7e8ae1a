"""A node of the Ray cluster lost mid-search: the trial it ran runs again on the node that is left, the
search goes on with one slot fewer, and no trial waits for resources that are gone."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402
from tests.conftest import toy_search_settings  # noqa: E402

from autopeft.study.search import run_search  # noqa: E402
from autopeft.train.budget import Budget  # noqa: E402

TRIALS = 6
# long enough (a few seconds a trial) that both slots are busy when the node goes
BUDGET = Budget(train_examples=240, val_examples=40, epochs=4, max_length=16, batch_size=8, learning_rate=1e-2)


def _complete(db: Path) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_lost_node_costs_a_slot_and_its_trial_runs_again(tmp_path, toy_csv, tiny_bert):
    assert not ray.is_initialized()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    out = tmp_path / "s"

    def lose_the_worker_node() -> None:
        deadline = time.monotonic() + 180
        while _complete(out / "study.db") < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        cluster.remove_node(worker)

    try:
        settings = toy_search_settings(
            toy_csv, trials=TRIALS, budget=BUDGET, workers=2, ray_address=cluster.address, threads_per_trial=1
        )
        killer = threading.Thread(target=lose_the_worker_node, daemon=True)
        killer.start()
        lines: list[str] = []
        outcome = run_search(settings, out, echo=lines.append, base=tiny_bert)
        killer.join(timeout=5)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert len(outcome.results) == TRIALS
    assert all(r.status == "complete" for r in outcome.results), [r.error for r in outcome.results]
    assert len({json.dumps(r.config, sort_keys=True) for r in outcome.results}) == TRIALS
    died = [line for line in lines if "its worker process died" in line]
    assert died, "the node went while none of its trials ran"
    assert any("runs once more" in line for line in lines)
    assert any("1 at once" in line for line in lines)
