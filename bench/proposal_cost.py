"""Proposal cost of the model-based optimisers: seconds per ``ask`` vs. observed trials.

The issue's yardstick: a ``saas`` proposal for 15 dimensions (the ``paper`` space of a 12-layer model such
as BERT-base: 12 layer bits + 3 module sizes) and 50 observed trials must take well under one trial
(21-38 s for a low-fidelity MiniLM/SST-2 trial here). Results are synthetic (no training): the cost of
an ``ask`` depends on the number and dimension of the observations, not on their values.

    python bench/proposal_cost.py [--observed 10,25,50] [--batch 1,4] [--optimizers saas,gp]

Prints a table and writes ``bench/results/proposal_cost.json``. Run it alone (it is single-threaded by
default, ``--threads``) and compare rows of one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observed", default="10,25,50")
    parser.add_argument("--batch", default="1,4")
    parser.add_argument("--optimizers", default="saas,gp")
    parser.add_argument("--layers", type=int, default=12, help="layers of the space (12 = 15 dimensions)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--nuts", default=None, help="saas's NUTS budget warmup/samples/thinning (default the optimiser's)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="asks timed per setting (the first includes compiles)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "proposal_cost.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault(
        "XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={args.threads}"
    )
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from autopeft.analysis.hypervolume import default_reference
    from autopeft.benchmark import SyntheticProblem
    from autopeft.optim import make_optimiser
    from autopeft.optim.botorch_saas import parse_nuts_budget
    from autopeft.records.objectives import DEFAULT_OBJECTIVES
    from autopeft.space import SearchSpace

    space = SearchSpace.named("paper", args.layers, 768)
    problem = SyntheticProblem(space)
    rows = []
    for name in args.optimizers.split(","):
        for n_obs in (int(v) for v in args.observed.split(",")):
            for q in (int(v) for v in args.batch.split(",")):
                times, fits = [], []
                for rep in range(args.repeats):
                    opt = make_optimiser(
                        name,
                        space,
                        seed=rep,
                        init_trials=0,
                        param_fn=problem.params_pct,
                        reference=default_reference(DEFAULT_OBJECTIVES),
                    )
                    if args.nuts and name == "saas":
                        for attr, value in parse_nuts_budget(args.nuts).items():
                            setattr(opt, attr, value)
                    fit_seconds = [0.0]
                    if hasattr(opt, "_fit_gp"):  # time the model fits apart from the acquisition
                        fit = opt._fit_gp

                        def timed_fit(*a, _fit=fit, _acc=fit_seconds):
                            t = time.perf_counter()
                            try:
                                return _fit(*a)
                            finally:
                                _acc[0] += time.perf_counter() - t

                        opt._fit_gp = timed_fit
                    rng = np.random.default_rng(rep)
                    configs = {}
                    while len(configs) < n_obs:
                        c = space.sample(rng)
                        configs[c.key()] = c
                    opt.tell([problem.result(c, rng) for c in configs.values()])
                    t0 = time.perf_counter()
                    opt.ask(q)
                    times.append(time.perf_counter() - t0)
                    fits.append(fit_seconds[0])
                row = {
                    "optimizer": name,
                    "nuts": f"{opt.warmup_steps}/{opt.num_samples}/{opt.thinning}" if name == "saas" else None,
                    "dimensions": len(space.dimensions),
                    "observed": n_obs,
                    "batch": q,
                    "seconds": times,
                    "median_seconds": float(np.median(times)),
                    "fit_seconds": fits,  # of which fitting the models (the rest: acquisition)
                }
                rows.append(row)
                print(
                    f"{name:8s} {row['nuts'] or '':10s} d={row['dimensions']:2d}  observed={n_obs:3d}  batch={q}  "
                    + "  ".join(f"{t:6.1f}" for t in times)
                    + " s  (model fits "
                    + "  ".join(f"{t:5.1f}" for t in fits)
                    + " s)",
                    flush=True,
                )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "threads": args.threads,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1min_at_end": os.getloadavg()[0],  # other processes on the machine while it ran
        "python": sys.version,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
