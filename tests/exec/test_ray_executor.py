"""Searches on Ray: two workers on a local Ray instance (2 CPUs, started once for this module), a
worker process killed mid-trial, and a search continued with other workers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from tests.conftest import tiny_search_budget, toy_search_settings  # noqa: E402

from autopeft.records.objectives import parse_objectives  # noqa: E402
from autopeft.study.ledger import Ledger  # noqa: E402
from autopeft.study.search import run_search  # noqa: E402
from autopeft.study.settings import SearchSettings  # noqa: E402

BUDGET = tiny_search_budget()

# the workers cannot import this test module (pytest put its folder on the driver's path only): the
# trial functions below travel to them by value
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray instance for the module (the executor leaves a Ray it did not start running)."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _settings(toy_csv: Path, **kw) -> SearchSettings:
    return toy_search_settings(toy_csv, **{"threads": 1, **kw})


def _ledger(out: Path) -> Ledger:
    return Ledger.load(f"sqlite:///{out / 'study.db'}", out.name, parse_objectives("score,params"))


def _form(result) -> tuple:
    """What a recorded trial holds, without its values: its fields and which of them are set."""
    d = result.to_dict()
    return tuple(sorted((k, v is None) for k, v in d.items() if k not in ("proposal_seconds",)))


def test_a_two_worker_search_records_a_ledger_like_a_local_one(tmp_path, toy_csv, tiny_bert):
    local = run_search(_settings(toy_csv), tmp_path / "local", echo=lambda s: None, base=tiny_bert)
    lines: list[str] = []
    parallel = run_search(_settings(toy_csv, workers=2), tmp_path / "ray", echo=lines.append, base=tiny_bert)
    assert len(parallel.results) == len(local.results) == 4
    assert all(r.status == "complete" for r in parallel.results)
    ledger = _ledger(tmp_path / "ray")
    recorded = ledger.results()
    assert sorted(r.number for r in recorded) == [0, 1, 2, 3] and not ledger.running()  # each once
    assert len({json.dumps(r.config, sort_keys=True) for r in recorded}) == 4  # no configuration twice
    assert [n for n, _ in ledger.hypervolumes()] == [0, 1, 2, 3]
    assert {_form(r) for r in recorded} == {_form(r) for r in _ledger(tmp_path / "local").results()}
    assert any(line.startswith("Ray: 2 CPUs") for line in lines)
    assert ray.is_initialized()  # a Ray the search did not start is left running


def _killing_trial(marker_dir: str, deaths: int):
    """A trial function that kills its worker process the first ``deaths`` times it runs the first
    configuration it is given (the victim), and runs every other trial as usual."""

    def trial(base, data, config, budget, **kw):
        from autopeft.train.trainer import run_trial

        marker = Path(marker_dir)
        victim = marker / "victim"
        try:
            with victim.open("x") as f:  # the first trial anywhere claims the victim's role
                f.write(config.key())
        except FileExistsError:
            pass
        if victim.read_text() == config.key():
            with (marker / "attempts").open("a") as f:
                f.write("x")
            if len((marker / "attempts").read_text()) <= deaths:
                os._exit(1)  # as a worker killed mid-trial (OOM killer, kill -9)
        return run_trial(base, data, config, budget, **kw)

    return trial


@pytest.mark.parametrize("deaths", [1, 2])
def test_a_worker_killed_mid_trial_retries_once_then_fails_the_trial(tmp_path, toy_csv, tiny_bert, monkeypatch, deaths):
    import autopeft.exec.ray_executor as ray_executor

    monkeypatch.setattr(ray_executor, "run_trial", _killing_trial(str(tmp_path), deaths))
    put, real_put = [], ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: put.append(type(value).__name__) or real_put(value, **kw))
    outcome = run_search(_settings(toy_csv, workers=2), tmp_path / "s", echo=lambda s: None, base=tiny_bert)
    # the backbone and the data went to the object store once, replacement workers included
    assert sorted(put) == ["BaseModel", "PreparedData"]
    victim = (tmp_path / "victim").read_text()
    assert len((tmp_path / "attempts").read_text()) == 2  # the victim ran twice: once, and its one retry
    assert len(outcome.results) == 4  # and the search went on to its budget
    by_config = {json.dumps(r.config, sort_keys=True): r for r in outcome.results}
    hit = by_config[json.dumps(json.loads(victim), sort_keys=True)]
    if deaths == 1:
        assert all(r.status == "complete" for r in outcome.results)
    else:
        assert hit.status == "failed" and "died 2 times" in (hit.error or "")
        assert sum(r.status == "complete" for r in outcome.results) == 3
    assert sorted(r.number for r in _ledger(tmp_path / "s").results()) == [0, 1, 2, 3]


def test_a_local_search_continues_on_two_workers(tmp_path, toy_csv, tiny_bert):
    from autopeft import api

    out = tmp_path / "s"
    first = run_search(_settings(toy_csv, trials=2), out, echo=lambda s: None, base=tiny_bert)
    result = api.resume(out, trials=4, workers=2, quiet=True, base=tiny_bert)
    assert len(result) == 4 and result.settings.workers == 2
    assert [r.to_dict() for r in result.trials[:2]] == [r.to_dict() for r in first.results]
    assert len({json.dumps(r.config, sort_keys=True) for r in result.trials}) == 4
