"""How the benchmark's verdict depends on the hypervolume reference point, from saved runs only.

``bench/search_quality.py run`` scores every run with the search's default reference point (score 0,
params 10 %), the point the optimisers also use. This script recomputes each saved run's hypervolume
curve (true scores, exact params %) at other reference points and, for each, the same summary as the
benchmark: median HV at 25/50/100 trials and the trials each variant needs to reach random search's
median 100-trial HV. No optimiser is rerun, so the runs are those of the default reference: this is a
lens on the results (which part of the front a method gains on), not a retuned benchmark.

    python bench/reference_point.py bench/results/search_quality/ablations/ten-seeds \\
        --variants random,gp,saas --out bench/results/search_quality/ablations/reference_point_ten_seeds.json

Prints a Markdown table and writes the JSON given by ``--out``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from autopeft.benchmark.runner import BenchmarkRun

#: (score reference, params % reference): the default, the majority-class floor of SST-2's table,
#: the <= 1 % region where PEFT methods live, and a tight "good and tiny" box.
DEFAULT_REFERENCES = "0:10,0.558:10,0:1,0.558:1,0.7:0.1"


@dataclass(frozen=True)
class Lens:
    """One variant's summary at one reference point.

    ``hv_at``: median HV after 25/50/100 trials (score × params % units); ``median_reach``: first
    trial (1-based) at which the median curve reaches the target, None if never; ``per_seed``: the
    same per seed.
    """

    variant: str
    score_reference: float
    params_reference: float
    target: float
    hv_at: dict[int, float]
    median_reach: int | None
    per_seed: list[int | None]


def _curve(run: BenchmarkRun, reference: tuple[float, float]) -> list[float]:
    from autopeft.analysis.hypervolume import hypervolume
    from autopeft.records.objectives import DEFAULT_OBJECTIVES

    directions = [o.direction for o in DEFAULT_OBJECTIVES]
    points = np.column_stack([run.true_scores, run.params_pct])
    return [hypervolume(points[:i], directions, list(reference)) for i in range(1, len(points) + 1)]


def lenses(run_dir: Path, variants: list[str], references: list[tuple[float, float]]) -> list[Lens]:
    """Every variant at every reference point, summarised by the benchmark's own
    :func:`~autopeft.benchmark.runner.summarise_benchmark`; random search (``random``) sets each target."""
    from autopeft.benchmark.runner import BenchmarkRun, summarise_benchmark

    if "random" not in variants:
        raise SystemExit("--variants: random must be among them (it sets the target)")
    runs: list[BenchmarkRun] = []
    for variant in variants:
        files = sorted(run_dir.glob(f"{variant}-seed*.json"))
        if not files:
            raise SystemExit(
                f"{run_dir}: no {variant}-seed*.json; variants saved there: "
                f"{sorted({p.name.rsplit('-seed', 1)[0] for p in run_dir.glob('*-seed*.json')})}"
            )
        runs += [BenchmarkRun.load(p) for p in files]
    out = []
    for reference in references:
        rescored = [replace(r, hypervolume=_curve(r, reference), reference=list(reference)) for r in runs]
        summary = summarise_benchmark(rescored)
        for v in summary.variants:
            out.append(
                Lens(
                    v.variant,
                    reference[0],
                    reference[1],
                    summary.target,
                    v.at,
                    v.trials_to_target,
                    v.seed_trials_to_target,
                )
            )
    return out


def table(rows: list[Lens]) -> str:
    lines = [
        "| reference (score, params %) | variant | seeds | HV@25 | HV@50 | HV@100 | trials to random's HV@100 "
        "(median curve; per seed) | seeds within 35 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per = ",".join("–" if p is None else str(p) for p in r.per_seed)
        within = sum(p is not None and p <= 35 for p in r.per_seed)
        hv = " | ".join(f"{r.hv_at.get(t, float('nan')):.4f}" for t in (25, 50, 100))
        reach = "–" if r.median_reach is None else str(r.median_reach)
        lines.append(
            f"| ({r.score_reference:g}, {r.params_reference:g}) | {r.variant} | {len(r.per_seed)} | {hv} | "
            f"{reach} ({per}) | {within} of {len(r.per_seed)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="a folder of search_quality.py runs (<variant>-seed<n>.json)")
    parser.add_argument("--variants", default="random,gp,saas")
    parser.add_argument("--references", default=DEFAULT_REFERENCES, help="score:params pairs, comma-separated")
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write")
    args = parser.parse_args(argv)
    try:
        references = [(float(a), float(b)) for a, b in (p.split(":") for p in args.references.split(","))]
    except ValueError:
        raise SystemExit(f"--references: {args.references!r} is not score:params pairs like 0:10,0:1") from None
    rows = lenses(args.runs, args.variants.split(","), references)
    print(table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": str(args.runs), "rows": [asdict(r) for r in rows]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
