"""Multi-objective Bayesian optimisation with a Gaussian process (``--optimizer gp``).

Design (the AutoPEFT paper's search with a standard GP in place of the SAAS GP):

Encoding
    A configuration's :meth:`~autopeft.space.SearchSpace.encode` vector (layer bits 0/1, module sizes
    as the index into ``(0, s_1, ..., s_k)``, switches 0/1) divided by the upper bound of each
    dimension (:meth:`~autopeft.space.SearchSpace.bounds`; every lower bound is 0), so every input
    lies in ``[0, 1]``. Sizes are ordinal: neighbouring sizes (1 → 3, 384 → 768) are equally far
    apart, i.e. the model sees sizes on a roughly logarithmic scale, and 0 (off) is one step below
    the smallest size.

Initial design
    The first ``init_trials`` proposals (counting trials told and trials pending) are drawn at
    random, uniformly over the valid configurations, from a seeded generator; so is every proposal
    while fewer than two trials have completed (a model needs data).

Models
    One model per objective (GPs joined in a :class:`~botorch.models.ModelListGP`, placed beside
    the deterministic model in a :class:`~botorch.models.model.ModelList` when there is one):

    - the score (and any measured cost, such as training time): a
      :class:`~botorch.models.SingleTaskGP` on the complete trials with BoTorch's defaults (RBF
      kernel with one lengthscale per dimension under a dimension-scaled log-normal prior, inferred
      noise), outputs standardised (:class:`~botorch.models.transforms.outcome.Standardize`),
      hyperparameters by maximum marginal likelihood, warm-started from the previous fit;
    - the trainable-parameter percentage (``params_pct``) is known before a configuration trains, so
      it is not modelled when ``param_fn`` gives it: a
      :class:`~botorch.models.deterministic.GenericDeterministicModel` looks the exact value up
      (measured values of told trials, ``param_fn`` for every other configuration). Without
      ``param_fn`` a GP on the observed values stands in.

    ``params_pct`` (and any objective declared ``log_scale``, such as training time) is modelled (or
    looked up) as its logarithm, since it spans orders of magnitude; the acquisition's objective
    exponentiates it back, so the hypervolume that the acquisition improves is the one
    :mod:`autopeft.analysis.hypervolume` reports (objectives in BoTorch's maximisation convention:
    minimised objectives negated; the same fixed reference point).

Failed trials
    Dropped from the training data: a failed trial has no score (a crash, an out-of-memory error, a
    NaN loss), and inventing one would teach the model something untrue about the configuration's
    quality. They stay *seen*: a failed configuration is never proposed again. Should the model
    itself fail numerically (a GP that cannot be fitted), that ``ask`` proposes at random and logs a
    warning rather than stopping the search.

Acquisition
    ``qLogNoisyExpectedHypervolumeImprovement`` (``qLogNoisyExpectedImprovement`` with a single
    objective), maximised over a *finite candidate set* of valid configurations that are neither
    told nor pending: every one-step neighbour (one layer bit flipped, one size moved one step, one
    switch flipped) of the configurations on the observed Pareto front, the paper's local search,
    plus ``n_candidates`` others drawn uniformly at random (all of them when no more are left; small
    spaces, at most :data:`ENUMERATE_LIMIT` grid cells, are enumerated to draw from, and so are sparse
    ones, whose valid configurations are a small share of the grid, :func:`autopeft.optim.grid.is_sparse`:
    a space restricted to a table of real trials). A finite set
    keeps every proposal a valid, unseen configuration without rounding, and lets the deterministic
    model know ``params_pct`` of every point it is asked about. A batch of ``q`` is chosen
    greedily: each pick joins the pending points (``X_pending``, with the trials already running)
    before the next is chosen, so the batch spreads out; later picks re-evaluate candidates lazily
    (see :meth:`GPOptimiser._greedy`).

Reproducibility
    Every ``ask`` draws from a numpy generator seeded with ``(seed, number of the call)`` and runs
    the model in a forked torch RNG seeded from it; the global torch RNG is left as it was.

``param_fn`` is called for every candidate whose value is not cached (a few thousand per ``ask``
at first, fewer later), so it must be cheap: cache measurements, or compute from per-module counts.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
from botorch.acquisition.objective import GenericMCObjective
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import Model, ModelList
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors import Posterior
from botorch.sampling.base import MCSampler
from botorch.sampling.list_sampler import ListSampler
from botorch.sampling.normal import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.errors import NotPSDError
from linear_operator.utils.warnings import NumericalWarning

from autopeft.analysis.hypervolume import ReferencePoint
from autopeft.analysis.pareto import pareto_mask
from autopeft.errors import UserError
from autopeft.optim.base import Optimiser
from autopeft.optim.grid import grid_cells, is_sparse, valid_rows
from autopeft.records.objectives import DEFAULT_OBJECTIVES, Objective
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace

log = logging.getLogger(__name__)

#: Random proposals before the model is used.
DEFAULT_INIT_TRIALS = 10

#: Random valid configurations in the candidate set of a large space (besides Pareto neighbours).
N_CANDIDATES = 2000

#: Spaces whose encoded grid (valid or not) has at most this many cells are enumerated.
ENUMERATE_LIMIT = 8192

#: Monte-Carlo samples of the acquisition function.
MC_SAMPLES = 128

#: Candidates evaluated by the acquisition function at once.
_CHUNK = 512

#: Candidates re-evaluated at once by the lazy greedy batch selection.
_LAZY_CHUNK = 64

#: ``params_pct`` floor before the logarithm (valid configurations always train some parameters).
_PARAMS_FLOOR = 1e-9

_DTYPE = torch.float64


class _DeterministicSampler(MCSampler):
    """Samples of a deterministic posterior: its value repeated; no base samples to share or update."""

    def forward(self, posterior: Posterior) -> torch.Tensor:
        return posterior.rsample(sample_shape=self.sample_shape)

    def _update_base_samples(self, posterior: Posterior, base_sampler: MCSampler) -> None:
        pass  # nothing random to keep consistent between X_baseline and new points


class GPOptimiser(Optimiser):
    """Bayesian optimisation with GPs and (log) noisy expected hypervolume improvement.

    See the module docstring for the design.

    Args:
        space: the search space.
        seed: seeds every random choice.
        objectives: the objectives and their directions.
        init_trials: random proposals before the model is used.
        param_fn: exact ``params_pct`` of a configuration (percent of the backbone), if known before
            training; then ``params_pct`` is not modelled. Called for many configurations: make it
            cheap (cached).
        reference: the hypervolume reference point the acquisition aims at: the search's own
            :class:`~autopeft.analysis.hypervolume.ReferencePoint` (the study owns it and fixes a
            measured cost's value at the first complete trial, before telling it), or fixed values in
            the objectives' own units and directions (e.g. ``[0.0, 10.0]``). While its value is not
            fixed no trial has completed, so there is no model yet and proposals are random.
        n_candidates: random candidates per ``ask`` besides the Pareto neighbours; default
            :data:`N_CANDIDATES`.
        mc_samples: Monte-Carlo samples of the acquisition function; default :data:`MC_SAMPLES`.

    Attributes:
        last_ask_seconds: wall time of the latest ``ask`` (s).
        last_ask_model_steps: proposals of the latest ``ask`` that the model chose (the rest were
            random).
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: tuple[Objective, ...] = DEFAULT_OBJECTIVES,
        *,
        init_trials: int = DEFAULT_INIT_TRIALS,
        param_fn: Callable[[PeftConfig], float] | None = None,
        reference: ReferencePoint | Sequence[float],
        n_candidates: int | None = None,
        mc_samples: int | None = None,
    ) -> None:
        super().__init__(space, seed, objectives)
        if init_trials < 0:
            raise UserError("init_trials", init_trials, "must be 0 or more", "use e.g. `init_trials=10`")
        self.init_trials = int(init_trials)
        self.param_fn = param_fn
        self.n_candidates = int(N_CANDIDATES if n_candidates is None else n_candidates)
        self.mc_samples = int(MC_SAMPLES if mc_samples is None else mc_samples)
        if not isinstance(reference, ReferencePoint):
            reference = ReferencePoint.fixed(objectives, reference)
        elif reference.objectives != tuple(objectives):
            raise ValueError("the reference point is for other objectives than the optimiser's")
        self._reference = reference
        self._signs = np.array([1.0 if o.direction == "maximize" else -1.0 for o in objectives])
        self._log = [o.log_scale for o in objectives]
        self._known = [o.attribute == "params_pct" and param_fn is not None for o in objectives]

        self._card = np.array([d.cardinality for d in space.dimensions], dtype=np.int64)
        self._upper = (self._card - 1).astype(np.float64)
        self._grid_cells = grid_cells(space)
        # small grids are enumerated; so are sparse ones, where random cells would rarely be valid
        self._enumerate = self._grid_cells <= ENUMERATE_LIMIT or is_sparse(space)
        if self._grid_cells < 2**62:  # exact mixed-radix codes
            radix = np.cumprod(np.concatenate([[1], self._card[:-1]])).astype(np.int64)
        else:  # a hash (int64 products wrap around alike in numpy and torch); collisions are vanishingly unlikely
            radix = np.random.default_rng(0).integers(1, 2**62, size=len(self._card), dtype=np.int64) | 1
        self._radix = radix
        self._radix_t = torch.as_tensor(radix)

        self._train_idx: list[np.ndarray] = []  # complete trials: encoded indices
        self._train_y: list[list[float]] = []  # ... and objective values
        self._seen_codes: set[int] = set()
        self._params: dict[int, float] = {}  # exact params_pct by code (told trials, param_fn)
        self._n_told = 0
        self._calls = 0
        self._grid: np.ndarray | None = None
        self._hypers: dict[int, dict[str, dict[str, torch.Tensor]]] = {}  # last fitted GP hyperparameters
        self.last_ask_seconds = 0.0
        self.last_ask_model_steps = 0

    # --- encoding -------------------------------------------------------------------------------

    def encode(self, configs: Sequence[PeftConfig]) -> np.ndarray:
        """The model's inputs: ``space.encode`` of each configuration divided by the upper bounds of
        ``space.bounds()``, shape ``(len(configs), len(space.dimensions))``, every value in ``[0, 1]``."""
        rows = np.asarray([self.space.encode(c) for c in configs], dtype=np.float64)
        return rows.reshape(-1, len(self._card)) / self._upper

    @property
    def n_train(self) -> int:
        """Complete trials the model is fitted on (failed trials are not among them)."""
        return len(self._train_y)

    def _index(self, config: PeftConfig) -> np.ndarray:
        return self.space.encode(config).astype(np.int64)

    def _codes(self, idx: np.ndarray) -> np.ndarray:
        return (idx.reshape(-1, len(self._card)) @ self._radix).astype(np.int64)

    def _code(self, idx: np.ndarray) -> int:
        return int(self._codes(idx)[0])

    def _valid(self, idx: np.ndarray) -> np.ndarray:
        return self.space.valid_indices(idx)

    def _x(self, idx: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
        arr = np.asarray(idx, dtype=np.float64).reshape(-1, len(self._card))
        return torch.as_tensor(arr / self._upper, dtype=_DTYPE)

    def _decode(self, idx: np.ndarray) -> PeftConfig:
        return self.space.decode(idx)

    # --- tell ---------------------------------------------------------------------------------

    def _observe(self, config: PeftConfig, result: TrialResult) -> None:
        idx = self._index(config)
        code = self._code(idx)
        self._seen_codes.add(code)
        self._n_told += 1
        values = self.objective_values(result)
        if values is None or not all(math.isfinite(v) for v in values):
            return  # failed: no training data (see the module docstring); stays seen
        if math.isfinite(result.params_pct) and result.params_pct > 0:
            self._params[code] = float(result.params_pct)
        self._train_idx.append(idx)
        self._train_y.append(values)
        # used alone (not through a study), a measured cost's reference is fixed by the first complete trial
        self._reference.observe([result])

    @property
    def reference(self) -> np.ndarray | None:
        """The reference point's value, shape ``(len(objectives),)``; None while not fixed."""
        return self._reference.value

    # --- ask ----------------------------------------------------------------------------------

    def ask(self, n: int = 1, pending: Sequence[PeftConfig] = ()) -> list[PeftConfig]:
        start = time.perf_counter()
        self._calls += 1
        rng = np.random.default_rng([self.seed, self._calls])
        pending_idx = [self._index(c) for c in pending]
        taken = set(self._seen_codes) | {self._code(i) for i in pending_idx}
        n_random = max(0, self.init_trials - self._n_told - len(pending))
        if len(self._train_y) < 2:
            n_random = n
        chosen = self._random(min(n, n_random), taken, rng)
        taken |= {self._code(i) for i in chosen}
        self.last_ask_model_steps = 0
        if len(chosen) < n and len(self._train_y) >= 2:
            picked = self._model_step(n - len(chosen), taken, [*pending_idx, *chosen], rng)
            self.last_ask_model_steps = len(picked)
            chosen += picked
        self.last_ask_seconds = time.perf_counter() - start
        return [self._decode(i) for i in chosen]

    def _enumerated(self) -> np.ndarray:
        """Every valid configuration of a small or sparse space as index rows, in grid order (built once)."""
        if self._grid is None:
            self._grid = valid_rows(self.space)
        return self._grid

    def _free(self, idx: np.ndarray, taken: set[int]) -> np.ndarray:
        """Rows of ``idx`` that are valid, not taken and not repeated (first occurrence kept)."""
        if len(idx) == 0:
            return idx
        idx = idx[self._valid(idx)]
        codes = self._codes(idx)
        _, first = np.unique(codes, return_index=True)
        first = np.sort(first)
        keep = np.array([int(codes[i]) not in taken for i in first], dtype=bool)
        return idx[first[keep]] if len(first) else idx[:0]

    def _sample(self, k: int, taken: set[int], rng: np.random.Generator) -> np.ndarray:
        """Up to ``k`` distinct valid free configurations, uniformly at random."""
        if self._enumerate:
            free = self._free(self._enumerated(), taken)
            return free[rng.permutation(len(free))[:k]]
        rows: list[np.ndarray] = []
        got: set[int] = set(taken)
        for _ in range(50):
            draw = rng.integers(0, self._card, size=(max(2 * k, 64), len(self._card)))
            fresh = self._free(draw, got)[: k - sum(len(r) for r in rows)]
            rows.append(fresh)
            got |= set(self._codes(fresh).tolist())
            if sum(len(r) for r in rows) >= k:
                break
        return np.concatenate(rows) if rows else np.zeros((0, len(self._card)), dtype=np.int64)

    def _random(self, k: int, taken: set[int], rng: np.random.Generator) -> list[np.ndarray]:
        return list(self._sample(k, taken, rng)) if k > 0 else []

    def _neighbours(self, idx: np.ndarray) -> np.ndarray:
        """Every configuration one step from a row of ``idx`` (may be invalid; filter later)."""
        out = []
        for row in idx:
            for j, card in enumerate(self._card):
                for step in (-1, 1) if card > 2 else (1,):
                    value = (row[j] + step) % 2 if card == 2 else row[j] + step
                    if 0 <= value < card:
                        nb = row.copy()
                        nb[j] = value
                        out.append(nb)
        return np.asarray(out, dtype=np.int64).reshape(-1, len(self._card))

    def _candidates(self, taken: set[int], rng: np.random.Generator) -> np.ndarray:
        """The configurations the acquisition function is maximised over (see the module docstring)."""
        local = self._free(self._neighbours(self._front_idx()), taken)
        taken = taken | set(self._codes(local).tolist())
        if self._enumerate:
            free = self._free(self._enumerated(), taken)
            if len(free) > self.n_candidates:
                free = free[np.sort(rng.permutation(len(free))[: self.n_candidates])]
            return np.concatenate([local, free])
        return np.concatenate([local, self._sample(self.n_candidates, taken, rng)])

    def _front_idx(self) -> np.ndarray:
        if not self._train_y:
            return np.zeros((0, len(self._card)), dtype=np.int64)
        y = np.asarray(self._train_y, dtype=float)
        mask = pareto_mask(y, [o.direction for o in self.objectives])
        return np.asarray(self._train_idx, dtype=np.int64)[mask]

    # --- model ----------------------------------------------------------------------------------

    def _params_of(self, idx: np.ndarray) -> np.ndarray:
        """Exact params_pct of index rows (cache, else ``param_fn``)."""
        codes = self._codes(idx)
        out = np.empty(len(codes))
        for i, code in enumerate(codes.tolist()):
            if code not in self._params:
                assert self.param_fn is not None
                self._params[code] = float(self.param_fn(self._decode(idx[i])))
            out[i] = self._params[code]
        return out

    def _lookup_model(self, known_idx: np.ndarray) -> GenericDeterministicModel:
        """log(params_pct) of encoded inputs, looked up in a table of every point it will be asked about."""
        self._params_of(known_idx)  # fill the cache
        table: dict[str, torch.Tensor] = {}

        def rebuild() -> None:
            codes = np.fromiter(self._params.keys(), dtype=np.int64, count=len(self._params))
            vals = np.log(np.maximum(np.fromiter(self._params.values(), dtype=float), _PARAMS_FLOOR))
            order = np.argsort(codes)
            table["codes"] = torch.as_tensor(codes[order])
            table["vals"] = torch.as_tensor(vals[order], dtype=_DTYPE)

        rebuild()
        upper = torch.as_tensor(self._upper, dtype=_DTYPE)

        def f(X: torch.Tensor) -> torch.Tensor:
            idx = torch.round(X.detach() * upper).long()
            codes = (idx * self._radix_t).sum(-1)
            pos = torch.searchsorted(table["codes"], codes).clamp(max=len(table["codes"]) - 1)
            missing = table["codes"][pos] != codes
            if missing.any():  # a point outside the candidate set: compute it once
                self._params_of(idx[missing].reshape(-1, len(self._card)).numpy())
                rebuild()
                pos = torch.searchsorted(table["codes"], codes).clamp(max=len(table["codes"]) - 1)
            return table["vals"][pos].unsqueeze(-1).to(X)

        return GenericDeterministicModel(f, num_outputs=1)

    def _fit_gp(self, key: int, X: torch.Tensor, y: torch.Tensor) -> SingleTaskGP:
        """A GP of one objective's values ``y``, outputs standardised.

        Hyperparameters are warm-started from the previous fit of the same objective (as Ax does),
        which saves iterations of the marginal-likelihood optimisation once a few trials are in.
        """
        gp = SingleTaskGP(X, y.unsqueeze(-1), outcome_transform=Standardize(m=1))
        parts = {"mean": gp.mean_module, "covar": gp.covar_module, "likelihood": gp.likelihood}
        for name, state in self._hypers.get(key, {}).items():
            parts[name].load_state_dict(state)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        self._hypers[key] = {name: copy.deepcopy(part.state_dict()) for name, part in parts.items()}
        return gp

    def _model_step(
        self, k: int, taken: set[int], pending_idx: list[np.ndarray], rng: np.random.Generator
    ) -> list[np.ndarray]:
        cand = self._candidates(taken, rng)
        if len(cand) == 0:
            return []
        with torch.random.fork_rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore", NumericalWarning)  # jitter added to a near-singular matrix
            torch.manual_seed(int(rng.integers(2**31)))
            try:
                acq = self._acquisition(cand, pending_idx, int(rng.integers(2**31)))
                return self._greedy(acq, cand, k, pending_idx, rng)
            except (ModelFittingError, NotPSDError) as err:  # a numerical failure must not stop the search
                log.warning("gp: the model failed (%s); proposing at random this time", err)
                return self._greedy(None, cand, k, pending_idx, rng)

    def _acquisition(self, cand: np.ndarray, pending_idx: list[np.ndarray], seed: int):
        """The acquisition function over the complete trials, with the pending points."""
        train_idx = np.asarray(self._train_idx, dtype=np.int64)
        X = self._x(train_idx)
        Y = np.asarray(self._train_y, dtype=float)
        modelled = [j for j, known in enumerate(self._known) if not known]
        known = [j for j, k in enumerate(self._known) if k]
        shape = torch.Size([self.mc_samples])
        models: list[Model] = []
        samplers: list[MCSampler] = []
        if modelled:
            gps = []
            for j in modelled:
                y = np.log(np.maximum(Y[:, j], _PARAMS_FLOOR)) if self._log[j] else Y[:, j]
                gps.append(self._fit_gp(j, X, torch.as_tensor(y, dtype=_DTYPE)))
            models.append(gps[0] if len(gps) == 1 else ModelListGP(*gps))  # one joint posterior
            samplers.append(SobolQMCNormalSampler(sample_shape=shape, seed=seed))
        if known:
            pend = np.asarray(pending_idx, dtype=np.int64).reshape(-1, len(self._card))
            lookup = self._lookup_model(np.concatenate([train_idx, cand, pend]))
            models += [lookup] * len(known)
            samplers += [_DeterministicSampler(sample_shape=shape) for _ in known]
        # model outputs come as modelled + known; objective k is output column order[k]
        order = torch.as_tensor(np.argsort(modelled + known))
        signs = torch.as_tensor(self._signs, dtype=_DTYPE)
        log = torch.as_tensor(self._log)

        def to_objectives(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
            samples = samples[..., order]
            return torch.where(log, samples.exp(), samples) * signs

        model = models[0] if len(models) == 1 else ModelList(*models)
        sampler = samplers[0] if len(samplers) == 1 else ListSampler(*samplers)
        pending = self._x(pending_idx) if pending_idx else None
        if len(self.objectives) == 1:
            return qLogNoisyExpectedImprovement(
                model=model,
                X_baseline=X,
                sampler=sampler,
                objective=GenericMCObjective(lambda s, X=None: to_objectives(s)[..., 0]),
                X_pending=pending,
                prune_baseline=True,
            )
        return qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=torch.as_tensor(self.reference * self._signs, dtype=_DTYPE),
            X_baseline=X,
            sampler=sampler,
            objective=GenericMCMultiOutputObjective(to_objectives),
            X_pending=pending,
            prune_baseline=True,
        )

    def _evaluate(self, acq, Xc: torch.Tensor, rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            parts = [acq(Xc[rows[i : i + _CHUNK]].unsqueeze(1)) for i in range(0, len(rows), _CHUNK)]
        values = torch.cat(parts).numpy().astype(float) if parts else np.zeros(0)
        values[~np.isfinite(values)] = -np.inf
        return values

    def _greedy(
        self, acq, cand: np.ndarray, k: int, pending_idx: list[np.ndarray], rng: np.random.Generator
    ) -> list[np.ndarray]:
        """Pick ``k`` candidates one at a time, each joining the pending points before the next.

        Lazy greedy: a candidate's expected improvement can only shrink as pending points are added
        (hypervolume improvement is submodular), so after the first full pass a value is an upper
        bound (up to Monte-Carlo error); each later step re-evaluates candidates from the highest
        bound down, in chunks, until the best fresh value beats every remaining bound. On the test
        problems it picks the same batches as re-evaluating every candidate at every step.
        """
        Xc = self._x(cand)
        available = np.ones(len(cand), dtype=bool)
        values = np.full(len(cand), -np.inf)
        pending = list(pending_idx)
        picked: list[np.ndarray] = []
        for step in range(min(k, len(cand))):
            fresh = np.zeros(len(cand), dtype=bool)
            if acq is not None and step == 0:
                values = self._evaluate(acq, Xc, np.arange(len(cand)))
                fresh[:] = True
            elif acq is not None:
                acq.set_X_pending(self._x(pending))
                while True:
                    stale = available & ~fresh
                    if not stale.any():
                        break
                    best_fresh = values[available & fresh].max(initial=-np.inf)
                    order = np.flatnonzero(stale)[np.argsort(-values[stale], kind="stable")]
                    if best_fresh > -np.inf and best_fresh >= values[order[0]]:
                        break
                    rows = order[:_LAZY_CHUNK]
                    values[rows] = self._evaluate(acq, Xc, rows)
                    fresh[rows] = True
            usable = available & fresh & np.isfinite(values)
            if usable.any():
                best = int(np.flatnonzero(usable)[np.argmax(values[usable])])
            else:  # no model, or no usable acquisition value: a random free candidate
                best = int(rng.choice(np.flatnonzero(available)))
                self._fallbacks += 1
            available[best] = False
            picked.append(cand[best])
            pending.append(cand[best])
        return picked
