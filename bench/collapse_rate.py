"""How often a low-fidelity SST-2 trial collapses to predicting one class, and the seed noise of the trials
that do not: the collapse noise model of the surrogate benchmark (``bench/search_quality.py run --collapse``).

Uses only trials already recorded in the repository (nothing is trained): every configuration of MiniLM
on GLUE SST-2 that the project trained with several seeds at the low fidelity of the search (1,000
training examples, 400 or 500 validation examples carved from the training split, length 64, one epoch,
lr 1e-3, batch 16), by the project's own trial function (``run_trial``):

- ``results/seed_noise_table-sst2.json``: 8 configurations of the table's search x seeds 0, 1, 2 (500
  validation examples, data split seed 0; the first 8 trials of a random search, not chosen by score);
- ``crosscheck/current.json`` and ``crosscheck/adapters.json``: 12 random configurations x seeds 0, 1, with
  each backend (400 examples, split seed 0);
- ``results/speed_references.json``: 2 configurations x 3 seeds, the project's loop (``autopeft``; the
  ``dynamic`` and ``trainer`` reference loops are other training code and are left out);
- ``results/throughput_cpu_trials.json`` (seeds 0-2) and ``results/throughput_cpu_grouping_scores.json``
  (seeds 3-7): 2 configurations, the project's loop with length-grouped batches (``project``) and with
  random batches (``project-random-batches``); the ``reference`` loop is left out. These trials carve their
  data with the trial seed, so each seed has its own validation slice;
- ``results/real_trials/sst2/rescore.jsonl``: front members of the real searches retrained with seeds 1-3
  (400 examples, split seed 0). Their seed-0 trials are left out: a member is on a front because of its
  seed-0 score (selection), so that run did not collapse by construction; the member counts as a
  configuration that learns.

Rule: a run *collapsed* when its score is at most ``majority + margin`` (margin 0.02), where ``majority``
is the share of the most frequent class in the run's validation slice (what predicting that class always
scores; computed from the data with the project's split rule): a run no better than a constant
classifier by more than 2 points. The scores leave a wide gap around the threshold (the script prints
it: the collapsed runs lie within about 0.01 of their majority share, the lowest run that learned about
0.07 above it), so any margin inside the gap counts the same runs. The rate is collapses / runs over the
configurations (one configuration = one configuration of one training loop in one source) that learned,
i.e. did not collapse, with at least one seed. The within-seed sd is the pooled standard deviation of the
runs that did not collapse (each configuration's deviations from its own mean, degrees of freedom
``sum(n - 1)`` over configurations with two such runs or more), over the configurations whose seeds share
one validation slice, as the trials of a search do (the throughput files' seeds each score on their own
slice, which adds the sampling noise of 400 examples, about 0.02: they count for the rate only). The
collapse score given to the noise model is the majority share of the benchmark table's own validation
slice (``--table``).

    python bench/collapse_rate.py [--data-dir ../shared/data] [--table bench/tables/sst2_minilm.json]

Writes ``bench/results/collapse_rate.json`` and prints a table per source.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: A run within this much of its validation slice's majority share (or below it) collapsed.
MARGIN = 0.02


@dataclass(frozen=True)
class Run:
    """One trained trial.

    Args:
        source: the file it comes from (relative to ``bench/``).
        group: the configuration it trained (with its training loop): runs of one group differ by seed.
        seed: the trial seed.
        score: validation accuracy (a share).
        val_examples, split_seed: the validation slice it was scored on (carved from SST-2's training
            split by ``autopeft.train.data.carve_splits``).
    """

    source: str
    group: str
    seed: int
    score: float
    val_examples: int
    split_seed: int


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def seed_noise_runs(path: Path) -> list[Run]:
    d = _read_json(path)
    val = int(d["budget"]["val_examples"])
    src = str(path.relative_to(HERE))
    return [
        Run(src, row["config"], int(seed), float(score), val, 0)  # the table's searches all ran with --seed 0
        for row in d["configs"]
        for seed, score in zip(row["seeds"], row["scores"], strict=True)
    ]


def crosscheck_runs(path: Path) -> list[Run]:
    d = _read_json(path)
    src = str(path.relative_to(HERE))
    return [
        Run(src, f"{d['backend']}: {row['describe']}", int(row["seed"]), float(row["score"]), 400, 0)
        for row in d["rows"]
        if row["status"] == "complete"
    ]


def speed_reference_runs(path: Path) -> list[Run]:
    d = _read_json(path)
    val = int(d["budget"]["val_examples"])
    src = str(path.relative_to(HERE))
    return [
        Run(src, f"autopeft: {name}", seed, float(r["score"]), val, 0)  # seeds 0, 1, 2 in order; data split 0
        for name, config in d["configs"].items()
        for seed, r in enumerate(config["runs"]["autopeft"])
    ]


def throughput_runs(path: Path) -> list[Run]:
    d = _read_json(path)
    val = int(d["trial_budget"]["val_examples"])
    src = str(path.relative_to(HERE))
    loops = ("project", "project-random-batches")  # the project's trial; "reference" is another loop
    return [
        # bench/throughput.py carves the data with the trial seed: each seed has its own slice
        Run(src, f"{loop}: {row['config']}", int(row["seed"]), float(row[loop]["score"]), val, int(row["seed"]))
        for row in d["trials"]
        for loop in loops
        if loop in row
    ]


def rescore_runs(path: Path) -> list[Run]:
    src = str(path.relative_to(HERE))
    runs = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row["status"] == "complete":
            config = json.dumps(row["config"], sort_keys=True)
            runs.append(Run(src, config, int(row["seed"]), float(row["score"]), 400, 0))
    return runs


#: Sources whose configurations are known to learn with a seed left out of the count (front members).
LEARNED_BY_SELECTION = ("results/real_trials/sst2/rescore.jsonl",)


def majority_shares(slices: Iterable[tuple[int, int]], data_dir: str) -> dict[tuple[int, int], float]:
    """The majority-class share of each ``(val_examples, split_seed)`` validation slice of SST-2 (carved
    from its training split as every trial here did: 1,000 training examples, stratified): the best score
    of a constant prediction, :func:`autopeft.tasks.metrics.constant_score`."""
    from autopeft.tasks import load_task
    from autopeft.tasks.metrics import constant_score
    from autopeft.train.budget import Budget
    from autopeft.train.data import carve_splits

    task = load_task("glue/sst2", data_dir)
    out = {}
    for val, seed in sorted(set(slices)):
        _, split = carve_splits(task, Budget(train_examples=1000, val_examples=val, max_length=64), seed)
        out[(val, seed)] = float(constant_score(task.spec, split.labels))
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided interval of a binomial proportion ``k / n``."""
    from scipy.stats import beta

    alpha = 1 - level
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def analyse(runs: list[Run], shares: dict[tuple[int, int], float], margin: float = MARGIN) -> dict:
    """Collapses, the rate over configurations that learn, and the pooled within-seed sd (see the module
    docstring)."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.source, r.group), []).append(r)

    def collapsed(r: Run) -> bool:
        return r.score <= shares[(r.val_examples, r.split_seed)] + margin

    rows = []
    for (source, group), members in groups.items():
        flags = [collapsed(r) for r in members]
        learns = source in LEARNED_BY_SELECTION or not all(flags)
        # seed noise on one fixed validation slice (a search's): groups whose seeds change the slice add
        # the slice's sampling noise, so they do not enter the within-seed sd
        one_slice = len({(r.val_examples, r.split_seed) for r in members}) == 1
        kept = [r.score for r, f in zip(members, flags, strict=True) if not f] if one_slice else []
        mean = sum(kept) / len(kept) if kept else math.nan
        rows.append(
            {
                "source": source,
                "config": group,
                "seeds": [r.seed for r in members],
                "scores": [r.score for r in members],
                "collapsed": flags,
                "majority": [shares[(r.val_examples, r.split_seed)] for r in members],
                "learns": learns,
                "ss_within": sum((s - mean) ** 2 for s in kept) if len(kept) > 1 else 0.0,
                "df_within": max(len(kept) - 1, 0),
            }
        )
    counted = [g for g in rows if g["learns"]]
    n = sum(len(g["scores"]) for g in counted)
    k = sum(sum(g["collapsed"]) for g in counted)
    ss = sum(g["ss_within"] for g in counted)
    df = sum(g["df_within"] for g in counted)
    low = [s for g in rows for s, f in zip(g["scores"], g["collapsed"], strict=True) if not f]
    high = [s - m for g in rows for s, f, m in zip(g["scores"], g["collapsed"], g["majority"], strict=True) if f]
    return {
        "collapses": k,
        "n_runs": n,
        "n_configs": len(counted),
        "rate": k / n if n else math.nan,
        "ci95": list(clopper_pearson(k, n)) if n else None,
        "within_sd": math.sqrt(ss / df) if df else math.nan,
        "within_df": df,
        # how far the rule's threshold is from the data on either side: the margin could move this much
        "highest_collapsed_above_majority": max(high) if high else None,
        "lowest_learned_score": min(low) if low else None,
        "groups": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("AUTOPEFT_DATA", str(HERE.parent.parent / "shared" / "data"))
    )
    parser.add_argument("--table", default=str(HERE / "tables" / "sst2_minilm.json"), help="the benchmark's table")
    parser.add_argument("--margin", type=float, default=MARGIN)
    parser.add_argument("--out", default=str(HERE / "results" / "collapse_rate.json"))
    args = parser.parse_args(argv)

    readers = [
        (seed_noise_runs, "results/seed_noise_table-sst2.json"),
        (crosscheck_runs, "crosscheck/current.json"),
        (crosscheck_runs, "crosscheck/adapters.json"),
        (speed_reference_runs, "results/speed_references.json"),
        (throughput_runs, "results/throughput_cpu_trials.json"),
        (throughput_runs, "results/throughput_cpu_grouping_scores.json"),
        (rescore_runs, "results/real_trials/sst2/rescore.jsonl"),
    ]
    runs = [r for read, rel in readers for r in read(HERE / rel)]
    table = _read_json(Path(args.table))
    table_slice = (int(table["source"]["budget"]["val_examples"]), int(table["source"]["seed"]))
    shares = majority_shares([*((r.val_examples, r.split_seed) for r in runs), table_slice], args.data_dir)
    result = analyse(runs, shares, args.margin)
    level = shares[table_slice]
    at_level = sum(s <= level + args.margin for s in table["scores"])
    per_source = {}
    for rel in dict.fromkeys(rel for _, rel in readers):
        part = analyse([r for r in runs if r.source == rel], shares, args.margin)
        per_source[rel] = {key: part[key] for key in ("n_configs", "n_runs", "collapses", "rate", "within_sd")}
    out = {
        "what": "collapse rate and within-seed sd of low-fidelity MiniLM trials on GLUE SST-2 (bench/collapse_rate.py)",
        "rule": (
            f"a run collapsed when its score <= its validation slice's majority-class share + {args.margin}; "
            "rate = collapses / runs over the configurations that learned (did not collapse) with at least one "
            "seed; within_sd = pooled sd of the runs that did not collapse, over the configurations whose seeds "
            "share one validation slice"
        ),
        "margin": args.margin,
        "rate": result["rate"],
        "ci95": result["ci95"],
        "interval": "Clopper-Pearson, two-sided 95 %",
        "collapses": result["collapses"],
        "n_runs": result["n_runs"],
        "n_configs": result["n_configs"],
        "within_sd": result["within_sd"],
        "within_df": result["within_df"],
        "collapse_score": level,
        "collapse_score_of": {
            "table": os.path.relpath(Path(args.table).resolve(), HERE.parent),
            "val_examples": table_slice[0],
            "split_seed": table_slice[1],
            "meaning": "majority-class share of the table's validation slice: the score of predicting one class",
        },
        "majority_shares": {f"val{v}-split{s}": share for (v, s), share in sorted(shares.items())},
        "highest_collapsed_above_majority": result["highest_collapsed_above_majority"],
        "lowest_learned_score": result["lowest_learned_score"],
        "table_single_trials_at_collapse_level": {
            "trials": len(table["scores"]),
            "at_or_below": at_level,
            "note": "one seed each: includes configurations that never learn, so not the rate above",
        },
        "sources": per_source,
        "left_out": [
            "speed_references.json: the dynamic and trainer loops (other training code)",
            "throughput_cpu_trials.json: the reference loop (other training code)",
            "rescore.jsonl: the seed-0 runs of the front members (selected for their score)",
        ],
        "groups": result["groups"],
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")

    print(f"{'source':48s} {'configs':>7s} {'runs':>5s} {'collapsed':>9s} {'rate':>6s} {'within sd':>9s}")
    for rel, s in per_source.items():
        print(
            f"{rel:48s} {s['n_configs']:7d} {s['n_runs']:5d} {s['collapses']:9d} {s['rate']:6.3f} {s['within_sd']:9.4f}"
        )
    lo, hi = result["ci95"]
    print(
        f"{'all':48s} {result['n_configs']:7d} {result['n_runs']:5d} {result['collapses']:9d} "
        f"{result['rate']:6.3f} {result['within_sd']:9.4f}"
    )
    print(
        f"collapse rate {result['rate']:.3f} (95 % CI {lo:.3f}-{hi:.3f}), within-seed sd {result['within_sd']:.4f} "
        f"({result['within_df']} df); collapse score {level:.4f} (majority share of the table's slice); "
        f"table trials at or below it: {at_level} of {len(table['scores'])}"
    )
    print(
        f"rule margin {args.margin}: collapsed runs lie at most {result['highest_collapsed_above_majority']:.4f} "
        f"above their majority share; the lowest run that learned scored {result['lowest_learned_score']:.4f}"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
