"""The asynchronous search loop (an executor with several slots, driven by submit/next_result), the
executor interface's defaults, the Ray settings and what happens without Ray. No Ray is started here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.conftest import tiny_search_budget, toy_search_settings

from autopeft.errors import UserError
from autopeft.exec import Executor, TrialRequest
from autopeft.records.trial import TrialResult
from autopeft.study.ledger import Ledger
from autopeft.study.search import prepare, run, run_search
from autopeft.study.settings import SearchSettings

BUDGET = tiny_search_budget()


def _settings(toy_csv: Path, **kw) -> SearchSettings:
    return toy_search_settings(toy_csv, **{"trials": 7, **kw})


def _ledger(out: Path) -> Ledger:
    from autopeft.records.objectives import parse_objectives

    return Ledger.load(f"sqlite:///{out / 'study.db'}", out.name, parse_objectives("score,params"))


def _result(request: TrialRequest) -> TrialResult:
    layers = len(request.config.active_layers)
    return TrialResult(
        config=request.config.to_dict(),
        status="complete",
        score=0.5 + 0.1 * layers,
        metric="accuracy",
        params_pct=float(layers),
        train_seconds=1.0 + layers,
        seed=request.seed,
    )


class _OutOfOrderExecutor(Executor):
    """An asynchronous executor of ``slots`` slots whose trials finish at once, newest first (so that
    results come back in another order than submitted); it notes how many were in flight at each
    :meth:`next_result`, and interrupts the search at the ``interrupt_at``-th one."""

    asynchronous = True

    def __init__(self, slots: int, interrupt_at: int | None = None) -> None:
        self.slots = slots
        self.flying: list[TrialRequest] = []
        self.in_flight_seen: list[int] = []
        self.submitted: list[TrialRequest] = []
        self.interrupt_at = interrupt_at

    @property
    def in_flight(self) -> int:
        return len(self.flying)

    def submit(self, request: TrialRequest) -> None:
        assert self.in_flight < self.slots, "a slot was overfilled"
        self.flying.append(request)
        self.submitted.append(request)

    def next_result(self) -> tuple[TrialRequest, TrialResult]:
        self.in_flight_seen.append(self.in_flight)
        if self.interrupt_at is not None and len(self.in_flight_seen) == self.interrupt_at:
            raise KeyboardInterrupt
        request = self.flying.pop()
        return request, _result(request)

    def run(self, requests):  # pragma: no cover - the search drives it asynchronously
        raise AssertionError("an asynchronous executor is not run in rounds")


def _prepared(toy_csv, out, tiny_bert, executor, **kw):
    search = prepare(_settings(toy_csv, **kw), out, echo=lambda s: None, base=tiny_bert)
    search.executor = executor
    return search


def test_each_freed_slot_gets_one_proposal_conditioned_on_the_running_trials(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    executor = _OutOfOrderExecutor(slots=3)
    search = _prepared(toy_csv, out, tiny_bert, executor, trials=7, batch=1)
    asks: list[tuple[int, list[str]]] = []
    real_ask, real_tell = search.optimiser.ask, search.optimiser.tell
    running_keys = lambda: {r.config.key() for r in executor.flying}  # noqa: E731

    def ask(n, pending=()):
        # what the search calls pending is exactly what is in flight
        assert {c.key() for c in pending} == running_keys()
        asks.append((n, sorted(c.key() for c in pending)))
        return real_ask(n, pending)

    def tell(results):
        # the ledger holds every result before the optimiser hears of it
        recorded = {r.number for r in search.ledger.results()}
        assert all(r.number in recorded for r in results)
        real_tell(results)

    search.optimiser.ask, search.optimiser.tell = ask, tell
    results = run(search, echo=lambda s: None)

    # the slots are filled at once, then one proposal per finished trial while the budget lasts
    assert [n for n, _ in asks] == [3, 1, 1, 1, 1]
    assert [len(p) for _, p in asks] == [0, 2, 2, 2, 2]
    # every slot busy until the budget is used: 3 in flight at each result until the last 2
    assert executor.in_flight_seen == [3, 3, 3, 3, 3, 2, 1]
    assert len(results) == 7 and sorted(r.number for r in results) == list(range(7))
    keys = [json.dumps(r.config, sort_keys=True) for r in results]
    assert len(set(keys)) == 7  # no configuration twice
    assert [r.number for r in results] != sorted(r.number for r in results)  # recorded as they finished
    ledger = _ledger(out)
    assert sorted(r.number for r in ledger.results()) == list(range(7)) and not ledger.running()
    assert all(r.proposal_seconds is not None for r in results)


def test_an_interrupt_leaves_the_trials_in_flight_to_run_again(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    first = _OutOfOrderExecutor(slots=3, interrupt_at=3)
    search = _prepared(toy_csv, out, tiny_bert, first, trials=6)
    with pytest.raises(KeyboardInterrupt):
        run(search, echo=lambda s: None)
    search.close()
    ledger = _ledger(out)
    done, flying = ledger.results(), ledger.running()
    assert len(done) == 2 and len(flying) == 3  # two recorded; three left RUNNING by the interrupt

    again = _OutOfOrderExecutor(slots=3)
    search = _prepared(toy_csv, out, tiny_bert, again, trials=6)
    results = run(search, echo=lambda s: None)
    # the interrupted trials ran again first, with no completed trial lost or repeated
    assert {r.config.key() for r in again.submitted[:3]} == {c.key() for _, c in flying}
    assert len(results) == 6 and [r.to_dict() for r in results[:2]] == [r.to_dict() for r in done]
    assert len({json.dumps(r.config, sort_keys=True) for r in results}) == 6
    assert _ledger(out).interrupted_count() == 3
    search.close()


def test_a_small_space_ends_the_search_when_every_configuration_is_running_or_done(tmp_path, toy_csv, tiny_bert):
    executor = _OutOfOrderExecutor(slots=3)
    search = _prepared(toy_csv, tmp_path / "s", tiny_bert, executor, trials=50)
    real_ask = search.optimiser.ask
    budget = {"left": 5}  # the optimiser has 5 configurations to give

    def ask(n, pending=()):
        got = real_ask(min(n, budget["left"]), pending)
        budget["left"] -= len(got)
        return got

    search.optimiser.ask = ask
    lines: list[str] = []
    results = run(search, echo=lines.append)
    assert len(results) == 5 and any("every valid configuration" in line for line in lines)
    search.close()


def test_the_default_asynchronous_interface_runs_through_run():
    """An executor that implements only ``run`` can still be submitted to (one trial in flight per slot)."""

    class Rounds(Executor):
        def run(self, requests):
            for request in requests:
                yield request, _result(request)

    from autopeft.space import PeftConfig

    executor = Rounds()
    request = TrialRequest(0, PeftConfig(layers=(True, False), serial=1), 3)
    executor.submit(request)
    assert executor.in_flight == 1
    with pytest.raises(RuntimeError, match="slot"):
        executor.submit(request)
    done, result = executor.next_result()
    assert done == request and result.seed == 3 and executor.in_flight == 0
    with pytest.raises(RuntimeError, match="no trial in flight"):
        executor.next_result()
    executor.close()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"workers": 0}, "workers"),
        ({"workers": 1.5}, "workers"),
        ({"workers": True}, "workers"),
        ({"ray_address": " "}, "ray_address"),
        ({"cpus_per_trial": 0}, "cpus_per_trial"),
        ({"gpus_per_trial": -0.5}, "gpus_per_trial"),
        ({"gpus_per_trial": 1.5, "device": "cuda"}, "gpus_per_trial"),
        ({"gpus_per_trial": 0.25}, "gpus_per_trial"),  # on the CPU
        ({"threads_per_trial": 0}, "threads_per_trial"),
    ],
)
def test_bad_ray_settings_name_their_field(toy_csv, kw, field):
    with pytest.raises(UserError) as err:
        _settings(toy_csv, **kw)
    assert err.value.field == field


def test_ray_settings_are_not_part_of_the_search_identity():
    from autopeft.study.settings import IDENTITY_FIELDS

    assert not {"workers", "ray_address", "cpus_per_trial", "gpus_per_trial", "threads_per_trial"} & set(
        IDENTITY_FIELDS
    )
    settings = SearchSettings(workers=4, gpus_per_trial=0.25, device="cuda", cpus_per_trial=2)
    again = SearchSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings and again.on_ray and not SearchSettings().on_ray


@pytest.mark.parametrize(
    ("flags", "named"), [(["--workers", "2"], "--workers"), (["--ray-address", "10.0.0.1:6379"], "--ray-address")]
)
def test_without_ray_a_parallel_search_exits_2_naming_the_flag(
    tmp_path, toy_search_args, monkeypatch, capsys, flags, named
):
    from autopeft.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as when not installed
    out = tmp_path / "s"
    assert main(toy_search_args(out, "--trials", "2", *flags)) == 2
    err = capsys.readouterr().err
    assert named in err and "pip install 'autopeft[ray]'" in err
    assert not out.exists()  # nothing written


def test_without_ray_the_api_names_the_field(tmp_path, toy_csv, tiny_bert, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError) as err:
        run_search(_settings(toy_csv, workers=2), tmp_path / "s", echo=lambda s: None, base=tiny_bert)
    assert err.value.field == "workers" and "autopeft[ray]" in err.value.fix
    assert not (tmp_path / "s").exists()


def test_resume_takes_execution_settings_only(tmp_path, toy_csv, tiny_bert):
    from autopeft import api

    out = tmp_path / "s"
    run_search(_settings(toy_csv, trials=1), out, echo=lambda s: None, base=tiny_bert)
    with pytest.raises(UserError) as err:
        api.resume(out, seed=3, quiet=True, base=tiny_bert)
    assert err.value.field == "seed"
    # a thread count is an execution setting: accepted, and saved with the search
    result = api.resume(out, trials=2, threads_per_trial=1, quiet=True, base=tiny_bert)
    assert len(result) == 2 and result.settings.threads_per_trial == 1


def test_the_cli_resumes_with_other_execution_flags(tmp_path, toy_search_args, capsys):
    from autopeft.cli import main

    out = tmp_path / "s"
    args = toy_search_args(out, "--trials", "1", "--optimizer", "random", "--train-examples", "60", "--quiet")
    assert main(args) == 0
    assert main(["resume", str(out), "--trials", "2", "--threads-per-trial", "1", "--quiet"]) == 0
    saved = json.loads((out / "search.json").read_text())
    assert saved["trials"] == 2 and saved["threads_per_trial"] == 1 and saved["workers"] == 1
    capsys.readouterr()
