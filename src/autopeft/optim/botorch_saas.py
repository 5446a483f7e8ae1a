"""The AutoPEFT paper's optimiser: SAAS fully-Bayesian GPs and noisy expected hypervolume improvement
(``--optimizer saas``, the default).

Everything but the surrogate is :mod:`autopeft.optim.botorch_gp`'s (encoding into the unit box, seeded
random initial design, exact ``params_pct`` through a deterministic model, failed trials dropped from the
data but never proposed again, ``qLogNoisyExpectedHypervolumeImprovement`` maximised over a finite set of
valid unseen configurations: Pareto neighbours plus random ones, greedy batches with pending points).

Surrogate
    Each modelled objective (the score; a measured cost such as training time when asked for) gets a
    :class:`~botorch.models.fully_bayesian.SaasFullyBayesianSingleTaskGP`: a Matérn-5/2 GP whose inverse
    lengthscales have a half-Cauchy prior with a global shrinkage scale (the *sparse axis-aligned
    subspace* prior of Eriksson & Jankowiak, 2021), so that a dimension counts only when the data
    insist, which is what lets a GP work with a few dozen observations in 15+ dimensions. Its
    hyperparameters are not optimised but sampled with NUTS (NumPyro on JAX, BoTorch's
    ``fully-bayesian`` extra); the posterior is a mixture over the retained samples and the acquisition
    averages over them. Outputs are standardised.

NUTS budget
    ``warmup_steps`` / ``num_samples`` / ``thinning`` default to 256 / 128 / 16 (8 retained samples), the
    settings of BoTorch's SAAS tutorial. Cheaper budgets predict the real SST-2 table's held-out scores
    as well (128/64/8 and 64/32/4: Spearman and log predictive density within the split-to-split spread
    at 25, 50 and 100 observations, ``bench/nuts_budget.py``) but did not make a search faster: with the
    sampler compiled once, the rest of a proposal dominates (``bench/results/search_quality/ablations/
    FINDINGS.md``). The NUTS sampler is seeded from the optimiser's seed and the call count, so seeded
    runs repeat.

Compiled sampler
    BoTorch's ``fit_fully_bayesian_model_nuts`` samples a model that reads the training data from
    attributes, so JAX baked them into the program as constants, and NumPyro's ``MCMC.run`` wraps its
    loop in a function made anew at each call: every fit traced, compiled and loaded a new executable
    (about 7 s of each fit here, whatever the NUTS budget) and kept the old ones mapped, so that a
    process died after ~100 fits (see :class:`PaddedNuts`). Here :class:`PaddedSaasPyroModel` (BoTorch's
    model, the same priors and sites) takes the data as arguments, padded to a multiple of
    :data:`PAD_MULTIPLE` rows and masked out of the likelihood exactly (tested), and :class:`PaddedNuts`
    compiles the whole warm-up + sampling loop once per padded shape and budget in a process
    (:data:`SAMPLERS`), and compiled programs are also kept in a persistent cache (:func:`jax_cache_dir`,
    unless the user configured JAX's own) for later processes. ``bench/nuts_budget.py`` and
    ``bench/proposal_cost.py`` measure the result.

Threads
    JAX sizes its CPU thread pool when its backend starts (the first computation, not the import:
    BoTorch imports JAX with its models). ``threads`` (the search's ``--threads``) sets ``XLA_FLAGS``
    accordingly if the backend has not started yet and the user has not set the flags.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from botorch.models.fully_bayesian import SaasFullyBayesianSingleTaskGP, SaasPyroModel
from botorch.models.transforms.outcome import Standardize

from autopeft.errors import UserError
from autopeft.optim.botorch_gp import GPOptimiser
from autopeft.records.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.space import SearchSpace

#: NUTS settings (BoTorch's SAAS tutorial): burn-in steps, samples drawn, keep every ``thinning``-th.
WARMUP_STEPS = 256
NUM_SAMPLES = 128
THINNING = 16

#: Monte-Carlo samples of the acquisition per retained hyperparameter sample: 8 x 16 = 128 sample
#: paths in all, as many as ``gp`` draws from its single GP. (16 per sample, not gp's 128: with 8
#: hyperparameter samples that would be 1,024 paths, and a proposal at 50 observations took 33 s
#: instead of 9 s here.)
SAAS_MC_SAMPLES = 16

#: NUTS sees the observations padded to a multiple of this many rows (one compiled sampler per
#: multiple; see the module docstring).
PAD_MULTIPLE = 8

#: NUTS's maximum tree depth (BoTorch's default).
MAX_TREE_DEPTH = 6


def parse_nuts_budget(text: str) -> dict[str, int]:
    """``"warmup/samples/thinning"`` (e.g. ``"128/64/8"``) as :class:`SaasOptimiser` keyword arguments.

    Raises:
        ValueError: ``text`` is not three positive integers separated by ``/``.
    """
    parts = text.split("/")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"{text!r} is not warmup/samples/thinning, e.g. 128/64/8")
    return {"warmup_steps": int(parts[0]), "num_samples": int(parts[1]), "thinning": int(parts[2])}


def jax_cache_dir() -> Path:
    """Where compiled NUTS programs are kept: ``$AUTOPEFT_JAX_CACHE``, else ``~/.cache/autopeft/jax``."""
    env = os.environ.get("AUTOPEFT_JAX_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "autopeft" / "jax"


def _jax_backend_started() -> bool:
    """Whether JAX has set up its CPU backend (after which ``XLA_FLAGS`` are no longer read)."""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # a JAX without this private helper: assume started
        return True


def _require_jax(threads: int | None) -> None:
    # BoTorch imports JAX with its models, but the backend reads XLA_FLAGS only when it starts
    if not _jax_backend_started() and threads is not None and "XLA_FLAGS" not in os.environ:
        os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
    try:
        import jax
        import numpyro  # noqa: F401
    except ImportError as exc:
        raise UserError(
            "optimizer",
            "saas",
            f"needs JAX and NumPyro, which are not installed ({exc})",
            'pip install "botorch[fully-bayesian]", or choose `optimizer=gp`',
        ) from exc
    if jax.config.jax_compilation_cache_dir is None:  # the user's own setting wins
        jax.config.update("jax_compilation_cache_dir", str(jax_cache_dir()))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


class SaasOptimiser(GPOptimiser):
    """Bayesian optimisation with SAAS fully-Bayesian GPs (see the module docstring).

    Args:
        space, seed, objectives: as :class:`~autopeft.optim.botorch_gp.GPOptimiser`.
        gp_options: ``init_trials``, ``param_fn``, ``reference``, ``n_candidates``: as
            :class:`~autopeft.optim.botorch_gp.GPOptimiser`.
        mc_samples: Monte-Carlo samples per hyperparameter sample; default :data:`SAAS_MC_SAMPLES`.
        warmup_steps, num_samples, thinning: NUTS settings (defaults :data:`WARMUP_STEPS`,
            :data:`NUM_SAMPLES`, :data:`THINNING`).
        threads: CPU threads for JAX (see the module docstring); None = JAX's default.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES,
        *,
        mc_samples: int | None = None,
        warmup_steps: int = WARMUP_STEPS,
        num_samples: int = NUM_SAMPLES,
        thinning: int = THINNING,
        threads: int | None = None,
        **gp_options: Any,
    ) -> None:
        mc = SAAS_MC_SAMPLES if mc_samples is None else mc_samples
        super().__init__(space, seed, objectives, mc_samples=mc, **gp_options)
        for name, value in (("warmup_steps", warmup_steps), ("num_samples", num_samples), ("thinning", thinning)):
            if value < 1:
                raise ValueError(f"{name}={value}: must be >= 1")
        if num_samples < thinning:
            raise ValueError(f"num_samples={num_samples} < thinning={thinning}: no sample would be kept")
        self.warmup_steps = int(warmup_steps)
        self.num_samples = int(num_samples)
        self.thinning = int(thinning)
        _require_jax(threads)

    def _fit_gp(self, key: int, X: torch.Tensor, y: torch.Tensor) -> SaasFullyBayesianSingleTaskGP:
        """A SAAS GP of one objective's values ``y`` (shape ``n``) at ``X`` (``n x d``), fitted by NUTS.

        Called inside the forked, seeded torch RNG of ``ask``, so the NUTS seed drawn here repeats.
        """
        gp = SaasFullyBayesianSingleTaskGP(X, y.unsqueeze(-1), outcome_transform=Standardize(m=1))
        seed = int(torch.randint(2**31 - 1, ()).item())
        fit_saas_nuts(
            gp,
            warmup_steps=self.warmup_steps,
            num_samples=self.num_samples,
            thinning=self.thinning,
            seed=seed,
        )
        return gp


