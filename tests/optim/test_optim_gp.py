"""``--optimizer gp``: the Optimiser contract, the encoding, the initial design, failures, and a check that
the model helps (hypervolume after 30 trials against random search on a synthetic problem).

The GP optimiser fits a model on every model-based ``ask`` (about a second here), so the contract is
checked with few rounds and a small ``init_trials`` rather than through the full parametrisation of
``test_optim_contract.py``. No training: results come from synthetic, deterministic objectives.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from linear_operator.utils.errors import NotPSDError
from test_optim_contract import (
    REF,
    SMALL,
    TINY,
    _module_load,
    assert_valid_members,
    keys,
    result,
    run_loop,
)

from autopeft.analysis.hypervolume import hypervolume, hypervolume_curve
from autopeft.optim import OPTIMISERS, GPOptimiser, make_optimiser
from autopeft.records.objectives import SCORE
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace


def exact_params(config: PeftConfig) -> float:
    """The params % that ``result`` reports for a configuration, known before it 'trains'."""
    return len(config.active_layers) * _module_load(config) / 100.0


def gp(space: SearchSpace = SMALL, seed: int = 0, **kwargs) -> GPOptimiser:
    """A GP optimiser kept cheap for tests: short initial design, few candidates and MC samples."""
    settings = {"init_trials": 4, "n_candidates": 150, "mc_samples": 16, "param_fn": exact_params, "reference": REF}
    settings.update(kwargs)
    return GPOptimiser(space, seed=seed, **settings)


def random_results(space: SearchSpace, n: int, seed: int, fail_every: int = 0) -> list[TrialResult]:
    rng = np.random.default_rng(seed)
    configs: dict[str, PeftConfig] = {}
    while len(configs) < n:
        c = space.sample(rng)
        configs[c.key()] = c
    return [result(c, failed=bool(fail_every) and i % fail_every == 0) for i, c in enumerate(configs.values())]


def test_registered_as_gp() -> None:
    assert "gp" in OPTIMISERS
    opt = make_optimiser("gp", SMALL, seed=3, reference=REF)
    assert isinstance(opt, GPOptimiser)
    assert (opt.seed, opt.init_trials, opt.param_fn) == (3, 10, None)
    assert opt.reference.tolist() == [0.0, 10.0]
    opt = make_optimiser("gp", SMALL, init_trials=2, param_fn=exact_params, reference=REF)
    assert (opt.init_trials, opt.param_fn) == (2, exact_params)
    # the other optimisers take and ignore the model-based settings
    assert make_optimiser("random", SMALL, init_trials=2, param_fn=exact_params, reference=REF).ask(1)


def test_encoding_is_the_space_encoding_normalised_to_the_unit_box() -> None:
    opt = gp()
    assert SMALL.sizes == (1, 2, 4, 8, 16)
    c = PeftConfig(layers=(True, False, True, False), parallel=4, prefix=16)
    assert SMALL.encode(c).tolist() == [1, 0, 1, 0, 0, 3, 5]  # sizes as indices into (0, 1, 2, 4, 8, 16)
    np.testing.assert_allclose(opt.encode([c]), [[1, 0, 1, 0, 0, 0.6, 1.0]])
    full = PeftConfig(layers=(True,) * 4, serial=16, parallel=16, prefix=16)
    np.testing.assert_allclose(opt.encode([full]), np.ones((1, 7)))
    configs = [r.config for r in random_results(SMALL, 50, seed=0)]
    x = opt.encode([PeftConfig.from_dict(c) for c in configs])
    assert x.shape == (50, 7)
    assert x.min() >= 0.0
    assert x.max() <= 1.0
    upper = SMALL.bounds()[1]
    assert [SMALL.decode(row * upper).to_dict() for row in x] == configs


def test_initial_design_then_the_model() -> None:
    opt = gp(init_trials=6, seed=1)
    assert opt.ask(0) == []
    first = opt.ask(4)
    assert opt.last_ask_model_steps == 0
    # a running batch counts towards the initial design, but the model needs two complete trials
    assert opt.ask(2, pending=first) and opt.last_ask_model_steps == 0
    opt.tell([result(c) for c in first])
    second = opt.ask(4)
    assert opt.last_ask_model_steps == 2, "two random proposals complete the initial design of 6"
    assert opt.last_ask_seconds > 0
    opt.tell([result(c) for c in second])
    third = opt.ask(4)
    assert opt.last_ask_model_steps == 4
    everything = first + second + third
    assert_valid_members(SMALL, everything)
    assert len(set(keys(everything))) == 12


def test_contract_with_failures_pending_and_param_fn_cache() -> None:
    asked: list[str] = []

    def param_fn(config: PeftConfig) -> float:
        SMALL.check(config)
        assert config.key() not in opt._seen, "told trials' params are measured, failed ones never candidates"
        asked.append(config.key())
        return exact_params(config)

    opt = gp(seed=6, param_fn=param_fn)
    proposed = run_loop(opt, rounds=3, batch=4, fail_every=3)  # two model-based rounds
    assert len(set(keys(proposed))) == 12
    assert_valid_members(SMALL, proposed)
    assert opt.n_train == 12 - 4, "failed trials are dropped from the training data"
    told = set(keys(proposed))
    others = (PeftConfig.from_dict(r.config) for r in random_results(SMALL, 20, seed=60))
    pending = [c for c in others if c.key() not in told][:6]
    batch = opt.ask(4, pending=pending)
    assert len(batch) == 4
    assert_valid_members(SMALL, batch)
    assert not set(keys(batch)) & set(keys(proposed + pending))
    assert len(set(keys(batch))) == 4
    # param_fn: asked about candidates, once per configuration at most (cached)
    assert set(keys(proposed[4:] + batch)) <= set(asked)
    assert len(asked) == len(set(asked))


def test_replay_of_foreign_results_with_failures_and_repeats() -> None:
    ledger = random_results(SMALL, 12, seed=8, fail_every=4)
    opt = gp(seed=8)
    opt.tell(ledger[::-1])
    opt.tell(ledger[:2])  # told twice
    assert opt.n_train == 9 + 1  # 3 of 12 failed; of the two told again, one failed
    batch = opt.ask(4)
    assert opt.last_ask_model_steps == 4
    assert_valid_members(SMALL, batch)
    assert len(set(keys(batch))) == 4
    assert not {PeftConfig.from_dict(r.config).key() for r in ledger} & set(keys(batch))


def test_failed_and_nan_results_do_not_stop_the_search() -> None:
    opt = gp(seed=7)
    for _ in range(3):  # everything fails: the model never has data, proposals stay random and new
        batch = opt.ask(3)
        assert len(batch) == 3
        opt.tell([result(c, failed=True) for c in batch])
    assert opt.n_train == 0
    good = random_results(SMALL, 3, seed=70)
    c = PeftConfig(layers=(True, True, False, False), prefix=8)
    nan_params = TrialResult(config=c.to_dict(), status="complete", score=0.7, metric="accuracy", params_pct=math.nan)
    opt.tell([*good, nan_params])
    assert opt.n_train == 3, "a complete trial with a NaN objective is dropped like a failed one"
    batch = opt.ask(2)
    assert opt.last_ask_model_steps == 2
    assert c.key() not in keys(batch)


def _trace(seed: int, pending: list[PeftConfig] | None = None) -> list[str]:
    opt = gp(seed=seed)
    opt.tell(random_results(SMALL, 6, seed=11, fail_every=5))
    return keys(opt.ask(4, pending=pending or []))


def test_seeded_runs_are_reproducible_and_leave_torch_alone() -> None:
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = _trace(seed=11)
    assert torch.equal(torch.random.get_rng_state(), state), "ask forks the torch RNG"
    assert a == _trace(seed=11)
    assert a != _trace(seed=12)


def test_batch_conditions_on_pending_configurations() -> None:
    opt = gp(seed=5)
    opt.tell(random_results(SMALL, 6, seed=11, fail_every=5))
    first = opt.ask(3)
    twin = gp(seed=5)
    twin.tell(random_results(SMALL, 6, seed=11, fail_every=5))
    again = twin.ask(3, pending=first)
    assert len(again) == 3
    assert not set(keys(first)) & set(keys(again))


def test_exhausted_spaces() -> None:
    everything = [TINY.decode(v) for v in ([1, 0, 1], [0, 1, 1], [1, 1, 1])]
    opt = gp(TINY, init_trials=0)
    opt.tell([result(everything[0]), result(everything[2])])
    assert keys(opt.ask(3)) == [everything[1].key()]  # chosen by the model from a single candidate
    assert opt.ask(1, pending=[everything[1]]) == []
    space = SearchSpace("small", 2, 4, ("serial",))  # 9 configurations
    opt = gp(space, init_trials=2)
    proposed = run_loop(opt, rounds=3, batch=4)
    assert len(set(keys(proposed))) == 9
    assert_valid_members(space, proposed)
    assert opt.ask(4) == []


def test_single_objective_and_params_without_param_fn() -> None:
    opt = gp(seed=17, objectives=(SCORE,), reference=(0.0,))
    proposed = run_loop(opt, rounds=2, batch=4)
    assert opt.last_ask_model_steps == 4
    assert len(set(keys(proposed))) == 8
    opt = gp(seed=18, param_fn=None)  # params % modelled by a GP too
    proposed = run_loop(opt, rounds=2, batch=4)
    assert opt.last_ask_model_steps == 4
    assert len(set(keys(proposed))) == 8
    assert_valid_members(SMALL, proposed)


def test_large_space_candidates_include_pareto_neighbours() -> None:
    space = SearchSpace.named("paper", 12, 768)  # 2^12 x 11^3 grid cells: sampled, not enumerated
    opt = gp(space, seed=19, n_candidates=100)
    told = random_results(space, 6, seed=19)
    opt.tell(told)
    row = space.encode(PeftConfig.from_dict(told[0].config)).astype(np.int64)
    neighbours = opt._neighbours(row[None, :])
    diff = neighbours - row
    assert ((diff != 0).sum(axis=1) == 1).all()
    assert (np.abs(diff).sum(axis=1) == 1).all()
    sizes_at_ends = sum(v in (0, 10) for v in row[12:])
    assert len(neighbours) == 12 + 2 * 3 - sizes_at_ends
    batch = opt.ask(4)
    assert opt.last_ask_model_steps == 4
    assert_valid_members(space, batch)
    assert len(set(keys(batch))) == 4
    assert not set(keys(batch)) & {PeftConfig.from_dict(r.config).key() for r in told}


# --- the model helps ---------------------------------------------------------------------------

SYNTH = SearchSpace.named("paper", 4, 16)
_LAYER_WEIGHTS = np.linspace(0.2, 1.0, 4) / np.linspace(0.2, 1.0, 4).sum()


def _size_index(size: int) -> int:
    return 0 if size == 0 else SYNTH.sizes.index(size) + 1


def synthetic(config: PeftConfig) -> tuple[float, float]:
    """Noise-free (score, params %): the score grows smoothly with module capacity (parallel adapters count
    most, prefixes least) times how many upper layers are on; params grow with layers x sizes."""
    top = float(np.asarray(config.layers, dtype=float) @ _LAYER_WEIGHTS)
    capacity = (_size_index(config.parallel) + 0.5 * _size_index(config.serial) + 0.1 * _size_index(config.prefix)) / 5
    score = 0.55 + 0.3 * top * (1 - math.exp(-capacity))
    params = 0.02 * len(config.active_layers) * (config.serial + config.parallel + config.prefix / 2)
    return score, params


def _search(opt, seed: int, trials: int = 30, batch: int = 10) -> float:
    noise = np.random.default_rng(1000 + seed)
    results: list[TrialResult] = []
    while len(results) < trials:
        told = []
        for c in opt.ask(min(batch, trials - len(results))):
            score, params = synthetic(c)
            noisy = score + float(noise.normal(0, 0.003))
            told.append(
                TrialResult(config=c.to_dict(), status="complete", score=noisy, metric="accuracy", params_pct=params)
            )
        opt.tell(told)
        results += told
    return float(hypervolume_curve(results)[-1])


def test_gp_reaches_a_higher_hypervolume_than_random_search() -> None:
    every = [SYNTH.decode(v) for v in np.ndindex(*(d.cardinality for d in SYNTH.dimensions))]
    best = hypervolume([synthetic(c) for c in every if c.is_valid], ["maximize", "minimize"], [0.0, 10.0])
    gp_hv, random_hv = [], []
    for seed in range(3):
        params = {"param_fn": lambda c: synthetic(c)[1], "n_candidates": 300, "mc_samples": 32}
        opt = GPOptimiser(SYNTH, seed=seed, init_trials=10, reference=REF, **params)
        gp_hv.append(_search(opt, seed))
        random_hv.append(_search(make_optimiser("random", SYNTH, seed=seed, reference=REF), seed))
    gp_regret, random_regret = best - np.mean(gp_hv), best - np.mean(random_hv)
    assert np.mean(gp_hv) > np.mean(random_hv)
    assert gp_regret < 0.5 * random_regret, (gp_hv, random_hv, best)


def test_a_numerical_failure_of_the_model_falls_back_to_random(monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise NotPSDError("matrix not positive definite")

    opt = gp(seed=20)
    opt.tell(random_results(SMALL, 6, seed=20))
    monkeypatch.setattr(opt, "_acquisition", broken)
    assert opt.fallbacks == 0  # the initial design is not a fallback
    batch = opt.ask(3)
    assert len(set(keys(batch))) == 3
    assert_valid_members(SMALL, batch)
    assert "model failed" in caplog.text
    assert opt.fallbacks == 3


def test_a_working_model_makes_no_fallbacks() -> None:
    opt = gp(seed=21)
    opt.tell(random_results(SMALL, 6, seed=21))
    assert len(opt.ask(3)) == 3 and opt.last_ask_model_steps == 3
    assert opt.fallbacks == 0


def test_a_stopped_trial_is_training_data_at_its_predicted_score() -> None:
    from test_optim_contract import stopped

    opt = gp(seed=9)
    configs = opt.ask(5)
    opt.tell([result(c) for c in configs[:4]] + [stopped(configs[4], predicted=0.61)])
    assert opt.n_train == 5
    assert opt._train_y[-1][0] == 0.61  # the prediction, not the partial score 0.5


def test_the_model_proposes_valid_configurations_with_a_searched_learning_rate() -> None:
    """The learning rate is the last dimension and not a module: a proposal with every module off is
    invalid whatever its rate (the model's candidate filter reads the space's module dimensions)."""
    space = SearchSpace("lr", 3, 16, ("serial", "parallel"), sizes=(1, 4), learning_rates=(1e-4, 3e-4, 1e-3))
    opt = gp(space, seed=2)
    # the candidate filter itself: a layer on, every module off, the highest rate → not a candidate
    assert opt._valid(np.array([[1, 0, 0, 0, 0, 2], [1, 0, 0, 1, 0, 0]])).tolist() == [False, True]
    proposed = []
    for _ in range(4):
        batch = opt.ask(3)
        proposed += batch
        opt.tell([result(c) for c in batch])
    assert opt.last_ask_model_steps == 3
    assert_valid_members(space, proposed)
    assert len(set(keys(proposed))) == 12
