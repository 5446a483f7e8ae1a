"""Does ``--workers 2`` pay on a 2-core machine? (issue 17, item 5)

Side by side in one run, the same search (MiniLM, glue/sst2 at the demo's budget, 24 trials, one
optimiser seed) two ways:

- ``1x2``: one trial at a time in the search's own process, 2 torch threads (the default);
- ``2x1``: two trials at once on a local Ray instance, 1 CPU and 1 thread each (``--workers 2``).

for ``tpe`` and ``saas``. The variants alternate (tpe: 1x2 first; saas: 2x1 first), so that a drift of
the machine's speed does not favour one. Reported per search: wall seconds from the command's start to
its end (Ray's start included), trials per hour, median training seconds of one trial, and the final
hypervolume at the search's default reference point; then per optimiser the ratio 2x1 / 1x2 of trials
per hour. Nothing else may train on the machine meanwhile.

    .venv/bin/python bench/ray_workers.py --out bench/results/ray_workers.json

The searches go to a temporary directory (``--keep DIR`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BUDGET = ["--train-examples", "1000", "--val-examples", "400", "--max-length", "64"]
VARIANTS = {
    "1x2": ["--threads", "2"],
    "2x1": ["--workers", "2", "--cpus-per-trial", "1", "--threads-per-trial", "1"],
}
ORDER = {"tpe": ("1x2", "2x1"), "saas": ("2x1", "1x2")}


def run_search(optimiser: str, variant: str, trials: int, folder: Path) -> dict[str, Any]:
    """Run one search through the command line; its wall time and what its ledger holds."""
    from autopeft.analysis.hypervolume import hypervolume_curve
    from autopeft.study.search import open_search

    command = [
        sys.executable, "-m", "autopeft", "search", "--model", "minilm", "--task", "glue/sst2",
        "--optimizer", optimiser, "--optimizer-seed", "0", "--seed", "0", "--trials", str(trials),
        "--init-trials", "10", *BUDGET, *VARIANTS[variant], "--out", str(folder), "--quiet",
    ]  # fmt: skip
    start = time.perf_counter()
    code = subprocess.call(command)
    wall = time.perf_counter() - start
    if code not in (0, 1):
        raise SystemExit(f"{optimiser} {variant}: exit code {code}")
    opened = open_search(folder)
    results = sorted(opened.results, key=lambda r: r.number)
    hv = hypervolume_curve(results, opened.settings.objective_list, opened.reference)
    return {
        "optimizer": optimiser,
        "variant": variant,
        "trials": len(results),
        "failed": sum(not r.ok for r in results),
        "wall_seconds": wall,
        "trials_per_hour": 3600.0 * len(results) / wall,
        "median_train_seconds": float(np.median([r.train_seconds for r in results])),
        "final_hypervolume": float(hv[-1]) if len(hv) else 0.0,
        "reference": list(map(float, opened.reference)),
        "best_score": max((r.score for r in results if r.ok), default=None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--optimizers", default="tpe,saas")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "ray_workers.json"))
    parser.add_argument("--keep", help="keep the searches in this folder")
    args = parser.parse_args(argv)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ray-workers-"))
    rows = []
    for optimiser in args.optimizers.split(","):
        for variant in ORDER.get(optimiser, ("1x2", "2x1")):
            row = run_search(optimiser, variant, args.trials, root / f"{optimiser}-{variant}")
            rows.append(row)
            print(
                f"{optimiser:5s} {variant}: {row['trials']} trials in {row['wall_seconds']:.0f} s "
                f"({row['trials_per_hour']:.0f}/h), median trial {row['median_train_seconds']:.1f} s, "
                f"HV {row['final_hypervolume']:.4f}",
                flush=True,
            )
    ratios = {}
    for optimiser in args.optimizers.split(","):
        by = {r["variant"]: r for r in rows if r["optimizer"] == optimiser}
        ratios[optimiser] = by["2x1"]["trials_per_hour"] / by["1x2"]["trials_per_hour"]
        print(f"{optimiser}: 2x1 / 1x2 trials per hour = {ratios[optimiser]:.2f}")
    record = {"trials": args.trials, "budget": BUDGET, "variants": VARIANTS, "runs": rows, "ratio_2x1_over_1x2": ratios}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
