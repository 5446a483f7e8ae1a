"""``--optimizer saas`` (the default): SAAS fully-Bayesian GPs fitted by NUTS, the Optimiser contract, seeded
reproducibility, failed trials, a third objective.

NUTS is kept tiny here (16 warm-up steps, 16 samples): the tests check the wiring and the contract, not
the fit (``bench/search_quality.py`` measures the search quality). A sampler is compiled once per padded
number of observations (a multiple of 8) and budget, per process and, through the persistent cache, per
machine (see ``autopeft.optim.botorch_saas``), so the tests reuse a few data sizes.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_optim_contract import REF, SMALL, assert_valid_members, keys, result
from test_optim_gp import exact_params, random_results

from autopeft.analysis.hypervolume import ReferencePoint
from autopeft.errors import UserError
from autopeft.optim import OPTIMISERS, MapSaasOptimiser, SaasOptimiser, botorch_saas, make_optimiser
from autopeft.records.objectives import PARAMS, SCORE, TIME
from autopeft.records.trial import TrialResult

CHEAP = {"warmup_steps": 16, "num_samples": 16, "thinning": 8, "n_candidates": 100, "mc_samples": 16}


def saas(seed: int = 0, **kwargs) -> SaasOptimiser:
    return SaasOptimiser(
        SMALL, seed=seed, init_trials=4, param_fn=exact_params, **{"reference": REF, **CHEAP, **kwargs}
    )


def test_the_default_name_makes_saas_with_its_settings() -> None:
    opt = make_optimiser(OPTIMISERS[0], SMALL, seed=2, init_trials=3, param_fn=exact_params, reference=[0.5, 5.0])
    assert isinstance(opt, SaasOptimiser)
    assert (opt.seed, opt.init_trials, opt.reference.tolist()) == (2, 3, [0.5, 5.0])
    # the NUTS budget it samples with: the documented defaults, which keep num_samples // thinning draws
    nuts = (opt.warmup_steps, opt.num_samples, opt.thinning)
    assert nuts == (botorch_saas.WARMUP_STEPS, botorch_saas.NUM_SAMPLES, botorch_saas.THINNING)
    assert opt.num_samples // opt.thinning >= 1


def test_bad_nuts_settings() -> None:
    with pytest.raises(ValueError, match="warmup_steps"):
        saas(warmup_steps=0)
    with pytest.raises(ValueError, match="no sample would be kept"):
        saas(num_samples=4, thinning=8)


def test_missing_jax_is_a_user_error_with_the_fix(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "numpyro", None)  # import numpyro raises ImportError
    with pytest.raises(UserError) as err:
        make_optimiser("saas", SMALL, reference=REF)
    assert err.value.field == "optimizer" and "fully-bayesian" in str(err.value) and "gp" in str(err.value)


def test_compiled_programs_are_cached(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AUTOPEFT_JAX_CACHE", str(tmp_path / "jax"))
    assert botorch_saas.jax_cache_dir() == tmp_path / "jax"
    monkeypatch.delenv("AUTOPEFT_JAX_CACHE")
    assert botorch_saas.jax_cache_dir().parts[-3:] == (".cache", "autopeft", "jax")
    import jax

    saas()
    assert jax.config.jax_compilation_cache_dir is not None


def _check_contract_and_seed(make, told: list[TrialResult]) -> None:
    """Two optimisers from ``make()`` told ``told`` propose the same valid, distinct, unseen batch of 3
    beside a pending configuration, and leave the global torch RNG alone."""
    pending = [SMALL.sample(np.random.default_rng(9))]
    seen = {_cfg(r).key() for r in told} | set(keys(pending))
    state = torch.random.get_rng_state()
    batches = []
    for _ in range(2):
        opt = make()
        opt.tell(told)
        batch = opt.ask(3, pending=pending)
        assert opt.last_ask_model_steps == 3 and opt.last_ask_seconds > 0
        assert_valid_members(SMALL, batch)
        assert len(set(keys(batch))) == 3 and not set(keys(batch)) & seen
        batches.append(keys(batch))
    assert batches[0] == batches[1]  # seeded: the same proposals (NUTS or the ensemble's scales included)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global torch RNG is left alone


def test_model_proposals_keep_the_contract_and_repeat_with_the_seed() -> None:
    told = random_results(SMALL, 8, seed=5, fail_every=4)  # 2 failed, 6 complete
    _check_contract_and_seed(lambda: saas(seed=1), told)


def _cfg(r: TrialResult):
    from autopeft.space import PeftConfig

    return PeftConfig.from_dict(r.config)


def test_nan_and_failed_results_do_not_stop_it() -> None:
    opt = saas(seed=3)
    told = random_results(SMALL, 7, seed=3)
    nan = dataclasses.replace(told[0], status="failed", score=None, error="loss is NaN")
    opt.tell([nan, *told[1:]])
    assert opt.n_train == 6  # as in the other tests: the sampler compiled for 6 observations is reused
    batch = opt.ask(2)
    assert len(set(keys(batch))) == 2 and keys([_cfg(nan)])[0] not in keys(batch)


def test_a_third_measured_objective() -> None:
    def with_time(config) -> TrialResult:
        return dataclasses.replace(result(config), train_seconds=10.0 + 3 * len(config.active_layers))

    reference = ReferencePoint((SCORE, PARAMS, TIME))
    assert reference.value is None  # a cost's default reference needs a trial
    objectives = (SCORE, PARAMS, TIME)
    opt = SaasOptimiser(
        SMALL, seed=4, objectives=objectives, init_trials=4, param_fn=exact_params, reference=reference, **CHEAP
    )
    rng = np.random.default_rng(4)
    configs = {c.key(): c for c in (SMALL.sample(rng) for _ in range(12))}
    first = list(configs.values())[:6]
    opt.tell([with_time(c) for c in first])
    assert opt.reference[2] == pytest.approx(5 * with_time(first[0]).train_seconds)
    batch = opt.ask(2)
    assert opt.last_ask_model_steps == 2 and len(set(keys(batch))) == 2
    assert all(math.isfinite(exact_params(c)) for c in batch)


# --- saas-map: the SAAS prior fitted by MAP (an ensemble over shrinkage scales), no NUTS ---------


def saas_map(seed: int = 0, **kwargs) -> MapSaasOptimiser:
    return MapSaasOptimiser(
        SMALL, seed=seed, init_trials=4, param_fn=exact_params, n_candidates=100, **{"reference": REF, **kwargs}
    )


def test_saas_map_is_registered_with_its_defaults() -> None:
    assert "saas-map" in OPTIMISERS
    opt = make_optimiser("saas-map", SMALL, seed=2, init_trials=3, param_fn=exact_params, reference=REF)
    assert isinstance(opt, MapSaasOptimiser)
    assert (opt.seed, opt.init_trials, opt.num_taus) == (2, 3, botorch_saas.MAP_NUM_TAUS)
    with pytest.raises(ValueError, match="num_taus"):
        saas_map(num_taus=0)


def test_saas_map_fits_one_map_gp_per_shrinkage_scale() -> None:
    from botorch.models.map_saas import EnsembleMapSaasSingleTaskGP

    opt = saas_map(num_taus=3)
    X = torch.rand(10, 4, dtype=torch.float64)
    y = X[:, 0] * 2.0 + 0.01 * torch.randn(10, dtype=torch.float64)
    gp = opt._fit_gp(0, X, y)
    assert isinstance(gp, EnsembleMapSaasSingleTaskGP)
    assert gp.taus.shape == (3,)
    mean = gp.posterior(X[:4]).mixture_mean.squeeze(-1)
    assert mean.shape == (4,)
    assert torch.allclose(mean, y[:4], atol=0.2)  # the fitted ensemble interpolates its (nearly noise-free) data


def test_saas_map_proposals_keep_the_contract_and_repeat_with_the_seed() -> None:
    told = random_results(SMALL, 8, seed=5, fail_every=4)
    nan = dataclasses.replace(told[1], status="failed", score=None, error="loss is NaN")
    _check_contract_and_seed(lambda: saas_map(seed=1), [told[0], nan, *told[2:]])


def test_padding_adds_a_constant_to_the_log_density() -> None:
    """Padded rows are masked out of the likelihood exactly: at any hyperparameters the padded model's
    log density is the unpadded one plus ``(n_pad - n) log N(0; 0, 1)``, so the posterior is unchanged."""
    import jax
    import jax.numpy as jnp
    from botorch.models.fully_bayesian import SaasPyroModel
    from numpyro import handlers
    from numpyro.infer.util import log_density

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(11, 3, generator=gen, dtype=torch.float64)
    Y = torch.randn(11, 1, generator=gen, dtype=torch.float64)
    plain = SaasPyroModel()
    plain.set_inputs(X, Y)
    Xp, Yp, mask = botorch_saas.pad_observations(X.numpy(), Y.numpy(), multiple=8)
    assert Xp.shape == (16, 3) and Yp.shape == (16, 1) and mask.tolist() == [1.0] * 11 + [0.0] * 5
    assert (Xp[11:] == 0).all() and (Yp[11:] == 0).all() and np.array_equal(Xp[:11], X.numpy())
    padded = botorch_saas.PaddedSaasPyroModel()
    padded.set_inputs(torch.as_tensor(Xp), torch.as_tensor(Yp))
    args = (jnp.asarray(Xp), jnp.asarray(Yp), jnp.asarray(mask))
    const = -5 * 0.5 * math.log(2 * math.pi)
    for seed in range(3):
        trace = handlers.trace(handlers.seed(plain.sample, jax.random.PRNGKey(seed))).get_trace()
        params = {k: v["value"] for k, v in trace.items() if v["type"] == "sample" and not v["is_observed"]}
        assert set(params) == {"outputscale", "mean", "noise", "kernel_tausq", "_kernel_inv_length_sq"}
        lp_plain, _ = log_density(plain.sample, (), {}, params)
        lp_padded, _ = log_density(padded.model, args, {}, params)
        assert float(lp_padded) == pytest.approx(float(lp_plain) + const, rel=1e-4, abs=1e-3)


def test_nuts_fit_reuses_one_sampler_per_padded_shape_and_finds_the_relevant_dimension() -> None:
    opt = saas(warmup_steps=64, num_samples=64, thinning=8)
    gen = torch.Generator().manual_seed(1)
    X = torch.rand(30, 4, generator=gen, dtype=torch.float64)
    y = torch.sin(3 * X[:, 0]) + 0.01 * torch.randn(30, generator=gen, dtype=torch.float64)
    botorch_saas.SAMPLERS.pop((24, 4, 64, 64), None)
    known = set(botorch_saas.SAMPLERS)
    opt._fit_gp(0, X[:18], y[:18])
    assert set(botorch_saas.SAMPLERS) - known == {(24, 4, 64, 64)}  # 18 rows padded to 24
    sampler = botorch_saas.SAMPLERS[(24, 4, 64, 64)]
    gp = saas(warmup_steps=64, num_samples=64, thinning=8)._fit_gp(0, X[:24], y[:24])
    # 24 rows, another optimiser: the same padded shape, the same compiled sampler
    assert set(botorch_saas.SAMPLERS) - known == {(24, 4, 64, 64)} and botorch_saas.SAMPLERS[(24, 4, 64, 64)] is sampler
    assert gp.num_mcmc_samples == 64 // 8
    lengthscale = gp.median_lengthscale.detach().squeeze()
    assert lengthscale.shape == (4,) and int(lengthscale.argmin()) == 0  # only x0 matters
    assert float(lengthscale[1:].min()) > 3 * float(lengthscale[0])
    held_out = gp.posterior(X[24:]).mixture_mean.squeeze(-1)
    assert torch.allclose(held_out, y[24:], atol=0.1)
    # NumPyro's MCMC.run loaded a new executable per fit and kept every old one mapped (~600 mappings
    # per fit, fatal at the kernel's 65,530 after ~100 fits); the compiled sampler must not grow
    maps = Path("/proc/self/maps")
    if maps.exists():  # Linux
        before = len(maps.read_text().splitlines())
        for k in range(3):
            opt._fit_gp(0, X[k : k + 20], y[k : k + 20])
        assert len(maps.read_text().splitlines()) - before < 50


def test_nuts_budget_text() -> None:
    assert botorch_saas.parse_nuts_budget("128/64/8") == {"warmup_steps": 128, "num_samples": 64, "thinning": 8}
    for bad in ("128/64", "128/x/8", "0/64/8", "128/64/8/1"):
        with pytest.raises(ValueError, match="warmup/samples/thinning"):
            botorch_saas.parse_nuts_budget(bad)
