"""The Optimiser contract (see ``autopeft.optim.base.Optimiser``), checked for every ``--optimizer`` name.

No training: results come from a synthetic, deterministic objective.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from autopeft.modules import MODULES
from autopeft.optim import MODEL_BASED, OPTIMISERS, Optimiser, make_optimiser, optuna_samplers
from autopeft.records.objectives import DEFAULT_OBJECTIVES, SCORE
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace

#: The default hypervolume reference point of score and params (score 0, params 10 %).
REF = (0.0, 10.0)
SMALL = SearchSpace.named("paper", 4, 16)  # 15 layer masks x (6^3 - 1) module combinations = 3225
TINY = SearchSpace("tiny", 2, 16, ("serial",), sizes=(1,))  # 3 valid configurations


def _module_load(config: PeftConfig) -> int:
    return sum(int(getattr(config, m)) for m in MODULES)


def result(config: PeftConfig, failed: bool = False) -> TrialResult:
    """A synthetic trial: score and parameter share are deterministic functions of the config."""
    n_on = len(config.active_layers)
    load = _module_load(config)
    if failed:
        return TrialResult(config=config.to_dict(), status="failed", score=None, metric="accuracy", error="boom")
    score = 0.5 + 0.04 * n_on + 0.1 * np.log1p(load) / np.log1p(48) - 0.01 * config.layers.index(True)
    return TrialResult(
        config=config.to_dict(),
        status="complete",
        score=float(score),
        metric="accuracy",
        params_pct=n_on * load / 100.0,
        peft_params=n_on * load * 32,
        backbone_params=3200,
    )


def keys(configs: Sequence[PeftConfig]) -> list[str]:
    return [c.key() for c in configs]


def assert_valid_members(space: SearchSpace, configs: Sequence[PeftConfig]) -> None:
    for c in configs:
        assert isinstance(c, PeftConfig)
        assert c.is_valid
        space.check(c)


def run_loop(opt: Optimiser, rounds: int, batch: int, fail_every: int = 0) -> list[PeftConfig]:
    """ask(batch) → tell, ``rounds`` times; every ``fail_every``-th trial fails. Returns all proposals."""
    proposed: list[PeftConfig] = []
    for _ in range(rounds):
        configs = opt.ask(batch)
        results = []
        for c in configs:
            proposed.append(c)
            results.append(result(c, failed=bool(fail_every) and len(proposed) % fail_every == 0))
        opt.tell(results)
    return proposed


#: ``gp`` and ``saas`` fit a model on each ask (a second to tens of seconds): tests/optim/test_optim_gp.py and
#: test_optim_saas.py check the same contract for them with fewer rounds.
CHEAP_OPTIMISERS = tuple(name for name in OPTIMISERS if name not in MODEL_BASED)


@pytest.fixture(params=CHEAP_OPTIMISERS)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_every_name_builds_an_optimiser(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=0, reference=REF)
    assert isinstance(opt, Optimiser)
    assert opt.space is SMALL
    assert opt.seed == 0
    assert opt.objectives == DEFAULT_OBJECTIVES


@pytest.mark.parametrize("n", [1, 4, 7])
def test_ask_returns_n_distinct_valid_members(name: str, n: int) -> None:
    opt = make_optimiser(name, SMALL, seed=1, reference=REF)
    configs = opt.ask(n)
    assert len(configs) == n
    assert_valid_members(SMALL, configs)
    assert len(set(keys(configs))) == n


def test_ask_zero_returns_nothing(name: str) -> None:
    assert make_optimiser(name, SMALL, seed=1, reference=REF).ask(0) == []


def test_forty_trials_without_repeats(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=2, reference=REF)
    proposed = run_loop(opt, rounds=10, batch=4)
    assert len(proposed) == 40
    assert_valid_members(SMALL, proposed)
    assert len(set(keys(proposed))) == 40


def test_never_proposes_a_told_config(name: str) -> None:
    # every batch is full and no proposal repeats one told in an earlier round
    proposed = run_loop(make_optimiser(name, SMALL, seed=3, reference=REF), rounds=8, batch=4)
    assert len(proposed) == 32
    assert len(set(keys(proposed))) == 32


def test_never_proposes_a_pending_config(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=4, reference=REF)
    rng = np.random.default_rng(4)
    pending = [SMALL.sample(rng) for _ in range(30)]
    for _ in range(6):
        batch = opt.ask(4, pending=pending)
        assert len(batch) == 4
        assert not set(keys(pending)) & set(keys(batch))
        pending += batch  # still running: the next ask must avoid them too


def test_pending_that_covers_the_proposals_of_a_same_seed_twin(name: str) -> None:
    """Passing exactly what the sampler would propose as pending forces different proposals."""
    first = make_optimiser(name, SMALL, seed=5, reference=REF).ask(4)
    again = make_optimiser(name, SMALL, seed=5, reference=REF).ask(4, pending=first)
    assert len(again) == 4
    assert not set(keys(first)) & set(keys(again))


def test_failed_results_are_accepted(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=6, reference=REF)
    proposed = run_loop(opt, rounds=8, batch=4, fail_every=3)
    assert len(proposed) == 32
    assert len(set(keys(proposed))) == 32
    # a round where everything fails, then asking still works and never repeats a failed config
    batch = opt.ask(4)
    opt.tell([result(c, failed=True) for c in batch])
    later = opt.ask(4)
    assert len(later) == 4
    assert_valid_members(SMALL, later)
    assert not set(keys(proposed + batch)) & set(keys(later))


def test_all_trials_failing_does_not_stop_the_optimiser(name: str) -> None:
    proposed = run_loop(make_optimiser(name, SMALL, seed=7, reference=REF), rounds=8, batch=3, fail_every=1)
    assert len(proposed) == 24
    assert len(set(keys(proposed))) == 24


def test_replay_of_configs_it_never_proposed(name: str) -> None:
    """A resumed search tells a fresh optimiser its ledger: foreign configs, some failed, any order."""
    rng = np.random.default_rng(8)
    ledger: list[PeftConfig] = []
    while len(ledger) < 25:
        c = SMALL.sample(rng)
        if c.key() not in keys(ledger):
            ledger.append(c)
    results = [result(c, failed=i % 4 == 0) for i, c in enumerate(ledger)]
    opt = make_optimiser(name, SMALL, seed=8, reference=REF)
    opt.tell(results[::-1])
    proposed = run_loop(opt, rounds=5, batch=4)
    assert len(proposed) == 20
    assert_valid_members(SMALL, proposed)
    assert len(set(keys(proposed))) == 20
    assert not set(keys(ledger)) & set(keys(proposed))


def test_replay_mixed_with_own_proposals_and_duplicates(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=9, reference=REF)
    mine = opt.ask(4)
    rng = np.random.default_rng(9)
    foreign = [c for c in (SMALL.sample(rng) for _ in range(6)) if c.key() not in keys(mine)]
    # told in one interleaved batch, one foreign config twice, one of its own told as failed
    opt.tell([result(foreign[0]), result(mine[1]), *[result(c) for c in foreign], result(mine[0], failed=True)])
    opt.tell([result(c) for c in mine[2:]])
    later = opt.ask(6)
    assert len(later) == 6
    assert not set(keys(mine + foreign)) & set(keys(later))


def test_telling_nothing_is_fine(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=10, reference=REF)
    opt.tell([])
    assert len(opt.ask(2)) == 2


def _trace(name: str, seed: int) -> list[str]:
    """Proposals of a fixed sequence of calls: long enough to leave NSGA-II's first population and TPE's
    start-up trials, with failures and a replayed foreign result mixed in."""
    opt = make_optimiser(name, SMALL, seed=seed, reference=REF)
    foreign = PeftConfig(layers=(True, True, True, True), serial=16, parallel=16, prefix=16)
    opt.tell([result(foreign)])
    proposed = run_loop(opt, rounds=7, batch=4, fail_every=5)
    proposed += opt.ask(3, pending=proposed[-2:])
    return keys(proposed)


def test_same_seed_same_proposals(name: str) -> None:
    a = _trace(name, seed=11)
    b = _trace(name, seed=11)
    assert len(a) == 31
    assert a == b


def test_different_seeds_different_proposals(name: str) -> None:
    assert _trace(name, seed=11) != _trace(name, seed=12)
    # already the first batch differs
    assert keys(make_optimiser(name, SMALL, seed=1, reference=REF).ask(4)) != keys(
        make_optimiser(name, SMALL, seed=2, reference=REF).ask(4)
    )


def test_exhausted_space_returns_what_is_left_then_nothing(name: str) -> None:
    assert TINY.size == 3
    opt = make_optimiser(name, TINY, seed=13, reference=REF)
    first = opt.ask(5)
    assert len(first) == 3, "only three valid configurations exist"
    assert_valid_members(TINY, first)
    assert len(set(keys(first))) == 3
    opt.tell([result(c) for c in first])
    assert opt.ask(1) == []
    assert opt.ask(4) == []
    # asking without telling: the proposals are still running, so a second ask finds nothing either
    fresh = make_optimiser(name, TINY, seed=13, reference=REF)
    assert len(fresh.ask(3)) == 3
    assert fresh.ask(1) == []


def test_rejection_sampling_fallback_of_large_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spaces too large to enumerate fall back to rejection sampling; it still finds the last config."""
    monkeypatch.setattr(optuna_samplers, "ENUMERATE_LIMIT", 0)
    opt = make_optimiser("random", TINY, seed=18, reference=REF)
    everything = [TINY.decode(v) for v in ([1, 0, 1], [0, 1, 1], [1, 1, 1])]
    opt.tell([result(everything[0]), result(everything[2])])
    assert keys(opt.ask(1)) == [everything[1].key()]


