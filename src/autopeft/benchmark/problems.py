"""Benchmark problems for the optimisers: a configuration's true score and exact parameter share, without
training.

A problem answers two questions about any valid configuration of its space: its *true* score (noise
free; what the benchmark credits an optimiser with) and an *observed* score (true + Gaussian noise of
the problem's seed standard deviation; what the optimiser is told), together with the exact parameter
percentage, which in a real search is known before training.

- :class:`SyntheticProblem`: a score with known structure (upper layers matter more, parallel adapters
  most and prefixes least, saturating with capacity, an unstable largest parallel adapter), for fast
  checks (CI).
- :class:`SurrogateProblem`: a regression model of the score fitted on a table of real trials run by the
  project (``bench/tables/``), with the parameter percentages measured on the real model.
"""

from __future__ import annotations

import csv
import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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

    def result(self, config: PeftConfig, rng: np.random.Generator) -> TrialResult:
        """A complete trial with the observed (noisy) score, as an optimiser would be told it."""
        score = self.true_score(config) + (float(rng.normal(0.0, self.noise_std)) if self.noise_std > 0 else 0.0)
        return TrialResult(
            config=config.to_dict(),
            status="complete",
            score=float(score),
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


class SurrogateProblem(Problem):
    """Score predicted by a regression model fitted on a :class:`TrialTable` of real trials; parameters
    exact (measured per module and size on the real model).

    Predictions for every configuration of the space are computed once (``every_config``), so a
    benchmark run costs lookups only.

    Args:
        table: the real trials.
        model: one of :data:`SURROGATE_MODELS`.
        noise_std: observation noise; default the table's measured seed std.
        seed: seeds the regression model.
        clip: clip the predictions to ``[min, max]`` of the table's measured scores, so that no
            configuration scores above (or below) every real trial (a tree ensemble can extrapolate
            beyond them by adding up the effects of features seen apart). Off by default; a clipped
            problem's name ends in ``-clipped`` (another benchmark).
    """

    def __init__(
        self,
        table: TrialTable,
        model: str = "random_forest",
        noise_std: float | None = None,
        seed: int = 0,
        clip: bool = False,
    ):
        self.table = table
        self.space = table.search_space
        self.model = model
        self.clip = clip
        self.noise_std = float(table.seed_std if noise_std is None else noise_std)
        # the table's size is part of the name: runs on a grown table are another benchmark
        self.name = f"surrogate-{table.source.get('task', 'table').replace('/', '-')}-{len(table.scores)}"
        if clip:
            self.name += "-clipped"
        X = features(self.space, [PeftConfig.from_dict(c) for c in table.configs])
        self._regressor = _regressor(model, seed).fit(X, np.asarray(table.scores))
        self._cache: dict[str, float] = {}

    def predict(self, configs: list[PeftConfig]) -> np.ndarray:
        """Surrogate scores of ``configs``, shape ``(len(configs),)`` (clipped to the measured range if
        ``clip``)."""
        pred = self._regressor.predict(features(self.space, configs))
        if self.clip:
            pred = np.clip(pred, min(self.table.scores), max(self.table.scores))
        return pred

    def true_score(self, config: PeftConfig) -> float:
        key = config.key()
        if key not in self._cache:
            self._cache[key] = float(self.predict([config])[0])
        return self._cache[key]

    def prime(self, configs: list[PeftConfig]) -> None:
        """Predict ``configs`` in one call and cache them (much faster than one by one)."""
        for c, s in zip(configs, self.predict(configs), strict=True):
            self._cache[c.key()] = float(s)

    def params_pct(self, config: PeftConfig) -> float:
        return self.table.params_pct(config)
