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
    settings of BoTorch's SAAS tutorial. ``bench/proposal_cost.py`` measures whole proposals (fit and
    acquisition) against the number of observations; see the README for the figures. The NUTS
    sampler is seeded from the optimiser's seed and the call count, so seeded runs repeat.

Compile cache
    Most of a NUTS fit's time is JAX compiling the sampler for the data's shape (about 8 s of ~11 s for
    50 observations in 15 dimensions here, where sampling takes ~3 s). Compiled programs are kept in a
    persistent cache (:func:`jax_cache_dir`) unless the user configured JAX's own, so each number of
    observations compiles once per machine: a resumed search, a second search and the benchmark's
    seeds reuse them.

Threads
    JAX sizes its CPU thread pool when it is first imported. ``threads`` (the search's ``--threads``)
    sets ``XLA_FLAGS`` accordingly if JAX has not been imported yet and the user has not set the flags.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch
from botorch.models.fully_bayesian import SaasFullyBayesianSingleTaskGP
from botorch.models.transforms.outcome import Standardize

from autopeft.errors import UserError
from autopeft.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.optim.botorch_gp import GPOptimiser
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


def jax_cache_dir() -> Path:
    """Where compiled NUTS programs are kept: ``$AUTOPEFT_JAX_CACHE``, else ``~/.cache/autopeft/jax``."""
    env = os.environ.get("AUTOPEFT_JAX_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "autopeft" / "jax"


def _require_jax(threads: int | None) -> None:
    if "jax" not in sys.modules:
        if threads is not None and "XLA_FLAGS" not in os.environ:
            os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
        # XLA's C++ warnings (one per cached program loaded: "Assume version compatibility") would
        # interleave with the search's progress lines; errors still show
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import jax
        import numpyro  # noqa: F401
    except ImportError as exc:
        raise UserError(
            "--optimizer",
            "saas",
            f"needs JAX and NumPyro, which are not installed ({exc})",
            'pip install "botorch[fully-bayesian]", or choose --optimizer gp',
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
        from botorch.fit import fit_fully_bayesian_model_nuts

        gp = SaasFullyBayesianSingleTaskGP(X, y.unsqueeze(-1), outcome_transform=Standardize(m=1))
        fit_fully_bayesian_model_nuts(
            gp,
            warmup_steps=self.warmup_steps,
            num_samples=self.num_samples,
            thinning=self.thinning,
            disable_progbar=True,
            seed=int(torch.randint(2**31 - 1, ()).item()),
        )
        return gp


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