def test_nearly_exhausted_space_returns_the_last_unseen_config(name: str) -> None:
    everything = [
        PeftConfig(layers=(True, False), serial=1),
        PeftConfig(layers=(False, True), serial=1),
        PeftConfig(layers=(True, True), serial=1),
    ]
    for last in range(3):
        opt = make_optimiser(name, TINY, seed=14, reference=REF)
        told = [c for i, c in enumerate(everything) if i != last]
        opt.tell([result(told[0]), result(told[1], failed=True)])
        assert keys(opt.ask(3)) == [everything[last].key()]
        assert opt.ask(1, pending=[everything[last]]) == []


def test_pending_can_exhaust_the_space(name: str) -> None:
    opt = make_optimiser(name, TINY, seed=15, reference=REF)
    everything = [TINY.decode(v) for v in ([1, 0, 1], [0, 1, 1], [1, 1, 1])]
    assert opt.ask(2, pending=everything) == []
    assert keys(opt.ask(2, pending=everything[:2])) == [everything[2].key()]


def test_small_space_is_fully_enumerated_without_repeats(name: str) -> None:
    space = SearchSpace("small", 2, 4, ("serial",))  # 3 layer masks x 3 sizes = 9 configurations
    opt = make_optimiser(name, space, seed=16, reference=REF)
    proposed = run_loop(opt, rounds=4, batch=4)
    assert len(proposed) == 9
    assert len(set(keys(proposed))) == 9
    assert_valid_members(space, proposed)
    assert opt.ask(4) == []


