"""Benchmark problems for the optimisers: a configuration's true score and exact parameter share, without
training.

A problem answers two questions about any valid configuration of its space: its *true* score (what the
benchmark credits an optimiser with) and an *observed* score (what the optimiser is told: by default
true + Gaussian noise of the problem's seed standard deviation), together with the exact parameter
percentage, which in a real search is known before training.

- :class:`SyntheticProblem`: a score with known structure (upper layers matter more, parallel adapters
  most and prefixes least, saturating with capacity, an unstable largest parallel adapter), for fast
  checks (CI).
- :class:`SurrogateProblem`: a regression model of the score fitted on a table of real trials run by the
  project (``bench/tables/``), with the parameter percentages measured on the real model; optionally
  clipped to the measured score range, and optionally observed through :class:`CollapseNoise` (trials
  that collapse to predicting one class, at the measured rate) instead of Gaussian noise.
- :class:`TabularProblem`: the table itself. Its space (:class:`TableSpace`) admits only the table's
  configurations, and every evaluation returns a recorded result: nothing is predicted.
"""

from __future__ import annotations

import csv
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autopeft.errors import UserError
from autopeft.modules import MODULES
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace

if TYPE_CHECKING:
    from autopeft.build import ParamTable


class Problem(ABC):
    """A benchmark problem over ``space``.

    Attributes:
        name: short name (in tables and file names).
        space: the search space.
        noise_std: standard deviation of the observation noise on the score.
    """

    name: str
    space: SearchSpace
    noise_std: float

    @abstractmethod
    def true_score(self, config: PeftConfig) -> float:
        """Noise-free score (higher is better)."""

    @abstractmethod
    def params_pct(self, config: PeftConfig) -> float:
        """Exact trainable parameters, percent of the backbone (lower is better)."""

    def observed_score(self, config: PeftConfig, rng: np.random.Generator) -> float:
        """The score an optimiser is told: the true score plus Gaussian noise of ``noise_std`` (one normal
        draw from ``rng`` when ``noise_std > 0``, none otherwise)."""
        return self.true_score(config) + (float(rng.normal(0.0, self.noise_std)) if self.noise_std > 0 else 0.0)

    def describe_noise(self) -> str:
        """What an optimiser's observations are, in words (for benchmark summaries)."""
        return f"true score + Gaussian noise, std {self.noise_std:.4f}"

    def describe_limits(self) -> str:
        """What the problem's numbers can and cannot say, in words (written beside them in summaries)."""
        return ""

    def result(self, config: PeftConfig, rng: np.random.Generator) -> TrialResult:
        """A complete trial with the observed score (:meth:`observed_score`), as an optimiser would be told it."""
        return TrialResult(
            config=config.to_dict(),
            status="complete",
            score=float(self.observed_score(config, rng)),
            metric="accuracy",
            params_pct=self.params_pct(config),
        )

    def prime(self, configs: list[PeftConfig]) -> None:
        """Prepare scores of many configurations at once (a no-op unless scoring is cheaper in bulk)."""
        return None

    def every_config(self) -> list[PeftConfig]:
        """Every valid configuration of the space (for the best attainable front; spaces of ~10^5)."""
        cards = [d.cardinality for d in self.space.dimensions]
        configs = (self.space.decode(np.asarray(v)) for v in np.ndindex(*cards))
        return [c for c in configs if c.is_valid]


def _size_index(space: SearchSpace, size: int) -> int:
    """0 for off, else 1 + position of ``size`` in ``space.sizes`` (ascending)."""
    if size == 0:
        return 0
    return 1 + sorted(space.sizes).index(size)


#: The synthetic score's weight of each module's size rank in its capacity: parallel adapters most,
#: prefixes least.
_CAPACITY_WEIGHTS: dict[str, float] = {"parallel": 1.0, "serial": 0.6, "prefix": 0.2}


