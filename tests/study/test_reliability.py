"""One owner per search, every kill window recoverable, a missing ledger refused, a failing search stopped."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
from optuna.trial import TrialState
from test_search import BUDGET, _ledger, _settings

from autopeft.cli import main
from autopeft.errors import SearchFailed, UserError
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace
from autopeft.study.ledger import Ledger
from autopeft.study.ownership import Owner, SearchOwner
from autopeft.study.search import run_search

SPACE = SearchSpace.named("paper", 3, 32)


def _quiet(line: str) -> None:
    del line


def _config_of(params: dict) -> PeftConfig:
    """The configuration a trial's parameters (real values, as the study stores them) describe."""
    layers = tuple(params[f"layer_{i}"] for i in range(SPACE.num_layers))
    return PeftConfig(layers=layers, **{m: params[m] for m in SPACE.modules})


def _result(config: PeftConfig, score: float = 0.7) -> TrialResult:
    return TrialResult(config=config.to_dict(), status="complete", score=score, metric="accuracy", params_pct=1.0)


# --- one owner ------------------------------------------------------------------------------------


def test_a_second_process_on_the_same_directory_is_refused_naming_the_owner(tmp_path, toy_search_args, capsys):
    out = tmp_path / "s"
    with SearchOwner.acquire(out) as owner:  # as if another search ran in `out` now
        assert main(toy_search_args(out, "--train-examples", "100", "--optimizer", "random", "--trials", "1")) == 2
    err = capsys.readouterr().err
    assert "--out" in err and f"process {owner.owner.pid}" in err and "autopeft show" in err
    assert sorted(p.name for p in out.iterdir()) == [".autopeft.lock"]  # no settings, no ledger written