class PaddedSaasPyroModel(SaasPyroModel):
    """BoTorch's SAAS model (same priors, same sample sites) with the data as arguments of
    :meth:`model`, padded to a fixed number of rows.

    ``mask`` (shape ``n_pad``) is 1 for real rows and 0 for padding. The likelihood's covariance is
    ``(K + noise I) * m m^T + diag(1 - m)`` and its mean ``mean * m``, so with padded values 0 each padded
    row adds the constant ``log N(0; 0, 1)`` and the posterior of the hyperparameters is the unpadded one.
    """

    _mask: Any = None

    def model(self, X: Any, Y: Any, mask: Any) -> None:
        """The NumPyro model: ``X`` (``n_pad x d``), ``Y`` (``n_pad x 1``, standardised), ``mask``."""
        self.train_X_jax, self.train_Y_jax, self._mask = X, Y, mask
        self.sample()

    def sample_observations(self, mean: Any, K_noiseless: Any, noise: Any) -> None:
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        m = self._mask
        n = m.shape[0]
        K = (K_noiseless + noise * jnp.eye(n)) * jnp.outer(m, m) + jnp.diag(1.0 - m)
        loc = jnp.broadcast_to(jnp.reshape(mean, (-1,)), (n,)) * m
        y = jnp.squeeze(self.train_Y_jax, -1)
        numpyro.sample("Y", dist.MultivariateNormal(loc=loc, covariance_matrix=K), obs=y)


