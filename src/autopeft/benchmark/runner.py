"""Run optimisers on a benchmark problem, keep every run on disk, and summarise hypervolume curves.

One *run* is one optimiser with one seed on one problem for a fixed number of trials, asked in batches
of ``batch``: the optimiser is told observed (noisy) scores and exact parameter shares; the benchmark
credits it with the hypervolume of the *true* scores of the configurations it proposed, after each
trial, with the search's default reference point (score 0, params 10 %), the point the optimisers
themselves aim at. Each run is saved as one JSON file as soon as it ends, and a rerun skips the runs
already saved, so a benchmark can be stopped and continued. :func:`summarise_benchmark` computes the
summary; :mod:`autopeft.render.benchmark` draws it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autopeft.analysis.hypervolume import default_reference, hypervolume, hypervolume_curve
from autopeft.benchmark.problems import Problem
from autopeft.optim import make_optimiser
from autopeft.optim.base import Optimiser
from autopeft.records.io import atomic_write_text
from autopeft.records.objectives import DEFAULT_OBJECTIVES
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig

#: Benchmark variants: ``--optimizer`` names, plus ``gp-paramgp``: the ``gp`` optimiser modelling the
#: parameter share with a GP (as the paper's code did) instead of looking the exact value up.
VARIANTS = ("saas", "saas-map", "gp", "gp-paramgp", "random", "nsga2", "tpe")


def build_optimiser(variant: str, problem: Problem, seed: int, init_trials: int, **kwargs: Any) -> Optimiser:
    """The optimiser of a benchmark variant (see :data:`VARIANTS`)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: use one of {VARIANTS}")
    if variant in ("random", "nsga2", "tpe"):
        return make_optimiser(variant, problem.space, seed=seed, reference=default_reference(DEFAULT_OBJECTIVES))
    from autopeft.optim import GPOptimiser, MapSaasOptimiser, SaasOptimiser

    cls = {"saas": SaasOptimiser, "saas-map": MapSaasOptimiser}.get(variant, GPOptimiser)
    param_fn = None if variant == "gp-paramgp" else problem.params_pct
    reference = default_reference(DEFAULT_OBJECTIVES)
    return cls(problem.space, seed=seed, init_trials=init_trials, param_fn=param_fn, reference=reference, **kwargs)


@dataclass(frozen=True)
class BenchmarkRun:
    """One benchmark run, saved as one JSON object (its fields as keys) by :meth:`to_json`.

    Args:
        problem, variant, seed, trials, batch, init_trials: what ran.
        configs: proposed configurations (``PeftConfig.describe``), in order.
        true_scores, observed_scores, params_pct: per trial, in order.
        hypervolume: per trial, of the true scores so far (shape ``trials``).
        ask_seconds: wall time of each ``ask`` (one per batch).
        wall_seconds: the whole run.
        reference: the hypervolume reference point.
        fallbacks: proposals the optimiser drew at random because its own method could not propose
            (:attr:`~autopeft.optim.base.Optimiser.fallbacks`); None in runs saved before it was recorded.
    """

    problem: str
    variant: str
    seed: int
    trials: int
    batch: int
    init_trials: int
    configs: list[str]
    true_scores: list[float]
    observed_scores: list[float]
    params_pct: list[float]
    hypervolume: list[float]
    ask_seconds: list[float]
    wall_seconds: float
    reference: list[float]
    fallbacks: int | None = None

    def to_json(self) -> str:
        fields = asdict(self)
        if fields["fallbacks"] is None:  # a run saved before fallbacks were recorded is written back as it was
            del fields["fallbacks"]
        return json.dumps(fields) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> BenchmarkRun:
        return cls(**json.loads(Path(path).read_text()))


def run_one(
    problem: Problem,
    variant: str,
    seed: int,
    *,
    trials: int,
    batch: int,
    init_trials: int = 10,
    optimiser_kwargs: dict[str, Any] | None = None,
) -> BenchmarkRun:
    """Run one variant with one seed on ``problem`` (see the module docstring)."""
    opt = build_optimiser(variant, problem, seed, init_trials, **(optimiser_kwargs or {}))
    noise = np.random.default_rng([seed, 7919])  # the same noise stream for every variant of a seed
    reference = default_reference(DEFAULT_OBJECTIVES)
    told: list[TrialResult] = []
    truth: list[TrialResult] = []
    ask_seconds: list[float] = []
    started = time.perf_counter()
    while len(told) < trials:
        t0 = time.perf_counter()
        configs = opt.ask(min(batch, trials - len(told)))
        ask_seconds.append(time.perf_counter() - t0)
        if not configs:
            break
        results = [problem.result(c, noise) for c in configs]
        opt.tell(results)
        told += results
        truth += [
            TrialResult(
                config=r.config,
                status="complete",
                score=problem.true_score(c),
                metric=r.metric,
                params_pct=r.params_pct,
            )
            for r, c in zip(results, configs, strict=True)
        ]
    curve = hypervolume_curve(truth, DEFAULT_OBJECTIVES, reference)

    return BenchmarkRun(
        problem=problem.name,
        variant=variant,
        seed=seed,
        trials=trials,
        batch=batch,
        init_trials=init_trials,
        configs=[PeftConfig.from_dict(r.config).describe() for r in told],
        true_scores=[float(r.score) for r in truth],
        observed_scores=[float(r.score) for r in told],
        params_pct=[float(r.params_pct) for r in told],
        hypervolume=[float(v) for v in curve],
        ask_seconds=ask_seconds,
        wall_seconds=time.perf_counter() - started,
        reference=reference.tolist(),
        fallbacks=opt.fallbacks,
    )


def run_path(out_dir: Path, variant: str, seed: int) -> Path:
    return out_dir / f"{variant}-seed{seed}.json"


