"""Search-quality benchmark: saas, gp, random, nsga2 and tpe on equal budgets, several seeds each.

Problems (see ``autopeft.benchmark.problems``):

- ``synthetic``: known structure over the ``paper`` space of a 6-layer, hidden-384 model (MiniLM's shape).
- a table of real trials (``bench/tables/*.json``): a regression surrogate of the score, exact params;
  ``--clip`` caps its predictions at the measured range, ``--collapse`` observes it through the measured
  collapse noise model (``bench/collapse_rate.py``) instead of Gaussian noise.
- ``--tabular`` with a table: the table itself: only its configurations can be proposed, and each
  evaluation returns its recorded result.

Commands::

    # (a) build a table from a search directory of real trials (random search at low fidelity)
    python bench/search_quality.py table runs/table-sst2 --seed-noise bench/results/seed_noise_table-sst2.json \\
        --out bench/tables/sst2_minilm.json
    # check the surrogate: k-fold R^2 and rank correlation of each regression model
    python bench/search_quality.py surrogate bench/tables/sst2_minilm.json
    # run the benchmark (resumable: runs already saved are skipped), write the table, JSON and plot
    python bench/search_quality.py run --problem bench/tables/sst2_minilm.json --seeds 5 --trials 100 --batch 5
    python bench/search_quality.py run --problem synthetic --seeds 5 --trials 100 --batch 5
    # the table as a tabular benchmark; the surrogate with collapses at the measured rate
    python bench/search_quality.py run --problem bench/tables/sst2_minilm.json --tabular --seeds 10 --trials 50
    python bench/search_quality.py run --problem bench/tables/sst2_minilm.json --clip \
        --collapse bench/results/collapse_rate.json --seeds 5 --trials 100 --batch 5

Outputs go to ``bench/results/search_quality/<problem>/``: one JSON per run, ``summary.json``,
``summary.md`` and ``hypervolume.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: First benchmark seed of a table problem (see ``cmd_run``).
TABLE_SEED_OFFSET = 1000


def _threads(n: int) -> None:
    os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={n}")
    import torch

    torch.set_num_threads(n)


def cmd_table(args: argparse.Namespace) -> int:
    from autopeft.benchmark import TrialTable
    from autopeft.build import ParamTable
    from autopeft.models import BaseModel
    from autopeft.space import PeftConfig, SearchSpace
    from autopeft.study.search import open_results

    parts = [(d, *open_results(d)) for d in args.dirs]
    first = parts[0][1]
    # One table = one task, space, budget and trial seed; the searches may differ in optimiser seed
    # and device (and in the model's path: the same MiniLM packed for a GPU machine).
    for d, settings, _ in parts[1:]:
        for name in ("task", "space", "seed", "budget"):
            if getattr(settings, name) != getattr(first, name):
                raise SystemExit(f"{d}: {name} {getattr(settings, name)} differs from {args.dirs[0]}'s")
    base = BaseModel.load(first.model)
    space = SearchSpace.for_model_config(first.space, base.config)
    measured = ParamTable.measure(base.backbone, space)
    configs: list[dict] = []
    scores: list[float] = []
    seen: set[str] = set()
    sources = []
    for d, settings, results in parts:
        complete = [r for r in results if r.ok]
        duplicates = 0
        for r in complete:
            expected = measured.params(PeftConfig.from_dict(r.config))
            if expected != r.peft_params:  # the table's exact counts agree with the trials' own measurements
                raise SystemExit(f"{d} trial {r.number}: measured {r.peft_params} params, table says {expected}")
            key = json.dumps(r.config, sort_keys=True)
            if key in seen:  # a configuration measured twice keeps its first trial
                duplicates += 1
                continue
            seen.add(key)
            configs.append(r.config)
            scores.append(float(r.score))
        sources.append(
            {
                "dir": str(d),
                "model": settings.model,
                "optimizer": settings.optimizer,
                "optimizer_seed": settings.optimizer_seed,
                "device": settings.device,
                "trials_total": len(results),
                "trials_failed": len(results) - len(complete),
                "duplicates_dropped": duplicates,
            }
        )
    noise = json.loads(Path(args.seed_noise).read_text())
    table = TrialTable(
        space=space.to_dict(),
        configs=tuple(configs),
        scores=tuple(scores),
        params_per_layer={f"{m}:{s}": n for (m, s), n in measured.per_layer.items()},
        backbone=measured.backbone,
        seed_std=float(noise["median_std"]),
        source={
            "model": first.model,
            "task": first.task,
            "seed": first.seed,
            "budget": first.budget.to_dict(),
            "searches": sources,
            "seed_noise": noise,
            "command": args.command_line,
        },
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table.to_json())
    table.write_csv(out.with_suffix(".csv"))
    print(f"wrote {out} and {out.with_suffix('.csv')}: {len(configs)} trials, seed std {table.seed_std:.4f}")
    for src in sources:
        print(
            f"  {src['dir']}: {src['trials_total']} trials ({src['trials_failed']} failed, "
            f"{src['duplicates_dropped']} duplicates dropped), {src['device']}"
        )
    return 0


def cmd_surrogate(args: argparse.Namespace) -> int:
    from autopeft.benchmark import SURROGATE_MODELS, TrialTable, cross_validate

    _threads(args.threads)
    table = TrialTable.load(args.table)
    rows = []
    print(
        f"{args.table}: {len(table.scores)} trials, seed std {table.seed_std:.4f}; {args.folds}-fold cross-validation"
    )
    print(f"{'model':20s} {'R2':>7s} {'Spearman':>9s} {'RMSE':>7s}")
    for model in SURROGATE_MODELS:
        fit = cross_validate(table, model, folds=args.folds)
        rows.append(asdict(fit))
        print(f"{model:20s} {fit.r2:7.3f} {fit.spearman:9.3f} {fit.rmse:7.4f}")
    out = Path(args.table).with_suffix(".surrogate.json")
    out.write_text(json.dumps({"folds": args.folds, "models": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def _problem(spec: str, surrogate: str, clip: bool = False, collapse: str | None = None, tabular: bool = False):
    from autopeft.benchmark import (
        SURROGATE_MODELS,
        CollapseNoise,
        SurrogateProblem,
        SyntheticProblem,
        TabularProblem,
        TrialTable,
        cross_validate,
    )
    from autopeft.space import SearchSpace

    if spec == "synthetic":
        if clip or collapse or tabular:
            raise SystemExit("--clip, --collapse and --tabular apply to a table problem only")
        return SyntheticProblem(SearchSpace.named("paper", 6, 384))
    table = TrialTable.load(spec)
    if tabular:
        if clip or collapse:
            raise SystemExit("--tabular returns the recorded results: --clip and --collapse concern the surrogate")
        return TabularProblem(table)
    noise = CollapseNoise.load(collapse) if collapse else None
    if surrogate == "best":  # chosen by held-out R^2 alone, before any optimiser runs
        fits = [cross_validate(table, m) for m in SURROGATE_MODELS]
        for fit in fits:
            print(f"surrogate {fit.model}: 5-fold R2 {fit.r2:.3f}, Spearman {fit.spearman:.3f}, RMSE {fit.rmse:.4f}")
        surrogate = max(fits, key=lambda f: f.r2).model
        print(f"surrogate model: {surrogate} (best cross-validated R2)")
    return SurrogateProblem(table, model=surrogate, clip=clip, collapse=noise)


def _random_runs(directory: str, problem_name: str, trials: int, batch: int) -> list:
    """Random search's saved runs in ``directory`` (the target of a benchmark whose own directory holds
    other variants only, e.g. an ablation of the initial design, which random search does not have)."""
    from autopeft.benchmark import BenchmarkRun

    runs = [BenchmarkRun.load(f) for f in sorted(Path(directory).glob("random-seed*.json"))]
    if not runs:
        raise SystemExit(f"{directory}: no random-seed*.json")
    for r in runs:
        if (r.problem, r.trials, r.batch) != (problem_name, trials, batch):
            raise SystemExit(
                f"{directory}: random seed {r.seed} ran on {r.problem} with trials={r.trials}, batch={r.batch}"
            )
    return runs


def _nuts(text: str) -> dict[str, int]:
    from autopeft.optim.botorch_saas import parse_nuts_budget

    try:
        return parse_nuts_budget(text)
    except ValueError as exc:
        raise SystemExit(f"--nuts: {exc}") from None


def cmd_run(args: argparse.Namespace) -> int:
    _threads(args.threads)
    from autopeft.benchmark import best_hypervolume, run_all, summarise_benchmark
    from autopeft.render import benchmark_table, plot_benchmark

    problem = _problem(args.problem, args.surrogate, clip=args.clip, collapse=args.collapse, tabular=args.tabular)
    out_dir = Path(args.out) if args.out else HERE / "results" / "search_quality" / problem.name
    variants = args.variants.split(",")
    # A table was made by a seeded random search; with the same seed, Optuna's random sampler (and
    # TPE's random start-up) would replay that search and be credited with the surrogate's training
    # points, where the surrogate is most optimistic. Table problems therefore use seeds 1000, 1001, ...
    first = 0 if args.problem == "synthetic" else TABLE_SEED_OFFSET
    if args.first_seed is not None:  # e.g. a second process working down the seeds from the other end
        first = args.first_seed
    seeds = list(range(first, first + args.seeds))
    started = time.perf_counter()
    print(
        f"{problem.name}: {len(problem.space.dimensions)} dimensions; observed: {problem.describe_noise()}", flush=True
    )
    best = best_hypervolume(problem)
    records = run_all(
        problem,
        variants,
        seeds,
        out_dir,
        trials=args.trials,
        batch=args.batch,
        init_trials=args.init_trials,
        echo=lambda line: print(line, flush=True),
        saved_only=args.summary_only,
        optimiser_kwargs={"saas": _nuts(args.nuts)} if args.nuts else None,
    )
    if args.random_from:
        if "random" in variants:
            raise SystemExit("--random-from replaces the random variant: leave it out of --variants")
        records += _random_runs(args.random_from, problem.name, args.trials, args.batch)
    checkpoints = [t for t in (25, 50, 100) if t <= args.trials]
    summary = summarise_benchmark(records, checkpoints, best_hypervolume=best)
    table = benchmark_table(summary)
    counts = ", ".join(f"{v.variant} {len(v.seeds)}" for v in summary.variants)
    settings = (
        f"Problem `{problem.name}`, {args.trials} trials in batches of {args.batch}, {args.init_trials} initial "
        f"random trials for saas/gp, seeds from {seeds[0]} (runs saved: {counts}); the optimisers observe "
        f"{problem.describe_noise()}."
    )
    if args.nuts:
        settings += f" saas's NUTS budget (warmup/samples/thinning): {args.nuts}."
    if args.random_from:
        settings += f" Random search's runs (the target) are those saved in `{args.random_from}`."
    limits = problem.describe_limits()
    if limits:
        settings += f"\n\nLimits: {limits}."
    (out_dir / "summary.md").write_text(settings + "\n\n" + table + "\n")
    (out_dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=1) + "\n")
    plot_benchmark(summary, out_dir / "hypervolume.png", title=f"{problem.name}: median HV (IQR band)")
    print(settings)
    print(table)
    print(f"wrote {out_dir} ({time.perf_counter() - started:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("table", help="a table of real trials from search directories (same task, space, budget, seed)")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--seed-noise", required=True, help="JSON written by bench/seed_noise.py for this directory")
    p.add_argument("--out", required=True)
    p = sub.add_parser("surrogate", help="cross-validate the surrogate models on a table")
    p.add_argument("table")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p = sub.add_parser("run", help="run the benchmark")
    p.add_argument("--problem", default="synthetic", help="synthetic, or a table JSON")
    p.add_argument(
        "--surrogate", default="best", help="regression model of a table problem (default: best cross-validated R2)"
    )
    p.add_argument("--variants", default="saas,saas-map,gp,gp-paramgp,random,nsga2,tpe")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--batch", type=int, default=5)
    p.add_argument("--init-trials", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=None, help="default 0 (synthetic) or 1000 (tables)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    p.add_argument(
        "--clip",
        action="store_true",
        help="table problems: clip the surrogate's predictions to the measured score range (problem name "
        "ends in -clipped)",
    )
    p.add_argument(
        "--collapse",
        default=None,
        metavar="JSON",
        help="table problems: observe the surrogate through the collapse noise model measured by "
        "bench/collapse_rate.py (e.g. bench/results/collapse_rate.json) instead of Gaussian noise (problem name "
        "ends in -collapse and the rate)",
    )
    p.add_argument(
        "--tabular",
        action="store_true",
        help="with a table JSON: the tabular problem (only the table's configurations, their recorded results; "
        "problem tabular-<task>-<n>)",
    )
    p.add_argument(
        "--random-from",
        default=None,
        help="take random search's saved runs (the target) from this directory instead of running them",
    )
    p.add_argument("--summary-only", action="store_true", help="summarise the saved runs; run nothing")
    p.add_argument(
        "--nuts",
        default=None,
        help="saas's NUTS budget warmup/samples/thinning (default the optimiser's, 256/128/16); use its own --out",
    )
    args = parser.parse_args(argv)
    args.command_line = "python bench/search_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    return {"table": cmd_table, "surrogate": cmd_surrogate, "run": cmd_run}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