def pad_observations(X: Any, Y: Any, multiple: int = PAD_MULTIPLE) -> tuple[Any, Any, Any]:
    """``X`` (``n x d``) and ``Y`` (``n x 1``) as NumPy arrays padded with zero rows to the next multiple
    of ``multiple``, and the mask (shape ``n_pad``: 1 real, 0 padding)."""
    X = np.asarray(X)
    Y = np.asarray(Y)
    n = X.shape[0]
    n_pad = max(multiple, -(-n // multiple) * multiple)
    Xp = np.zeros((n_pad, X.shape[1]), dtype=X.dtype)
    Yp = np.zeros((n_pad, 1), dtype=Y.dtype)
    Xp[:n], Yp[:n] = X, Y.reshape(n, 1)
    mask = np.zeros(n_pad, dtype=X.dtype)
    mask[:n] = 1.0
    return Xp, Yp, mask


class PaddedNuts:
    """One compiled NUTS run (warm-up then sampling) of :class:`PaddedSaasPyroModel` for one padded data
    shape and one budget, reused for every fit of that shape.

    Unlike NumPyro's ``MCMC.run``, whose loop is a new function at each call (a new executable per fit,
    each kept mapped: about 600 memory mappings per fit, fatal at the kernel's 65,530 with "LLVM
    compilation error: Cannot allocate memory"), the loop (NumPyro's functional ``hmc`` kernels under
    ``lax.scan``) is jitted once per instance. The sampler is NumPyro's NUTS as ``MCMC`` runs it for
    BoTorch: dense mass matrix, step size and mass matrix adapted during the
    warm-up, tree depth :data:`MAX_TREE_DEPTH`, initial values uniform in ``(-2, 2)`` in the unconstrained
    space (NumPyro's ``init_to_uniform``).

    Args:
        X, Y, mask: padded data of the first fit (shapes ``n_pad x d``, ``n_pad x 1``, ``n_pad``).
        warmup_steps, num_samples: NUTS budget (every sample is returned; thin afterwards).
    """

    def __init__(self, X: Any, Y: Any, mask: Any, warmup_steps: int, num_samples: int) -> None:
        import jax
        from numpyro.infer.hmc import hmc
        from numpyro.infer.util import initialize_model

        self.warmup_steps, self.num_samples = int(warmup_steps), int(num_samples)
        template = PaddedSaasPyroModel()
        template.set_inputs(torch.tensor(np.array(X)), torch.tensor(np.array(Y)))
        info = initialize_model(jax.random.PRNGKey(0), template.model, model_args=(X, Y, mask), dynamic_args=True)
        self._shapes = {name: value.shape for name, value in info.param_info.z.items()}
        self._init, sample = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
        constrain = info.postprocess_fn
        warmup, total = self.warmup_steps, self.warmup_steps + self.num_samples

        def run(state: Any, X: Any, Y: Any, mask: Any) -> dict[str, Any]:
            def step(s: Any, _: Any) -> tuple[Any, Any]:
                s = sample(s, model_args=(X, Y, mask))
                return s, s.z

            _, zs = jax.lax.scan(step, state, None, length=total)
            kept = jax.tree_util.tree_map(lambda v: v[warmup:], zs)
            return jax.vmap(constrain(X, Y, mask))(kept)

        self._run = jax.jit(run)

    def __call__(self, seed: int, X: Any, Y: Any, mask: Any) -> dict[str, Any]:
        """Samples of every site (latent and deterministic), each of shape ``num_samples x ...``."""
        import jax

        k_init, k_run = jax.random.split(jax.random.PRNGKey(seed))
        keys = jax.random.split(k_init, len(self._shapes))
        z = {
            name: jax.random.uniform(key, shape, minval=-2.0, maxval=2.0)
            for key, (name, shape) in zip(keys, sorted(self._shapes.items()), strict=True)
        }
        state = self._init(
            z,
            num_warmup=self.warmup_steps,
            dense_mass=True,
            max_tree_depth=MAX_TREE_DEPTH,
            model_args=(X, Y, mask),
            rng_key=k_run,
        )
        return self._run(state, X, Y, mask)


#: Compiled samplers by (padded rows, dimensions, warm-up steps, samples), shared by every optimiser of
#: the process: JAX keeps each loaded executable mapped for the life of the process, so samplers made
#: per optimiser (e.g. one per seed of a benchmark) would add up to the kernel's mapping limit.
SAMPLERS: dict[tuple[int, ...], PaddedNuts] = {}


def fit_saas_nuts(
    gp: SaasFullyBayesianSingleTaskGP,
    *,
    warmup_steps: int = WARMUP_STEPS,
    num_samples: int = NUM_SAMPLES,
    thinning: int = THINNING,
    seed: int = 0,
) -> None:
    """Fit ``gp`` by NUTS as BoTorch's ``fit_fully_bayesian_model_nuts`` does (dense mass matrix,
    tree depth :data:`MAX_TREE_DEPTH`, every ``thinning``-th of ``num_samples`` kept after
    ``warmup_steps``), but on :class:`PaddedSaasPyroModel` with a :class:`PaddedNuts` sampler compiled
    once per padded shape and budget and kept in :data:`SAMPLERS` (see the module docstring).

    Args:
        gp: an unfitted SAAS GP; its (transformed) training data are sampled on.
    """
    import jax.numpy as jnp

    data = gp.pyro_model
    Xp, Yp, mask = pad_observations(data.train_X_jax, data.train_Y_jax)
    args = (jnp.asarray(Xp), jnp.asarray(Yp), jnp.asarray(mask))
    key = (*Xp.shape, warmup_steps, num_samples)
    if key not in SAMPLERS:
        SAMPLERS[key] = PaddedNuts(*args, warmup_steps=warmup_steps, num_samples=num_samples)
    gp.train()
    samples = SAMPLERS[key](seed, *args)
    samples = data.postprocess_mcmc_samples(mcmc_samples=dict(samples))
    gp.load_mcmc_samples({k: v[::thinning] for k, v in samples.items()})
    gp.eval()


#: SAAS sparsity scales of ``saas-map``'s ensemble (BoTorch's default; one MAP GP per scale).
MAP_NUM_TAUS = 4

#: Monte-Carlo samples of the acquisition per ensemble member: 4 x 32 = 128 paths, as ``gp``.
MAP_MC_SAMPLES = 32


class MapSaasOptimiser(GPOptimiser):
    """``--optimizer saas-map``: the SAAS prior with maximum-a-posteriori fits instead of NUTS.

    Each modelled objective gets an :class:`~botorch.models.map_saas.EnsembleMapSaasSingleTaskGP`:
    ``num_taus`` Matérn-5/2 GPs under the SAAS prior, each with its own global shrinkage scale drawn
    from the prior's half-Cauchy, each fitted by maximising its marginal likelihood plus prior
    (L-BFGS, as ``gp``), and mixed like the NUTS samples of ``saas``. It keeps what the SAAS prior buys
    (dimensions switched off until the data insist) and replaces NUTS (most of a ``saas`` proposal's
    time) by a few deterministic optimisations; it needs no JAX. ``bench/proposal_cost.py`` and
    ``bench/search_quality.py`` compare the two.

    Args:
        space, seed, objectives: as :class:`~autopeft.optim.botorch_gp.GPOptimiser`.
        num_taus: ensemble members; default :data:`MAP_NUM_TAUS`.
        mc_samples: Monte-Carlo samples per member; default :data:`MAP_MC_SAMPLES`.
        gp_options: ``init_trials``, ``param_fn``, ``reference``, ``n_candidates``: as
            :class:`~autopeft.optim.botorch_gp.GPOptimiser`.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES,
        *,
        num_taus: int = MAP_NUM_TAUS,
        mc_samples: int | None = None,
        **gp_options: Any,
    ) -> None:
        mc = MAP_MC_SAMPLES if mc_samples is None else mc_samples
        super().__init__(space, seed, objectives, mc_samples=mc, **gp_options)
        if num_taus < 1:
            raise ValueError(f"num_taus={num_taus}: must be >= 1")
        self.num_taus = int(num_taus)

    def _fit_gp(self, key: int, X: torch.Tensor, y: torch.Tensor) -> Any:
        """An ensemble of MAP SAAS GPs of ``y`` (shape ``n``) at ``X`` (``n x d``).

        The scales are drawn inside the forked, seeded torch RNG of ``ask``, so seeded runs repeat.
        """
        from botorch.fit import fit_gpytorch_mll
        from botorch.models.map_saas import EnsembleMapSaasSingleTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood

        # outputs standardised by the model's default transform (batched over the members)
        gp = EnsembleMapSaasSingleTaskGP(X, y.unsqueeze(-1), num_taus=self.num_taus)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        return gp
