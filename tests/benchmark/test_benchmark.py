"""The search-quality benchmark: problems, runs kept on disk and resumed, summaries, and a small version of
the synthetic benchmark (model-based search beats random search and TPE)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from autopeft.analysis.hypervolume import hypervolume
from autopeft.benchmark import (
    BenchmarkRun,
    BenchmarkSummary,
    SurrogateProblem,
    SyntheticProblem,
    TrialTable,
    best_hypervolume,
    cross_validate,
    run_all,
    run_one,
    summarise_benchmark,
    trials_to_reach,
)
from autopeft.benchmark import runner as runner_module
from autopeft.render import benchmark_figure, benchmark_table, plot_benchmark
from autopeft.space import PeftConfig, SearchSpace

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "search_quality"
SPACE = SearchSpace.named("paper", 4, 16)  # sizes 1, 2, 4, 8, 16
GP_CHEAP = {"n_candidates": 200, "mc_samples": 32}


def test_synthetic_problem_by_hand() -> None:
    p = SyntheticProblem(SPACE, noise_std=0.0)
    top = PeftConfig(layers=(False, False, False, True), parallel=8)
    # top layer weight 1.0 / (0.2 + 0.4667 + 0.7333 + 1.0); capacity = rank 4 / 5 sizes
    expected = 0.55 + 0.3 * (1.0 / 2.4) * (1 - math.exp(-1.5 * 4 / 5))
    assert p.true_score(top) == pytest.approx(expected)
    assert p.params_pct(top) == pytest.approx(100 * 2 * 16 * 8 / (12 * 4 * 16 * 16))
    unstable = PeftConfig(layers=(False, False, False, True), parallel=16)
    assert p.true_score(unstable) < p.true_score(top)  # the largest parallel adapter is penalised
    assert p.result(top, np.random.default_rng(0)).score == pytest.approx(expected)  # no noise
    noisy = SyntheticProblem(SPACE, noise_std=0.01).result(top, np.random.default_rng(0))
    assert noisy.ok and noisy.score != pytest.approx(expected) and noisy.params_pct == p.params_pct(top)
    with pytest.raises(ValueError, match="lacks modules"):
        SyntheticProblem(SearchSpace("x", 2, 16, ("lora",)))


def test_trials_to_reach() -> None:
    assert trials_to_reach([0.1, 0.5, 0.5, 0.9], 0.5) == 2
    assert trials_to_reach([0.1, 0.5], 0.6) is None
    assert trials_to_reach([], 0.0) is None


def test_a_run_credits_true_scores_and_keeps_the_noise_stream() -> None:
    p = SyntheticProblem(SPACE, noise_std=0.01)
    rec = run_one(p, "random", 0, trials=12, batch=5)
    assert len(rec.configs) == 12 and len(rec.ask_seconds) == 3  # 5 + 5 + 2
    assert rec.true_scores != rec.observed_scores
    points = np.column_stack([rec.true_scores, rec.params_pct])
    assert rec.hypervolume[-1] == pytest.approx(hypervolume(points, ["maximize", "minimize"], [0.0, 10.0]))
    assert all(b >= a for a, b in zip(rec.hypervolume, rec.hypervolume[1:], strict=False))
    again = run_one(p, "random", 0, trials=12, batch=5)
    assert again.configs == rec.configs and again.observed_scores == rec.observed_scores  # seeded


def test_runs_are_saved_skipped_on_rerun_and_settings_checked(tmp_path, monkeypatch) -> None:
    p = SyntheticProblem(SPACE)
    first = run_all(p, ["random", "tpe"], [0, 1], tmp_path, trials=10, batch=5, echo=lambda s: None)
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "random-seed0.json",
        "random-seed1.json",
        "tpe-seed0.json",
        "tpe-seed1.json",
    ]

    def boom(*args, **kwargs):
        raise AssertionError("a saved run was run again")

    monkeypatch.setattr(runner_module, "run_one", boom)
    again = run_all(p, ["random", "tpe"], [0, 1], tmp_path, trials=10, batch=5, echo=lambda s: None)
    assert [r.hypervolume for r in again] == [r.hypervolume for r in first]
    saved = run_all(p, ["random", "nsga2"], [0, 1, 2], tmp_path, trials=10, batch=5, saved_only=True)
    assert [(r.variant, r.seed) for r in saved] == [("random", 0), ("random", 1)]  # nothing run
    with pytest.raises(ValueError, match="batch=5"):
        run_all(p, ["random"], [0], tmp_path, trials=10, batch=2, echo=lambda s: None)
    assert BenchmarkRun.load(tmp_path / "tpe-seed1.json") == first[3]


def _toy_summary() -> BenchmarkSummary:
    def record(variant: str, seed: int, curve: list[float], fallbacks: int | None = None) -> BenchmarkRun:
        n = len(curve)
        half = [0.5] * n
        return BenchmarkRun(
            "toy", variant, seed, n, 1, 0, ["c"] * n, half, half, [1.0] * n, curve, [0.1], 1.0, [0.0, 10.0], fallbacks
        )

    records = [
        record("random", 0, [1, 2, 3, 4]),
        record("random", 1, [1, 1, 2, 2], fallbacks=0),  # one run saved without fallbacks: unknown in all
        record("random", 2, [2, 2, 3, 5]),
        record("gp", 0, [1, 4, 5, 5], fallbacks=1),
        record("gp", 1, [2, 3, 4, 6], fallbacks=2),
    ]
    return summarise_benchmark(records, checkpoints=(2, 4), best_hypervolume=7.0)


def test_summary_by_hand() -> None:
    s = _toy_summary()
    assert s.target == 4.0  # median of random's final values 4, 2, 5
    by = {v.variant: v for v in s.variants}
    assert by["random"].median == [1, 2, 3, 4] and by["random"].at == {2: 2.0, 4: 4.0}
    assert by["gp"].median == [1.5, 3.5, 4.5, 5.5] and by["gp"].trials_to_target == 3
    assert by["gp"].seed_trials_to_target == [2, 3] and by["random"].seed_trials_to_target == [4, None, 4]
    assert (by["gp"].fallbacks, by["gp"].proposals) == (3, 8) and by["random"].fallbacks is None
    json.dumps(s.to_dict())


def test_summary_table_and_plot(tmp_path) -> None:
    s = _toy_summary()
    table = benchmark_table(s)
    assert "| gp | 2 | 3.5000 | 5.5000 | 3 (2,3) | 0.10 | 3/8 |" in table and "Best attainable HV" in table
    assert "| random | 3 | 2.0000 | 4.0000 | 4 (4,–,4) | 0.10 | – |" in table
    ax = benchmark_figure(s).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["random (3 seeds)", "gp (2 seeds)", "random's final median", "best attainable"]
    assert ax.get_ylim()[1] > 7.0  # the best attainable HV is in view
    path = plot_benchmark(s, tmp_path / "hv.png")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["hv.png"]  # written atomically: no temp file left


def test_saved_runs_still_load() -> None:
    """The runs saved under bench/results/search_quality/ load as they are and are written back unchanged."""
    saved = sorted(RESULTS.glob("**/*-seed*.json"))
    assert saved
    for path in saved:
        run = BenchmarkRun.load(path)
        assert len(run.hypervolume) == len(run.configs) <= run.trials
        assert run.to_json() == path.read_text()


def test_small_synthetic_benchmark_model_based_search_wins(tmp_path) -> None:
    """The CI-sized version of ``bench/search_quality.py run --problem synthetic``: 3 seeds, 30 trials."""
    p = SyntheticProblem(SPACE)
    records = run_all(
        p,
        ["gp", "random", "tpe"],
        [0, 1, 2],
        tmp_path,
        trials=30,
        batch=5,
        init_trials=10,
        optimiser_kwargs={"gp": GP_CHEAP},
        echo=lambda s: None,
    )
    summary = summarise_benchmark(records, checkpoints=(30,), best_hypervolume=best_hypervolume(p))
    at = {v.variant: v.at[30] for v in summary.variants}
    assert at["gp"] > at["random"] and at["gp"] > at["tpe"], at
    assert at["gp"] <= summary.best_hypervolume + 1e-9
    gp = next(v for v in summary.variants if v.variant == "gp")
    assert gp.trials_to_target is not None and gp.trials_to_target < 30


def _table(n: int = 80, seed: int = 0) -> TrialTable:
    """A fabricated table: score linear in the parallel size rank and the top layer, plus noise."""
    rng = np.random.default_rng(seed)
    configs = {}
    while len(configs) < n:
        c = SPACE.sample(rng)
        configs[c.key()] = c
    scores = [
        0.6 + 0.03 * (0 if c.parallel == 0 else 1 + SPACE.sizes.index(c.parallel)) + 0.05 * c.layers[-1]
        + float(rng.normal(0, 0.005))
        for c in configs.values()
    ]  # fmt: skip
    per_layer = {f"{m}:{s}": 2 * 16 * s for m in SPACE.modules for s in SPACE.sizes}
    return TrialTable(
        space=SPACE.to_dict(),
        configs=tuple(c.to_dict() for c in configs.values()),
        scores=tuple(scores),
        params_per_layer=per_layer,
        backbone=12 * 4 * 16 * 16,
        seed_std=0.005,
        source={"task": "toy/task"},
    )


def test_trial_table_and_surrogate(tmp_path) -> None:
    table = _table()
    path = tmp_path / "t.json"
    path.write_text(table.to_json())
    loaded = TrialTable.load(path)
    assert loaded == table
    table.write_csv(tmp_path / "t.csv")
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 81
    c = PeftConfig(layers=(True, False, False, True), serial=2, prefix=4)
    assert table.params_pct(c) == pytest.approx(100 * 2 * (2 * 16 * 2 + 2 * 16 * 4) / (12 * 4 * 16 * 16))
    fit = cross_validate(table, "random_forest", folds=4)
    assert fit.n == 80 and fit.r2 > 0.7 and fit.spearman > 0.8, fit
    problem = SurrogateProblem(table)
    assert problem.name == "surrogate-toy-task-80" and problem.noise_std == 0.005
    hi = PeftConfig(layers=(False, False, False, True), parallel=16)
    lo = PeftConfig(layers=(True, False, False, False), serial=1)
    assert problem.true_score(hi) > problem.true_score(lo) + 0.1
    assert problem.params_pct(hi) == table.params_pct(hi)
    rec = run_one(problem, "random", 0, trials=10, batch=5)
    assert len(rec.configs) == 10 and np.isfinite(rec.hypervolume).all()


def test_clipped_surrogate_stays_in_the_measured_range() -> None:
    table = _table()
    lo, hi = min(table.scores), max(table.scores)
    raw = SurrogateProblem(table, model="gradient_boosting")
    clipped = SurrogateProblem(table, model="gradient_boosting", clip=True)
    assert not raw.clip and raw.name == "surrogate-toy-task-80"  # off by default: existing benchmarks unchanged
    assert clipped.name == "surrogate-toy-task-80-clipped"
    configs = clipped.every_config()
    before, after = raw.predict(configs), clipped.predict(configs)
    assert (before > hi).any()  # boosting adds up effects seen apart and extrapolates above every real trial
    assert after.min() >= lo and after.max() <= hi
    np.testing.assert_array_equal(after, np.clip(before, lo, hi))  # only the out-of-range ones change
    top = configs[int(np.argmax(before))]
    assert clipped.true_score(top) == hi and raw.true_score(top) > hi
    clipped.prime(configs)
    assert max(clipped.true_score(c) for c in configs) == hi
    # the summary's limits count the extrapolations, also when clipping has capped them
    assert clipped.above_measured() == raw.above_measured() == int((before > hi).sum()) > 0
    assert f" {clipped.above_measured()} configurations" in clipped.describe_limits()
