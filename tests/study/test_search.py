"""The search loop and its ledger: results on disk after every trial, resume after a crash or kill -9."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import tiny_search_budget, toy_search_settings

from autopeft.errors import UserError
from autopeft.study.ledger import Ledger
from autopeft.study.search import open_results, run_search
from autopeft.study.settings import SearchSettings

BUDGET = tiny_search_budget()


def _ledger(out: Path, objectives: str = "score,params") -> Ledger:
    from autopeft.records.objectives import parse_objectives

    return Ledger.load(f"sqlite:///{out / 'study.db'}", out.name, parse_objectives(objectives))


def _settings(toy_csv: Path, **kw) -> SearchSettings:
    return toy_search_settings(toy_csv, **kw)


def test_search_writes_ledger_and_reports(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    lines: list[str] = []
    outcome = run_search(_settings(toy_csv), out, echo=lines.append, base=tiny_bert)
    assert len(outcome.results) == 4
    assert [r.number for r in outcome.results] == [0, 1, 2, 3]
    files = {"search.json", "study.db", "trials.csv", "pareto.json", "pareto.png", "hypervolume.png"}
    assert {p.name for p in out.iterdir()} >= files
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto["trials"] and all("params_pct" in t and "config" in t for t in pareto["trials"])
    assert len((out / "trials.csv").read_text().strip().splitlines()) == 5
    settings, results = open_results(out)
    assert settings.trials == 4 and [r.to_dict() for r in results] == [r.to_dict() for r in outcome.results]
    assert any("[trial 4/4]" in line for line in lines)
    # the ledger is a plain Optuna study with both objectives
    ledger = _ledger(out)
    assert len(ledger.study.best_trials) >= 1
    from autopeft.analysis.hypervolume import hypervolume_curve

    recorded = ledger.hypervolumes()  # recorded after every trial
    assert [n for n, _ in recorded] == [0, 1, 2, 3]
    assert [hv for _, hv in recorded] == pytest.approx(list(hypervolume_curve(outcome.results)))
    assert all(b >= a for (_, a), (_, b) in itertools.pairwise(recorded)) and recorded[-1][1] > 0
    configs = [r.config for r in outcome.results]
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == 4  # no repeats


def test_rerun_continues_and_extends(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    first = run_search(_settings(toy_csv, trials=2), out, echo=lambda s: None, base=tiny_bert)
    again = run_search(_settings(toy_csv, trials=2), out, echo=lambda s: None, base=tiny_bert)
    assert [r.to_dict() for r in again.results] == [r.to_dict() for r in first.results]  # nothing re-run
    more = run_search(_settings(toy_csv, trials=3), out, echo=lambda s: None, base=tiny_bert)
    assert len(more.results) == 3 and more.results[:2] == first.results


def test_rerun_with_other_settings_is_refused(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    run_search(_settings(toy_csv, trials=1), out, echo=lambda s: None, base=tiny_bert)
    with pytest.raises(UserError, match="seed") as err:
        run_search(_settings(toy_csv, trials=1, seed=1), out, echo=lambda s: None, base=tiny_bert)
    assert "resume" in str(err.value)


def test_crash_mid_trial_loses_only_that_trial(tmp_path, toy_csv, tiny_bert, monkeypatch):
    import autopeft.study.search as search

    out = tmp_path / "s"
    real = search.LocalExecutor.run
    calls = {"n": 0}

    def crashing(self, requests):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if the process died while trial 3 trained
        yield from real(self, requests)

    monkeypatch.setattr(search.LocalExecutor, "run", crashing)
    with pytest.raises(KeyboardInterrupt):
        run_search(_settings(toy_csv), out, echo=lambda s: None, base=tiny_bert)
    ledger = _ledger(out)
    assert len(ledger.results()) == 2 and len(ledger.running()) == 1
    interrupted_config = ledger.running()[0][1]

    monkeypatch.setattr(search.LocalExecutor, "run", real)
    outcome = run_search(_settings(toy_csv), out, echo=lambda s: None, base=tiny_bert)
    assert len(outcome.results) == 4
    assert outcome.results[2].config == interrupted_config.to_dict()  # the interrupted trial ran again
    assert _ledger(out).interrupted_count() == 1


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "autopeft", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def test_kill_9_then_resume(tmp_path, toy_search_args):
    out = tmp_path / "s"
    args = toy_search_args(out, "--optimizer", "random", "--trials", "5", "--train-examples", "200",
                           "--epochs", "3", "--threads", "1")  # fmt: skip
    proc = _cli(*args)
    deadline = time.time() + 120
    ledger_rows = 0
    while time.time() < deadline and proc.poll() is None:
        csv = out / "trials.csv"
        ledger_rows = len(csv.read_text().strip().splitlines()) - 1 if csv.exists() else 0
        if ledger_rows >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stdout.read()
    time.sleep(0.3)  # into the next trial
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ledger = _ledger(out)
    kept = ledger.results()
    assert 2 <= len(kept) < 5 and len(ledger.running()) <= 1

    done = subprocess.run(
        [sys.executable, "-m", "autopeft", "resume", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _, results = open_results(out)
    assert len(results) == 5
    assert [r.to_dict() for r in results[: len(kept)]] == [r.to_dict() for r in kept]  # finished work kept
    assert "Pareto front" in done.stdout


def test_storage_url_elsewhere_is_remembered(tmp_path, toy_csv, tiny_bert):
    db = tmp_path / "elsewhere" / "ledger.db"
    db.parent.mkdir()
    out = tmp_path / "s"
    run_search(_settings(toy_csv, trials=1, storage=f"sqlite:///{db}"), out, echo=lambda s: None, base=tiny_bert)
    assert db.is_file() and not (out / "study.db").exists()
    settings, results = open_results(out)
    assert settings.storage == f"sqlite:///{db}" and len(results) == 1


def test_searches_share_one_storage_as_separate_studies(tmp_path, toy_csv, tiny_bert):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = run_search(_settings(toy_csv, trials=1, storage=url), tmp_path / "a", echo=lambda s: None, base=tiny_bert)
    b = run_search(_settings(toy_csv, trials=2, storage=url), tmp_path / "b", echo=lambda s: None, base=tiny_bert)
    assert len(open_results(tmp_path / "a")[1]) == 1 and len(open_results(tmp_path / "b")[1]) == 2
    assert a.results[0].to_dict() == open_results(tmp_path / "a")[1][0].to_dict()
    assert len(b.results) == 2
    with pytest.raises(UserError, match="storage"):
        other = f"sqlite:///{tmp_path / 'other.db'}"
        run_search(_settings(toy_csv, trials=1, storage=other), tmp_path / "a", echo=lambda s: None, base=tiny_bert)


def test_gp_search_gets_exact_parameter_counts(tmp_path, toy_csv, tiny_bert):
    """The model-based optimiser runs in the search loop and knows each configuration's params %."""
    lines: list[str] = []
    settings = _settings(toy_csv, optimizer="gp", init_trials=2, trials=3)
    outcome = run_search(settings, tmp_path / "s", echo=lines.append, base=tiny_bert)
    assert len(outcome.results) == 3 and all(r.ok for r in outcome.results)
    assert any("measuring the parameter count" in line for line in lines)
    assert any("proposed 1 configuration(s) in" in line for line in lines)