@dataclass
class SyntheticProblem(Problem):
    """A score with known structure over a ``paper``-like space (serial, parallel, prefix).

    ``score = 0.55 + 0.3 * top * (1 - exp(-1.5 * capacity)) - 0.08 * [parallel is the largest size]``,
    where ``top`` is the share of layer weight switched on (weights rise linearly from the bottom
    layer, 0.2, to the top one, 1.0) and ``capacity = (s_parallel + 0.6 s_serial + 0.2 s_prefix) /
    n_sizes`` with ``s`` the rank of each module's size (0 = off). Parameters per layer: ``2 H s`` for a
    bottleneck or a prefix of size ``s`` (two ``H x s`` matrices, or the prefix's keys and values), of a
    backbone of ``12 L H^2``. Only the score's structure is known to the benchmark, not to the
    optimisers.

    Args:
        space: a space with serial, parallel and prefix modules.
        noise_std: observation noise (default 0.005, the seed std measured on SST-2).
    """

    space: SearchSpace
    noise_std: float = 0.005
    name: str = "synthetic"
    _weights: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        missing = set(_CAPACITY_WEIGHTS) - set(self.space.modules)
        if missing:
            raise ValueError(f"space {self.space.name!r} lacks modules {sorted(missing)}")
        w = np.linspace(0.2, 1.0, self.space.num_layers)
        self._weights = w / w.sum()

    def true_score(self, config: PeftConfig) -> float:
        # summed in the weights' order, parallel first: the same floating-point sum as the formula
        ranks = sum(w * _size_index(self.space, int(getattr(config, m))) for m, w in _CAPACITY_WEIGHTS.items())
        top = float(np.asarray(config.layers, dtype=float) @ self._weights)
        capacity = ranks / len(self.space.sizes)
        unstable = 0.08 if config.parallel == max(self.space.sizes) else 0.0
        return 0.55 + 0.3 * top * (1 - math.exp(-1.5 * capacity)) - unstable

    def describe_limits(self) -> str:
        return (
            "a made-up score of known structure: it says whether a method exploits structure of this kind, "
            "nothing about real tasks"
        )

    def params_pct(self, config: PeftConfig) -> float:
        h, layers = self.space.hidden_size, len(config.active_layers)
        per_layer = 2 * h * sum(int(getattr(config, m)) for m in _CAPACITY_WEIGHTS)
        return 100.0 * layers * per_layer / (12 * self.space.num_layers * h * h)


# --- the surrogate of real trials -----------------------------------------------------------------


def features(space: SearchSpace, configs: list[PeftConfig]) -> np.ndarray:
    """Regression features of configurations, shape ``(n, L + m + k + 1)``: the layer bits, each module's
    size rank (0 = off; a switch 0/1), each sized module's log2(1 + size), and the number of layers on."""
    rows = []
    sized = [m for m in space.modules if MODULES[m].dimension == "size"]
    switches = [m for m in space.modules if MODULES[m].dimension != "size"]
    for c in configs:
        ranks = [_size_index(space, int(getattr(c, m))) for m in sized] + [int(bool(getattr(c, m))) for m in switches]
        logs = [math.log2(1 + int(getattr(c, m))) for m in sized]
        rows.append([*map(float, c.layers), *ranks, *logs, float(len(c.active_layers))])
    return np.asarray(rows, dtype=float)


@dataclass(frozen=True)
class TrialTable:
    """Real trials of one space: configurations, scores, and exact parameter percentages.

    Saved as JSON under ``bench/tables/`` by ``bench/search_quality.py table``.

    Args:
        space: the space's :meth:`~autopeft.space.SearchSpace.to_dict`.
        configs: configuration dicts of the complete trials.
        scores: their validation scores.
        params_per_layer: ``{"module:size": parameters per layer}`` measured on the model
            (:class:`~autopeft.build.ParamTable`).
        backbone: backbone parameters.
        seed_std: seed standard deviation of the score at the table's budget: the median over the
            configurations retrained with other seeds by ``bench/seed_noise.py``.
        source: how the table was made (command, model, task, budget).
    """

    space: dict[str, Any]
    configs: tuple[dict[str, Any], ...]
    scores: tuple[float, ...]
    params_per_layer: dict[str, int]
    backbone: int
    seed_std: float
    source: dict[str, Any]

    def to_json(self) -> str:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["configs"], d["scores"] = list(self.configs), list(self.scores)
        return json.dumps(d, indent=1, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> TrialTable:
        d = json.loads(Path(path).read_text())
        d["configs"], d["scores"] = tuple(d["configs"]), tuple(float(s) for s in d["scores"])
        return cls(**d)

    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)

    @cached_property
    def param_table(self) -> ParamTable:
        """The measured counts as the :class:`~autopeft.build.ParamTable` that a search uses."""
        from autopeft.build import ParamTable  # adapters/transformers load only when a table is used

        per_layer = {}
        for key, count in self.params_per_layer.items():
            module, size = key.split(":")
            per_layer[(module, int(size))] = count
        return ParamTable(per_layer=per_layer, backbone=self.backbone)

    def params_pct(self, config: PeftConfig) -> float:
        return self.param_table.pct(config)

    def write_csv(self, path: str | Path) -> None:
        space = self.search_space
        with Path(path).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["config", "score", "params_pct"])
            for c, s in zip(self.configs, self.scores, strict=True):
                config = space.decode(space.encode(PeftConfig.from_dict(c)))
                w.writerow([config.describe(), f"{s:.4f}", f"{self.params_pct(config):.4f}"])