def test_the_directory_is_free_again_once_the_search_ends(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    run_search(_settings(toy_csv, trials=1), out, echo=_quiet, base=tiny_bert)
    with SearchOwner.acquire(out):  # no error: the search released it
        pass
    run_search(_settings(toy_csv, trials=2), out, echo=_quiet, base=tiny_bert)
    assert len(_ledger(out).results()) == 2


def test_a_live_owner_of_the_study_elsewhere_is_refused(tmp_path, toy_csv, tiny_bert):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    run_search(
        _settings(toy_csv, trials=1, storage=storage, study_name="s"), tmp_path / "a", echo=_quiet, base=tiny_bert
    )
    ledger = Ledger.load(storage, "s")
    other = Owner(pid=1, host="another-host", since="2026-11-30T00:00:00+00:00", token="t")
    record = {"pid": other.pid, "host": other.host, "since": other.since, "token": other.token}
    ledger.study.set_user_attr("autopeft_owner", json.dumps({**record, "heartbeat": time.time()}))
    with pytest.raises(UserError, match="another-host") as err:
        run_search(
            _settings(toy_csv, trials=2, storage=storage, study_name="s"), tmp_path / "b", echo=_quiet, base=tiny_bert
        )
    assert err.value.field == "study_name"
    # a heartbeat gone stale means its owner is gone: the study is taken over
    ledger.study.set_user_attr("autopeft_owner", json.dumps({**record, "heartbeat": time.time() - 3600}))
    run_search(
        _settings(toy_csv, trials=2, storage=storage, study_name="s"), tmp_path / "b", echo=_quiet, base=tiny_bert
    )


def test_a_dead_owner_on_this_host_does_not_block_the_study(tmp_path, toy_csv, tiny_bert):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    run_search(
        _settings(toy_csv, trials=1, storage=storage, study_name="s"), tmp_path / "a", echo=_quiet, base=tiny_bert
    )
    dead = {"pid": 2**22 + 7, "host": socket.gethostname(), "since": "x", "token": "t", "heartbeat": time.time()}
    Ledger.load(storage, "s").study.set_user_attr("autopeft_owner", json.dumps(dead))
    run_search(
        _settings(toy_csv, trials=2, storage=storage, study_name="s"), tmp_path / "a", echo=_quiet, base=tiny_bert
    )


# --- kill windows ---------------------------------------------------------------------------------


def test_a_kill_between_writing_the_result_and_telling_the_study_keeps_the_trial(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", SPACE, study_name="l")
    config = PeftConfig(layers=(True, False, True), serial=4)
    number = ledger.start(config)
    trial = ledger.study.trials[number]
    # what finish() had done when the kill came: the result written, the state not yet told
    result = json.dumps({**_result(config).to_dict(), "number": number})
    ledger.study._storage.set_trial_user_attr(trial._trial_id, "autopeft_result", result)

    reopened = Ledger.load(f"sqlite:///{tmp_path / 'l.db'}", "l")
    assert reopened.recover_interrupted() == []  # nothing to run again
    assert reopened.study.trials[number].state == TrialState.COMPLETE
    assert [r.number for r in reopened.results()] == [number]


def test_a_trial_is_created_with_its_configuration_in_one_write(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", SPACE, study_name="l")
    config = PeftConfig(layers=(True, True, False), parallel=8, prefix=1)
    number = ledger.start(config)
    trial = ledger.study.trials[number]
    assert trial.state == TrialState.RUNNING
    assert PeftConfig.from_dict(json.loads(trial.user_attrs["autopeft_config"])) == config
    assert _config_of(trial.params) == config


def test_orphans_of_older_versions_are_closed_and_do_not_shift_later_trials(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}", SPACE, study_name="l")
    ledger.study.enqueue_trial({d.name: 1 for d in SPACE.dimensions})  # a queued trial a kill left behind
    ledger.study.ask()  # and a started one that never got its configuration
    assert Ledger.load(f"sqlite:///{tmp_path / 'l.db'}", "l").recover_interrupted() == []
    config = PeftConfig(layers=(False, False, True), prefix=16)
    number = ledger.start(config)
    assert _config_of(ledger.study.trials[number].params) == config
    states = [t.state for t in ledger.study.trials]
    assert states.count(TrialState.WAITING) == 0 and states.count(TrialState.RUNNING) == 1


def test_resume_and_show_rewrite_reports_that_miss_a_trial(tmp_path, toy_search_args, capsys):
    out = tmp_path / "s"
    assert main(toy_search_args(out, "--train-examples", "100", "--optimizer", "random", "--trials", "2")) == 0
    full = (out / "trials.csv").read_text()
    cut = "\n".join(full.splitlines()[:-1]) + "\n"  # as if killed after the last trial, before the reports
    (out / "trials.csv").write_text(cut)
    assert main(["resume", str(out)]) == 0
    assert (out / "trials.csv").read_text() == full
    (out / "trials.csv").write_text(cut)
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    assert "rewritten" in capsys.readouterr().out and (out / "trials.csv").read_text() == full


# --- a ledger that is gone ------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["delete", "empty", "garbage"])
def test_a_search_whose_ledger_is_gone_is_refused(tmp_path, toy_search_args, capsys, damage):
    out = tmp_path / "s"
    assert main(toy_search_args(out, "--train-examples", "100", "--optimizer", "random", "--trials", "1")) == 0
    db = out / "study.db"
    if damage == "delete":
        db.unlink()
    else:
        db.write_bytes(b"" if damage == "empty" else b"not a database at all" * 100)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert main(["resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ledger" in err and "start over" in err, err
    assert main(["show", str(out)]) == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing replaced


# --- a failing search stops -----------------------------------------------------------------------


def _failing(monkeypatch, error: str) -> None:
    import autopeft.exec.local as local

    def fail(base, data, config, budget, *, seed, **kw):
        return TrialResult(config=config.to_dict(), status="failed", score=None, metric="accuracy", error=error)

    monkeypatch.setattr(local, "run_trial", fail)


def test_a_search_whose_trials_fail_alike_stops_with_exit_1(tmp_path, toy_search_args, capsys, monkeypatch):
    _failing(monkeypatch, "RuntimeError: shape '[6144]' is invalid for input of size 3072\ntraceback ...")
    out = tmp_path / "s"
    assert main(toy_search_args(out, "--train-examples", "100", "--optimizer", "random", "--trials", "10")) == 1
    err = capsys.readouterr().err
    assert "same error" in err and "shape '[6144]'" in err
    assert len(_ledger(out).results()) == 3 and (out / "trials.csv").is_file()


def test_a_search_whose_every_trial_failed_is_an_error(tmp_path, toy_csv, tiny_bert, monkeypatch):
    _failing(monkeypatch, "out of memory")
    with pytest.raises(SearchFailed, match="every trial failed"):
        run_search(_settings(toy_csv, trials=2, budget=BUDGET), tmp_path / "s", echo=_quiet, base=tiny_bert)


@pytest.mark.parametrize("storage", ["nosuchdb://host/db", "sqlite:////nonexistent-folder-xyz/ledger.db"])
def test_a_storage_that_cannot_be_opened_is_refused_before_anything_is_written(
    tmp_path, toy_search_args, capsys, storage
):
    out = tmp_path / "s"
    assert main(toy_search_args(out, "--train-examples", "100", "--storage", storage, "--trials", "1")) == 2
    err = capsys.readouterr().err
    assert "--storage" in err and "cannot be opened" in err and "sqlite:///" in err.split("Fix:")[1]
    assert not out.exists()


def test_repeated_kills_lose_at_most_the_running_trial_and_repeat_none(tmp_path, toy_search_args):
    """A small kill -9 loop (seeded moments): the drill of bench/kill_drill.py, sized for CI."""
    import os
    import signal
    import subprocess
    import sys

    from test_search import _cli

    from autopeft.study.search import open_results

    out = tmp_path / "s"
    args = toy_search_args(out, "--optimizer", "random", "--trials", "6", "--train-examples", "200", "--epochs", "3",
                           "--threads", "1")  # fmt: skip
    rng = np.random.default_rng(0)
    interrupted = 0
    for _ in range(3):
        # killed before it wrote its settings, a search is started again, not resumed
        proc = _cli("resume", str(out)) if (out / "search.json").exists() else _cli(*args)
        time.sleep(float(rng.uniform(6.0, 16.0)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if (out / "search.json").exists():
            now = _ledger(out).interrupted_count()
            assert now - interrupted <= 1  # at most the trial that was running
            interrupted = now
    assert (out / "search.json").exists(), "no kill came after start-up: widen the window"
    done = subprocess.run([sys.executable, "-m", "autopeft", "resume", str(out)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    _, results = open_results(out)
    configs = [json.dumps(r.config, sort_keys=True) for r in results]
    assert len(results) == 6 and len(set(configs)) == 6
    assert not _ledger(out).running()