def test_batches_run_and_record_their_proposal_time(tmp_path, toy_csv, tiny_bert):
    lines: list[str] = []
    outcome = run_search(_settings(toy_csv, batch=3, trials=5), tmp_path / "s", echo=lines.append, base=tiny_bert)
    assert len(outcome.results) == 5
    proposed = [line for line in lines if line.startswith("proposed ")]
    assert [line.split()[1] for line in proposed] == ["3", "2"]  # the last batch only fills up the trials
    times = [r.proposal_seconds for r in outcome.results]
    assert all(t is not None and t >= 0 for t in times)
    assert times[0] == times[1] == times[2] and times[3] == times[4]  # one ask per batch
    assert "proposal_seconds" in (tmp_path / "s" / "trials.csv").read_text().splitlines()[0]
    # trial announcements come one at a time, each before its own progress lines
    starts = [i for i, line in enumerate(lines) if line.startswith("[trial ")]
    assert len(starts) == 5 and all(b - a > 1 for a, b in itertools.pairwise(starts))


def test_a_third_objective_gets_a_fixed_reference_from_the_first_trial(tmp_path, toy_csv, tiny_bert):
    from autopeft.analysis.hypervolume import DEFAULT_COST_FACTOR, hypervolume_curve
    from autopeft.records.objectives import parse_objectives

    settings = _settings(toy_csv, objectives=("score", "params", "time"), trials=3)
    outcome = run_search(settings, tmp_path / "s", echo=lambda s: None, base=tiny_bert)
    ledger = Ledger.load(f"sqlite:///{tmp_path / 's' / 'study.db'}", "s", settings.objective_list)
    first = outcome.results[0]
    assert ledger.get_reference() == pytest.approx([0.0, 10.0, DEFAULT_COST_FACTOR * first.train_seconds])
    assert len(ledger.study.directions) == 3
    objectives = parse_objectives("score,params,time")
    expected = hypervolume_curve(outcome.results, objectives, ledger.get_reference())
    assert [hv for _, hv in ledger.hypervolumes()] == pytest.approx(list(expected))
    # resuming keeps the recorded reference (it is not recomputed from other trials)
    run_search(_settings(toy_csv, objectives=("score", "params", "time"), trials=4), tmp_path / "s",
               echo=lambda s: None, base=tiny_bert)  # fmt: skip
    reopened = Ledger.load(f"sqlite:///{tmp_path / 's' / 'study.db'}", "s", settings.objective_list)
    assert reopened.get_reference() == pytest.approx(ledger.get_reference())