def _table_label(table: TrialTable) -> str:
    """A table's task and size in problem names, e.g. ``glue-sst2-634``: the size is part of the name, since
    runs on a grown table are another benchmark."""
    return f"{table.source.get('task', 'table').replace('/', '-')}-{len(table.scores)}"


@dataclass(frozen=True)
class SurrogateFit:
    """How well the surrogate predicts held-out real trials (k-fold cross-validation).

    Args:
        model: the regression model's name.
        folds: number of folds.
        r2: coefficient of determination of the out-of-fold predictions.
        spearman: rank correlation of the out-of-fold predictions with the real scores.
        rmse: root mean squared error of the out-of-fold predictions.
        n: trials in the table.
    """

    model: str
    folds: int
    r2: float
    spearman: float
    rmse: float
    n: int


def _regressor(name: str, seed: int):
    from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor

    if name == "random_forest":
        return RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed)
    if name == "extra_trees":
        return ExtraTreesRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed)
    if name == "gradient_boosting":
        return GradientBoostingRegressor(
            n_estimators=300, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=seed
        )
    raise ValueError(f"unknown surrogate model {name!r}")


#: Regression models tried for the surrogate (``cross_validate`` reports each).
SURROGATE_MODELS = ("random_forest", "extra_trees", "gradient_boosting")