def test_single_objective(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=17, objectives=(SCORE,), reference=(0.0,))
    proposed = run_loop(opt, rounds=6, batch=4, fail_every=7)
    assert len(set(keys(proposed))) == 24
    assert_valid_members(SMALL, proposed)


def test_objective_values(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=0, reference=REF)
    c = PeftConfig(layers=(True, False, False, False), serial=4)
    ok = result(c)
    assert opt.objective_values(ok) == [ok.score, ok.params_pct]
    assert opt.objective_values(result(c, failed=True)) is None


def stopped(config: PeftConfig, predicted: float = 0.6) -> TrialResult:
    """A synthetic trial stopped early at 25 % of its steps."""
    return dataclasses.replace(result(config), status="stopped", score=0.5, predicted_score=predicted, stopped_at=0.25)


def test_stopped_results_are_accepted_and_never_proposed_again(name: str) -> None:
    opt = make_optimiser(name, SMALL, seed=8, reference=REF)
    first = opt.ask(6)
    opt.tell([stopped(c) if i % 2 else result(c) for i, c in enumerate(first)])
    later = opt.ask(6)
    assert len(later) == 6
    assert_valid_members(SMALL, later)
    assert not set(keys(first)) & set(keys(later))


#: A space with a searched learning rate: its last dimension is not a module, so a configuration with
#: every module off stays invalid whatever its rate.
WITH_LR = SearchSpace("lr", 3, 16, ("serial", "parallel"), sizes=(1, 4), learning_rates=(1e-4, 3e-4, 1e-3, 3e-3))


def test_a_searched_learning_rate_is_proposed_within_valid_configurations(name: str) -> None:
    proposed = run_loop(make_optimiser(name, WITH_LR, seed=4, reference=REF), rounds=5, batch=3)
    assert len(proposed) == 15 and len(set(keys(proposed))) == 15
    assert_valid_members(WITH_LR, proposed)
    assert len({c.learning_rate for c in proposed}) > 1