def test_a_user_reference_point_is_used_and_part_of_the_search(tmp_path, toy_csv, tiny_bert):
    from autopeft.analysis.hypervolume import hypervolume_curve

    settings = _settings(toy_csv, reference={"score": 0.3}, trials=2)
    outcome = run_search(settings, tmp_path / "s", echo=lambda s: None, base=tiny_bert)
    ledger = _ledger(tmp_path / "s")
    assert ledger.get_reference() == [0.3, 10.0]
    expected = hypervolume_curve(outcome.results, reference=[0.3, 10.0])
    assert [hv for _, hv in ledger.hypervolumes()] == pytest.approx(list(expected))
    with pytest.raises(UserError, match="reference"):
        run_search(_settings(toy_csv, reference={"score": 0.4}, trials=3), tmp_path / "s",
                   echo=lambda s: None, base=tiny_bert)  # fmt: skip


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"batch": 0}, "batch"),
        ({"objectives": ("params", "score")}, "objectives"),
        ({"objectives": ("score", "params", "flops")}, "objectives"),
        ({"reference": {"time": 10.0}}, "reference"),
        ({"reference": {"score": float("nan")}}, "reference"),
        ({"optimizer": "bogus"}, "optimizer"),
        ({"optimizer_seed": -1}, "optimizer_seed"),
    ],
)
def test_bad_search_settings_name_the_flag(toy_csv, kw, field):
    with pytest.raises(UserError) as err:
        _settings(toy_csv, **kw)
    assert err.value.field == field


def test_saas_is_the_default_and_runs_its_initial_design(tmp_path, toy_csv, tiny_bert):
    assert SearchSettings().optimizer == "saas"
    lines: list[str] = []
    outcome = run_search(_settings(toy_csv, optimizer="saas", trials=2), tmp_path / "s", echo=lines.append,
                         base=tiny_bert)  # fmt: skip
    assert len(outcome.results) == 2 and all(r.ok for r in outcome.results)
    assert any("measuring the parameter count" in line for line in lines)