def cross_validate(table: TrialTable, model: str, folds: int = 5, seed: int = 0) -> SurrogateFit:
    """Out-of-fold predictive quality of ``model`` on ``table`` (shuffled k-fold)."""
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold

    space = table.search_space
    X = features(space, [PeftConfig.from_dict(c) for c in table.configs])
    y = np.asarray(table.scores)
    pred = np.empty_like(y)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        pred[test] = _regressor(model, seed).fit(X[train], y[train]).predict(X[test])
    ss_res = float(((y - pred) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return SurrogateFit(
        model=model,
        folds=folds,
        r2=1 - ss_res / ss_tot,
        spearman=float(spearmanr(y, pred).statistic),
        rmse=math.sqrt(ss_res / len(y)),
        n=len(y),
    )


@dataclass(frozen=True)
class CollapseNoise:
    """Observation noise of real trials, which sometimes collapse to predicting one class.

    With probability ``rate`` a trial *collapses*: its observed score is ``level`` (the validation slice's
    majority-class share: what predicting one class scores), whatever the configuration; otherwise it is
    the true score plus Gaussian noise of standard deviation ``within_sd``. The rate is the same for every
    configuration (the measurement is too small to tell configurations apart). Measured by
    ``bench/collapse_rate.py`` from trials repeated with several seeds (``bench/results/collapse_rate.json``).

    Args:
        rate: probability that a trial collapses, in ``[0, 1]``.
        level: score of a collapsed trial (a share of the validation examples, e.g. accuracy).
        within_sd: standard deviation of the score of a trial that did not collapse (seed noise), score units.
        source: where the numbers come from (a path), for summaries.
    """

    rate: float
    level: float
    within_sd: float
    source: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"collapse rate {self.rate} is not a probability")
        if self.within_sd < 0:
            raise ValueError(f"within_sd {self.within_sd} is negative")

    def observe(self, true: float, rng: np.random.Generator) -> float:
        """The observed score of a trial whose true score is ``true``.

        Draws one uniform and one standard normal number from ``rng`` for every trial, collapsed or not,
        so that trial ``i`` of every variant of a benchmark seed meets the same draws whatever its
        configuration (the benchmark's common noise stream): the same trials collapse in every variant.
        """
        collapsed = float(rng.random()) < self.rate
        noise = float(rng.normal(0.0, self.within_sd))
        return self.level if collapsed else true + noise

    @classmethod
    def load(cls, path: str | Path) -> CollapseNoise:
        """The noise model measured by ``bench/collapse_rate.py`` (its keys ``rate``, ``collapse_score``,
        ``within_sd``)."""
        d = json.loads(Path(path).read_text())
        return cls(
            rate=float(d["rate"]), level=float(d["collapse_score"]), within_sd=float(d["within_sd"]), source=str(path)
        )


class SurrogateProblem(Problem):
    """Score predicted by a regression model fitted on a :class:`TrialTable` of real trials; parameters
    exact (measured per module and size on the real model).

    Predictions for every configuration of the space are computed once (``every_config``), so a
    benchmark run costs lookups only.

    Args:
        table: the real trials.
        model: one of :data:`SURROGATE_MODELS`.
        noise_std: Gaussian observation noise; default the table's measured seed std.
        seed: seeds the regression model.
        clip: clip the predictions to ``[min, max]`` of the table's measured scores, so that no
            configuration scores above (or below) every real trial (a tree ensemble can extrapolate
            beyond them by adding up the effects of features seen apart). Off by default; a clipped
            problem's name ends in ``-clipped`` (another benchmark).
        collapse: observe scores through this noise model (collapses at a measured rate, else Gaussian
            noise of its ``within_sd``) instead of Gaussian noise of ``noise_std`` (give one of the two).
            The true score, what an optimiser is credited with, stays the surrogate's. The problem's name
            ends in ``-collapse`` and the rate to 3 significant digits, e.g. ``-collapse0.0714`` (another
            benchmark: its runs never mix with the Gaussian ones, nor with those at another rate).
    """

    def __init__(
        self,
        table: TrialTable,
        model: str = "random_forest",
        noise_std: float | None = None,
        seed: int = 0,
        clip: bool = False,
        collapse: CollapseNoise | None = None,
    ):
        if collapse is not None and noise_std is not None:
            raise ValueError("give noise_std or collapse, not both: the collapse model has its own within_sd")
        self.table = table
        self.space = table.search_space
        self.model = model
        self.clip = clip
        self.collapse = collapse
        if collapse is not None:
            self.noise_std = float(collapse.within_sd)
        else:
            self.noise_std = float(table.seed_std if noise_std is None else noise_std)
        self.name = f"surrogate-{_table_label(table)}"
        if clip:
            self.name += "-clipped"
        if collapse is not None:
            self.name += f"-collapse{collapse.rate:.3g}"  # a re-measured rate is another benchmark
        X = features(self.space, [PeftConfig.from_dict(c) for c in table.configs])
        self._regressor = _regressor(model, seed).fit(X, np.asarray(table.scores))
        self._cache: dict[str, float] = {}
        self._every: list[PeftConfig] | None = None

    def predict(self, configs: list[PeftConfig]) -> np.ndarray:
        """Surrogate scores of ``configs``, shape ``(len(configs),)`` (clipped to the measured range if
        ``clip``)."""
        pred = self._unclipped(configs)
        if self.clip:
            pred = np.clip(pred, min(self.table.scores), max(self.table.scores))
        return pred

    def true_score(self, config: PeftConfig) -> float:
        key = config.key()
        if key not in self._cache:
            self._cache[key] = float(self.predict([config])[0])
        return self._cache[key]

    def prime(self, configs: list[PeftConfig]) -> None:
        """Predict the ``configs`` not cached yet in one call and cache them (much faster than one by one)."""
        missing = [c for c in configs if c.key() not in self._cache]
        if missing:
            for c, s in zip(missing, self.predict(missing), strict=True):
                self._cache[c.key()] = float(s)

    def every_config(self) -> list[PeftConfig]:
        """Every valid configuration of the space, listed once per problem (the best attainable front and
        the limits both read it)."""
        if self._every is None:
            self._every = super().every_config()
        return self._every

    def observed_score(self, config: PeftConfig, rng: np.random.Generator) -> float:
        if self.collapse is None:
            return super().observed_score(config, rng)
        return self.collapse.observe(self.true_score(config), rng)

    def describe_noise(self) -> str:
        if self.collapse is None:
            return super().describe_noise()
        c = self.collapse
        return (
            f"collapse noise: with probability {c.rate:.4f} the score of a collapsed trial, {c.level:.4f}, else "
            f"the true score + Gaussian noise, std {c.within_sd:.4f}" + (f" (from {c.source})" if c.source else "")
        )

    def above_measured(self) -> int:
        """Configurations of the space whose unclipped prediction is above the best measured score: the
        extrapolations that ``clip`` caps (the same count whether or not this problem clips)."""
        return int(np.sum(self._unclipped(self.every_config()) > max(self.table.scores)))

    def _unclipped(self, configs: list[PeftConfig]) -> np.ndarray:
        """The regressor's scores of ``configs``, shape ``(len(configs),)``, before any clipping."""
        return self._regressor.predict(features(self.space, configs))

    def describe_limits(self) -> str:
        configs = self.every_config()
        best = max(self.table.scores)
        above = self.above_measured()
        clip = (
            f"clipped to the measured range: {above} configurations predicted above the best measured score, "
            f"{best:.4f}, are capped at it"
            if self.clip
            else f"not clipped: {above} configurations predicted above the best measured score, {best:.4f}"
        )
        noise = (
            "collapses at the measured rate, the same for every configuration"
            if self.collapse is not None
            else "Gaussian: no collapses, although real trials collapse to predicting one class"
        )
        return (
            f"the credited score is a {self.model} regression fitted to {len(self.table.scores)} real trials "
            f"({len(self.table.scores) / len(configs):.1%} of the {len(configs)} configurations), see "
            "`bench/search_quality.py surrogate` for its cross-validated R2; everywhere else it interpolates or "
            f"extrapolates ({clip}); "
            f"observation noise {noise}. It ranks optimisers on the surrogate's landscape, not on the task's"
        )

    def params_pct(self, config: PeftConfig) -> float:
        return self.table.params_pct(config)


# --- the table itself -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpace(SearchSpace):
    """A space of the base layout restricted to listed configurations: a tabular benchmark's space, in
    which every configuration an optimiser can propose has a recorded result.

    Dimensions, encoding and decoding are the base space's. A configuration is valid when it is valid in
    the base space and one of ``members`` (:meth:`valid_indices`); :attr:`size` counts the members,
    :meth:`sample` draws one uniformly, :meth:`check` (so :meth:`contains` and :meth:`encode`) refuses the
    others. :meth:`to_dict` is the base space's: the table, not the space, lists the configurations.

    The members are a small share of the grid (MiniLM's table: 634 of 64,000 cells), so the optimisers
    list them by scanning the grid (:func:`autopeft.optim.grid.is_sparse`), which they do for grids of
    at most :data:`autopeft.optim.grid.SCAN_LIMIT` cells.

    Args:
        name, num_layers, hidden_size, modules, sizes, learning_rates: the base space's.
        members: the member configurations as encoded index rows (``encode``'s values as integers),
            distinct and in grid order (ascending); build a table space with :meth:`of`.
    """

    members: tuple[tuple[int, ...], ...] = field(default=(), repr=False)
    _card: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _codes: np.ndarray = field(init=False, repr=False, compare=False)  # members' grid positions, ascending
    _keys: frozenset[str] = field(init=False, repr=False, compare=False)  # members' PeftConfig.key()

    def __post_init__(self) -> None:
        super().__post_init__()
        card = tuple(d.cardinality for d in self.dimensions)
        if not self.members:
            raise ValueError("a table space needs at least one configuration")
        rows = np.asarray(self.members, dtype=np.int64).reshape(len(self.members), -1)
        if rows.shape[1] != len(card) or (rows < 0).any() or (rows >= np.asarray(card)).any():
            raise ValueError(f"members must be encoded index rows of the {self.name!r} space ({len(card)} dimensions)")
        if not super().valid_indices(rows).all():
            raise ValueError("a member is not a valid configuration of the base space")
        codes = np.ravel_multi_index(tuple(rows.T), card)
        if (np.diff(codes) <= 0).any():
            raise ValueError("members must be distinct and in grid order: build the space with TableSpace.of")
        object.__setattr__(self, "_card", card)
        object.__setattr__(self, "_codes", codes)
        object.__setattr__(self, "_keys", frozenset(self.decode(row).key() for row in rows))

    @classmethod
    def of(cls, space: SearchSpace, configs: Iterable[PeftConfig]) -> TableSpace:
        """``space`` restricted to ``configs`` (valid members of ``space``; repeats are kept once)."""
        if type(space) is not SearchSpace:
            raise ValueError(f"a table space restricts a space of the base layout, not a {type(space).__name__}")
        rows = {tuple(int(v) for v in space.encode(c)) for c in configs}
        base = {f.name: getattr(space, f.name) for f in fields(SearchSpace)}
        return cls(**base, members=tuple(sorted(rows)))

    def valid_indices(self, idx: np.ndarray) -> np.ndarray:
        """Which rows of encoded indices (shape ``(n, len(dimensions))``) are valid configurations of the
        base space and members; shape ``(n,)``, bool."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, len(self._card))
        inside = ((idx >= 0) & (idx < np.asarray(self._card))).all(axis=1)
        codes = np.ravel_multi_index(tuple(idx.T), self._card, mode="clip")
        return super().valid_indices(idx) & inside & np.isin(codes, self._codes)

    @property
    def size(self) -> int:
        """Number of member configurations."""
        return len(self.members)

    def check(self, config: PeftConfig) -> None:
        """Raise :class:`UserError` unless ``config`` is a valid configuration of the base space and a member."""
        super().check(config)
        if config.key() not in self._keys:
            raise UserError(
                "config", config.describe(), "is not one of this table's configurations", "propose a table member"
            )

    def sample(self, rng: np.random.Generator) -> PeftConfig:
        """A member drawn uniformly at random."""
        return self.decode(self.members[int(rng.integers(len(self.members)))])

    def configs(self) -> list[PeftConfig]:
        """The member configurations, in grid order."""
        return [self.decode(row) for row in self.members]


class TabularProblem(Problem):
    """A tabular benchmark: the space admits only the configurations of a :class:`TrialTable`
    (:class:`TableSpace`), and each evaluation returns a result recorded in the table; nothing is
    predicted.

    - observed score (what the optimiser is told): a recorded score of the configuration: the only one
      for a table that holds each configuration once (as ``bench/search_quality.py table`` makes them),
      else one of them drawn with the run's noise generator (one uniform draw per trial, always);
    - true score (what the benchmark credits): the mean of the configuration's recorded scores, so for a
      table of single trials the recorded score itself: one real draw, seed noise and collapses included;
    - parameter share: exact, from the table's measured counts (:meth:`TrialTable.params_pct`).

    ``noise_std`` is the table's measured seed std, for summaries: no noise is added.

    Args:
        table: the real trials (a space of the base layout).
    """

    def __init__(self, table: TrialTable):
        self.table = table
        configs = [PeftConfig.from_dict(c) for c in table.configs]
        self.space = TableSpace.of(table.search_space, configs)
        self.noise_std = float(table.seed_std)
        self.name = f"tabular-{_table_label(table)}"
        recorded: dict[str, list[float]] = {}
        for config, score in zip(configs, table.scores, strict=True):
            recorded.setdefault(config.key(), []).append(float(score))
        self._recorded = {key: tuple(scores) for key, scores in recorded.items()}
        self._mean = {key: float(np.mean(scores)) for key, scores in recorded.items()}

    def _scores(self, config: PeftConfig) -> tuple[float, ...]:
        try:
            return self._recorded[config.key()]
        except KeyError:
            raise ValueError(f"{config.describe()} is not in the table") from None

    def true_score(self, config: PeftConfig) -> float:
        self._scores(config)  # refuses a configuration the table lacks
        return self._mean[config.key()]

    def observed_score(self, config: PeftConfig, rng: np.random.Generator) -> float:
        scores = self._scores(config)
        return scores[min(int(rng.random() * len(scores)), len(scores) - 1)]

    def describe_noise(self) -> str:
        return (
            "the recorded scores (real trials: their seed noise and collapses, one draw per configuration, the "
            f"same in every benchmark run; the table's seed std is {self.noise_std:.4f})"
        )

    def describe_limits(self) -> str:
        from autopeft.optim.optuna_samplers import MAX_REJECTIONS

        full = self.table.search_space.size
        return (
            f"only the table's {self.space.size} configurations ({self.space.size / full:.1%} of the space's {full}) "
            "can be proposed, each returning its recorded result: the best attainable front is the table's own, "
            "finding configurations never measured is not tested, and the credited score is one real draw (seed "
            "noise and collapses included) that is the same in every benchmark seed, so seeds differ only in the "
            "optimisers' own randomness. Optuna's samplers (random, nsga2, tpe) reach the members by rejecting "
            f"their proposals outside the table, and after {MAX_REJECTIONS} misses in a row take a uniformly "
            "random member"
        )

    def params_pct(self, config: PeftConfig) -> float:
        return self.table.params_pct(config)

    def every_config(self) -> list[PeftConfig]:
        """The table's configurations (each once)."""
        return self.space.configs()
