"""How much NUTS does ``saas`` need? Fit time vs. held-out prediction quality of the score model.

Most of a ``saas`` proposal is the NUTS fit of the SAAS GP (``bench/proposal_cost.py``). This benchmark
fits the score model of the real SST-2 table (``bench/tables/sst2_minilm.json``: 634 real MiniLM trials)
on ``--observed`` rows drawn at random (``--splits`` draws, seeded), predicts the remaining rows, and
reports per NUTS budget (warmup/samples/thinning) and per split:

- fit seconds (the compile for each data shape is done once, untimed, before the timed fits);
- Spearman rank correlation and RMSE of the posterior mean against the measured scores;
- mean log predictive density (MLPD) of the measured scores under the model's predictive distribution
  (mixture over the retained samples, observation noise included): higher is better, it rewards
  calibrated uncertainty, which the acquisition needs as much as the mean.

``gp`` (one MAP GP) and ``saas-map`` (ensemble of MAP SAAS GPs) are fitted on the same rows as
references. What the search gains or loses with a cheaper budget is ``bench/search_quality.py
--nuts``'s job; this measures the model alone.

    python bench/nuts_budget.py [--observed 25,50] [--splits 5] [--budgets 256/128/16,128/64/8,64/32/4]

Prints a table and writes ``bench/results/nuts_budget.json``. Single-threaded by default (``--threads``);
compare rows of one run only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(HERE / "tables" / "sst2_minilm.json"))
    parser.add_argument("--observed", default="25,50", help="training rows per fit (comma-separated)")
    parser.add_argument("--splits", type=int, default=5, help="random draws of the training rows")
    parser.add_argument("--budgets", default="256/128/16,128/64/8,64/32/4", help="NUTS warmup/samples/thinning")
    parser.add_argument("--references", default="gp,saas-map", help="MAP models fitted on the same rows")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results" / "nuts_budget.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault(
        "XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={args.threads}"
    )
    import numpy as np
    import torch
    from scipy.stats import spearmanr

    torch.set_num_threads(args.threads)
    from autopeft.analysis.hypervolume import default_reference
    from autopeft.benchmark import TrialTable
    from autopeft.optim import GPOptimiser, MapSaasOptimiser, SaasOptimiser
    from autopeft.optim.botorch_saas import parse_nuts_budget
    from autopeft.records.objectives import DEFAULT_OBJECTIVES
    from autopeft.space import PeftConfig

    table = TrialTable.load(args.table)
    space = table.search_space
    configs = [PeftConfig.from_dict(c) for c in table.configs]
    scores = np.asarray(table.scores, dtype=np.float64)
    reference = default_reference(DEFAULT_OBJECTIVES)  # unused here: the bench fits models, it asks nothing
    try:
        budgets = {b: parse_nuts_budget(b) for b in args.budgets.split(",")}
    except ValueError as exc:
        raise SystemExit(f"--budgets: {exc}") from None
    variants: list[tuple[str, object]] = [
        (f"saas {b}", SaasOptimiser(space, threads=args.threads, reference=reference, **nuts))
        for b, nuts in budgets.items()
    ]
    refs = {"gp": GPOptimiser, "saas-map": MapSaasOptimiser}
    variants += [(name, refs[name](space, reference=reference)) for name in args.references.split(",") if name]
    X_all = torch.as_tensor(variants[0][1].encode(configs), dtype=torch.float64)

    def predictive(gp, X: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-model predictive mean and variance (observation noise included), shape models x n; and
        the mixture mean (shape n)."""
        with torch.no_grad():
            post = gp.posterior(X, observation_noise=True)
            mean = post.mean.squeeze(-1)
            var = post.variance.squeeze(-1)
        mean = mean.reshape(-1, X.shape[0]).numpy()
        var = var.reshape(-1, X.shape[0]).numpy()
        return mean, var, mean.mean(axis=0)

    rows = []
    print(f"{args.table}: {len(scores)} trials, {len(space.dimensions)} dimensions", flush=True)
    for n_obs in (int(v) for v in args.observed.split(",")):
        for name, opt in variants:  # compile once per data shape, untimed
            if name.startswith("saas "):
                opt._fit_gp(0, X_all[:n_obs], torch.as_tensor(scores[:n_obs]))
        for split in range(args.splits):
            rng = np.random.default_rng([split, n_obs])
            perm = rng.permutation(len(scores))
            train, test = perm[:n_obs], perm[n_obs:]
            X, y = X_all[train], torch.as_tensor(scores[train])
            for name, opt in variants:
                torch.manual_seed(split)
                t0 = time.perf_counter()
                gp = opt._fit_gp(0, X, y)
                seconds = time.perf_counter() - t0
                means, variances, mix = predictive(gp, X_all[test])
                truth = scores[test]
                # mixture density: mean over models of each model's Gaussian density
                dens = np.exp(-0.5 * (truth - means) ** 2 / variances) / np.sqrt(2 * math.pi * variances)
                mlpd = float(np.mean(np.log(dens.mean(axis=0) + 1e-300)))
                row = {
                    "model": name,
                    "observed": n_obs,
                    "split": split,
                    "fit_seconds": seconds,
                    "spearman": float(spearmanr(mix, truth).statistic),
                    "rmse": float(np.sqrt(np.mean((mix - truth) ** 2))),
                    "mlpd": mlpd,
                }
                rows.append(row)
                print(
                    f"n={n_obs:3d} split {split}  {name:18s} fit {seconds:6.2f} s  Spearman {row['spearman']:.3f}  "
                    f"RMSE {row['rmse']:.4f}  MLPD {mlpd:7.3f}",
                    flush=True,
                )
    print()
    print("| model | observed | fit s (median) | Spearman (mean ± sd) | RMSE (mean) | MLPD (mean ± sd) |")
    print("|---|---|---|---|---|---|")
    summary = []
    for n_obs in sorted({r["observed"] for r in rows}):
        for name, _ in variants:
            sel = [r for r in rows if r["observed"] == n_obs and r["model"] == name]
            sp = np.array([r["spearman"] for r in sel])
            lp = np.array([r["mlpd"] for r in sel])
            s = {
                "model": name,
                "observed": n_obs,
                "fit_seconds_median": float(np.median([r["fit_seconds"] for r in sel])),
                "spearman_mean": float(sp.mean()),
                "spearman_sd": float(sp.std(ddof=1)) if len(sp) > 1 else 0.0,
                "rmse_mean": float(np.mean([r["rmse"] for r in sel])),
                "mlpd_mean": float(lp.mean()),
                "mlpd_sd": float(lp.std(ddof=1)) if len(lp) > 1 else 0.0,
            }
            summary.append(s)
            print(
                f"| {name} | {n_obs} | {s['fit_seconds_median']:.2f} "
                f"| {s['spearman_mean']:.3f} ± {s['spearman_sd']:.3f} "
                f"| {s['rmse_mean']:.4f} | {s['mlpd_mean']:.3f} ± {s['mlpd_sd']:.3f} |"
            )
    meta = {
        "table": args.table,
        "splits": args.splits,
        "threads": args.threads,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "python": sys.version,
        "command": "python bench/nuts_budget.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
