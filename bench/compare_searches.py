"""Hypervolume of several real searches of one task, data split and trial seed, at one reference point.

For example the real ``saas`` search on SST-2 against the random searches that made the SST-2 table
(same data, same trial seed; other optimiser seeds):

    python bench/compare_searches.py runs/saas-sst2 runs/table-sst2 runs/table-sst2-gpu{1,2,3,4,5} \\
        --trials 50 --out bench/results/saas_search_sst2/compare

Prints HV after 10, 25, 50 … trials per search and writes ``OUT.json`` and ``OUT.png`` (HV against
trials). The reference point is the one recorded by the first search. Trials are taken in the order
they were numbered, failed ones included (they keep the previous HV).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--out", required=True, help="path without suffix: OUT.json and OUT.png are written")
    args = parser.parse_args(argv)
    from autopeft.analysis.hypervolume import hypervolume_curve
    from autopeft.study.search import open_search

    first = open_search(args.dirs[0])
    objectives = first.settings.objective_list
    reference = first.reference
    runs = []
    for d in args.dirs:
        opened = open_search(d)
        for name in ("task", "space", "seed", "budget", "objectives"):
            if getattr(opened.settings, name) != getattr(first.settings, name):
                raise SystemExit(f"{d}: {name} differs from {args.dirs[0]}'s; the searches are not comparable")
        trials = sorted(opened.results, key=lambda r: r.number)[: args.trials]
        if len(trials) < args.trials:
            raise SystemExit(f"{d}: {len(trials)} finished trials, fewer than --trials {args.trials}")
        curve = hypervolume_curve(trials, objectives, reference)
        s = opened.settings
        seed = s.seed if s.optimizer_seed is None else s.optimizer_seed
        runs.append({"dir": d, "optimizer": s.optimizer, "optimizer_seed": seed, "device": s.device,
                     "batch": s.batch, "hypervolume": curve.tolist()})  # fmt: skip
    marks = [m for m in (10, 25, 50, 100, 200) if m <= args.trials]
    print(f"reference {np.asarray(reference).tolist()}; HV after k trials")
    print(f"{'search':28s} {'optimiser':10s} " + " ".join(f"{'@' + str(m):>8s}" for m in marks))
    for r in runs:
        hv = r["hypervolume"]
        label = Path(r["dir"]).name
        print(f"{label:28s} {r['optimizer']:10s} " + " ".join(f"{hv[m - 1]:8.4f}" for m in marks))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"reference": np.asarray(reference).tolist(), "trials": args.trials, "runs": runs}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    x = np.arange(1, args.trials + 1)
    for r in runs:
        model_based = r["optimizer"] not in ("random", "nsga2", "tpe")
        label = f"{r['optimizer']} (seed {r['optimizer_seed']}, {r['device']})"
        ax.plot(x, r["hypervolume"], lw=2.2 if model_based else 1.0, alpha=1.0 if model_based else 0.7, label=label)
    # the first trials (HV from 0) would flatten the part that tells the searches apart
    low = min(r["hypervolume"][min(9, args.trials - 1)] for r in runs)
    high = max(max(r["hypervolume"]) for r in runs)
    ax.set_ylim(low - 0.25 * (high - low), high + 0.1 * (high - low))
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume")
    ax.set_title(f"{first.settings.task}: real trials, reference {np.round(np.asarray(reference), 3).tolist()}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