def run_all(
    problem: Problem,
    variants: Sequence[str],
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    trials: int,
    batch: int,
    init_trials: int = 10,
    optimiser_kwargs: dict[str, dict[str, Any]] | None = None,
    echo: Callable[[str], None] = print,
    saved_only: bool = False,
) -> list[BenchmarkRun]:
    """Every (variant, seed) run not yet saved in ``out_dir``; returns all runs of ``variants x seeds``
    (with ``saved_only``, runs nothing and returns the saved ones).

    A saved run made with other settings (trials, batch, initial design) is refused rather than mixed in.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for variant in variants:
        for seed in seeds:
            path = run_path(out_dir, variant, seed)
            if path.exists():
                record = BenchmarkRun.load(path)
                if (record.trials, record.batch, record.init_trials) != (trials, batch, init_trials):
                    raise ValueError(
                        f"{path} was run with trials={record.trials}, batch={record.batch}, "
                        f"init_trials={record.init_trials}: delete it or use another output directory"
                    )
                records.append(record)
                continue
            if saved_only:
                continue
            kwargs = (optimiser_kwargs or {}).get(variant, {})
            record = run_one(
                problem, variant, seed, trials=trials, batch=batch, init_trials=init_trials, optimiser_kwargs=kwargs
            )
            atomic_write_text(path, record.to_json())
            echo(
                f"{problem.name}: {variant} seed {seed}: HV {record.hypervolume[-1]:.4f} after {len(record.configs)} "
                f"trials, {record.wall_seconds:.0f} s (median ask {np.median(record.ask_seconds):.2f} s)"
            )
            records.append(record)
    return records


# --- summary --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantSummary:
    """Hypervolume statistics of one variant over its seeds.

    Args:
        variant: the variant.
        seeds: seeds summarised.
        median, q25, q75: per trial count (index ``t`` = after ``t + 1`` trials), over seeds.
        at: median hypervolume at each checkpoint (``{trials: value}``).
        trials_to_target: trials the *median* curve needs to reach the target (random search's median
            hypervolume at its last trial); None if it never does.
        seed_trials_to_target: the same for each seed's own curve (None = never).
        median_ask_seconds: median wall time of an ``ask``.
        fallbacks: proposals drawn at random by the optimisers' fallback, summed over the seeds; None if
            some run did not record it.
        proposals: trials proposed, summed over the seeds.
    """

    variant: str
    seeds: list[int]
    median: list[float]
    q25: list[float]
    q75: list[float]
    at: dict[int, float]
    trials_to_target: int | None
    seed_trials_to_target: list[int | None]
    median_ask_seconds: float
    fallbacks: int | None = None
    proposals: int = 0


def trials_to_reach(curve: Sequence[float], target: float) -> int | None:
    """Trials (1-based) until ``curve`` first reaches ``target`` (with a relative tolerance of 1e-9)."""
    for i, value in enumerate(curve):
        if value >= target - 1e-9 * abs(target):
            return i + 1
    return None


@dataclass(frozen=True)
class BenchmarkSummary:
    """Summary of a benchmark: every variant's statistics, the target, and the best attainable front.

    Args:
        problem: the problem's name.
        checkpoints: trial counts reported.
        target: random search's median hypervolume at its last trial (None without random runs).
        best_hypervolume: hypervolume of the whole space's true front (None if not computed).
        variants: per variant.
    """

    problem: str
    checkpoints: list[int]
    target: float | None
    best_hypervolume: float | None
    variants: list[VariantSummary]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise_benchmark(
    records: Sequence[BenchmarkRun], checkpoints: Sequence[int] = (25, 50, 100), best_hypervolume: float | None = None
) -> BenchmarkSummary:
    """Median and quartile hypervolume curves per variant, and trials to reach random search's final
    median hypervolume."""
    by_variant: dict[str, list[BenchmarkRun]] = {}
    for r in records:
        by_variant.setdefault(r.variant, []).append(r)
    curves = {}
    for variant, runs in by_variant.items():
        length = min(len(r.hypervolume) for r in runs)
        curves[variant] = np.asarray([r.hypervolume[:length] for r in runs])
    target = float(np.median(curves["random"][:, -1])) if "random" in curves else None
    out = []
    for variant, runs in by_variant.items():
        c = curves[variant]
        median = np.median(c, axis=0)
        out.append(
            VariantSummary(
                variant=variant,
                seeds=[r.seed for r in runs],
                median=median.tolist(),
                q25=np.quantile(c, 0.25, axis=0).tolist(),
                q75=np.quantile(c, 0.75, axis=0).tolist(),
                at={t: float(median[t - 1]) for t in checkpoints if t <= len(median)},
                trials_to_target=None if target is None else trials_to_reach(median, target),
                seed_trials_to_target=[None if target is None else trials_to_reach(row, target) for row in c],
                median_ask_seconds=float(np.median([s for r in runs for s in r.ask_seconds])),
                fallbacks=None if any(r.fallbacks is None for r in runs) else sum(r.fallbacks for r in runs),
                proposals=sum(len(r.configs) for r in runs),
            )
        )
    problem = records[0].problem if records else ""
    return BenchmarkSummary(
        problem=problem, checkpoints=list(checkpoints), target=target, best_hypervolume=best_hypervolume, variants=out
    )


def best_hypervolume(problem: Problem) -> float:
    """Hypervolume of the true front of the whole space (every valid configuration evaluated)."""
    configs = problem.every_config()
    problem.prime(configs)
    points = np.asarray([[problem.true_score(c), problem.params_pct(c)] for c in configs])
    return hypervolume(points, [o.direction for o in DEFAULT_OBJECTIVES], default_reference(DEFAULT_OBJECTIVES))