def test_optimizer_seed_changes_proposals_not_data_or_trial_seeds(tmp_path, toy_csv, tiny_bert):
    """Repeats of a search with other optimiser seeds stay comparable: every trial keeps the search's
    seed (data split and order, module initialisation); only the proposals change."""
    runs = {}
    for name, kw in {"a": {}, "b": {"optimizer_seed": 0}, "c": {"optimizer_seed": 5}}.items():
        outcome = run_search(_settings(toy_csv, trials=3, **kw), tmp_path / name, echo=lambda s: None, base=tiny_bert)
        runs[name] = outcome.results
    configs = {k: [r.config for r in v] for k, v in runs.items()}
    assert configs["a"] == configs["b"]  # optimizer_seed None = seed
    assert configs["a"] != configs["c"]
    assert all(r.seed == 0 for r in runs["c"])


class _InstantExecutor:
    """An executor of ``slots`` slots whose trials finish at once, scored from their configuration."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.batches: list[int] = []

    def run(self, requests):
        from autopeft.records.trial import TrialResult

        self.batches.append(len(requests))
        for request in requests:
            layers = len(request.config.active_layers)
            yield (
                request,
                TrialResult(
                    config=request.config.to_dict(),
                    status="complete",
                    score=0.5 + 0.1 * layers,
                    metric="accuracy",
                    params_pct=float(layers),
                    train_seconds=1.0 + layers,
                ),
            )


def test_the_executor_slots_size_the_batches_asked(tmp_path, toy_csv, tiny_bert):
    from autopeft.study.search import prepare, run

    search = prepare(_settings(toy_csv, trials=7, batch=1), tmp_path / "s", echo=lambda s: None, base=tiny_bert)
    executor = _InstantExecutor(slots=3)
    search.executor = executor
    asked: list[int] = []
    real_ask = search.optimiser.ask
    search.optimiser.ask = lambda n, pending=(): asked.append(n) or real_ask(n, pending)
    results = run(search, echo=lambda s: None)
    assert asked == [3, 3, 1] and executor.batches == [3, 3, 1]
    assert [r.number for r in results] == list(range(7))
    assert len(_ledger(tmp_path / "s").results()) == 7


def test_the_optimiser_aims_at_the_reference_the_study_records(tmp_path, toy_csv, tiny_bert):
    from autopeft.analysis.hypervolume import DEFAULT_COST_FACTOR
    from autopeft.study.search import prepare, run

    settings = _settings(toy_csv, objectives=("score", "params", "time"), optimizer="gp", init_trials=2, trials=3)
    search = prepare(settings, tmp_path / "s", echo=lambda s: None, base=tiny_bert)
    search.executor = _InstantExecutor(slots=1)
    ledger = _ledger(tmp_path / "s", "score,params,time")
    assert search.optimiser.reference is None and ledger.get_reference() is None
    run(search, echo=lambda s: None)
    recorded = _ledger(tmp_path / "s", "score,params,time").get_reference()
    first = search.results[0]
    assert recorded == pytest.approx([0.0, 10.0, DEFAULT_COST_FACTOR * first.train_seconds])
    assert search.optimiser.reference.tolist() == pytest.approx(recorded)


def test_a_searched_learning_rate_is_a_parameter_of_every_trial(tmp_path, toy_csv, tiny_bert):
    from autopeft.space import learning_rate_choices

    out = tmp_path / "s"
    outcome = run_search(_settings(toy_csv, search_lr=True, trials=3), out, echo=lambda _: None, base=tiny_bert)
    rates = learning_rate_choices(BUDGET.learning_rate)
    assert all(r.config["learning_rate"] in rates for r in outcome.results)
    study = _ledger(out).study  # the plain Optuna study holds the rate as a real value
    assert all(t.params["learning_rate"] in rates for t in study.trials)
    assert json.loads((out / "search.json").read_text())["search_lr"] is True
