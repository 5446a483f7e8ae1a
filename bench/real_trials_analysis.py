"""The analysis pre-registered in ``bench/preregistration_real_trials.md`` (issue 18, item 1), on the
searches ``bench/real_trials.py`` ran: hypervolume curves, trials to random's 50-trial hypervolume, and
paired one-sided exact Wilcoxon tests against random, at both reference points.

    .venv/bin/python bench/real_trials_analysis.py                 # sst2, every complete pair so far
    .venv/bin/python bench/real_trials_analysis.py --trials 50 --out bench/results/real_trials/sst2/analysis

Only optimiser seeds for which every optimiser's search has ``--trials`` finished trials are analysed
(complete pairs); the report says which. Writes ``OUT.json`` and ``OUT.png`` (median HV against trials and
against cumulative trial seconds, quartiles shaded, at each reference point) and prints the tables.
Reading a search's ledger writes nothing, so this may run while the searches go on.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "real_trials"
OPTIMISERS = ("random", "tpe", "gp", "saas")
REFERENCE = "random"
#: (score, params %) reference points, pre-registered: the search's default, then the small-budget region.
REFERENCES = {"params10": (0.0, 10.0), "params1": (0.0, 1.0)}
TESTED_AT = (20, 50)
BOOTSTRAP = 10_000


# ------------------------------------------------------------------------------------------ reading
def read_search(folder: Path, trials: int) -> dict[str, Any] | None:
    """The first ``trials`` finished trials of the search in ``folder``, in number order, with their
    objectives and seconds; None if it has fewer."""
    from autopeft.study.search import open_search

    if not (folder / "search.json").is_file():
        return None
    opened = open_search(folder)
    results = sorted(opened.results, key=lambda r: r.number)[:trials]
    if len(results) < trials:
        return None
    seconds = [sum(float(getattr(r, f) or 0.0) for f in ("train_seconds", "eval_seconds", "proposal_seconds"))
               for r in results]  # fmt: skip
    return {"settings": opened.settings, "results": results, "seconds": np.cumsum(seconds)}


def complete_seeds(task: Path, trials: int) -> tuple[list[int], dict[tuple[str, int], dict[str, Any]]]:
    """Optimiser seeds for which every optimiser has ``trials`` finished trials, and those searches."""
    searches = {}
    for folder in sorted(task.iterdir()):
        name, _, seed = folder.name.rpartition("-")
        if name in OPTIMISERS and seed.isdigit():
            search = read_search(folder, trials)
            if search is not None:
                searches[(name, int(seed))] = search
    seeds = sorted({k for _, k in searches if all((o, k) in searches for o in OPTIMISERS)})
    return seeds, searches


# ------------------------------------------------------------------------------------------ statistics
def curves(searches: dict[tuple[str, int], dict[str, Any]], seeds: list[int], reference: Sequence[float]) -> dict:
    """``{optimiser: array (seeds, trials)}``: the hypervolume after each trial of each search."""
    from autopeft.analysis.hypervolume import hypervolume_curve

    out = {}
    for o in OPTIMISERS:
        rows = []
        for k in seeds:
            search = searches[(o, k)]
            rows.append(hypervolume_curve(search["results"], search["settings"].objective_list, reference))
        out[o] = np.asarray(rows)
    return out


def trials_to_reach(curve: np.ndarray, target: float) -> int | None:
    """The first trial (1-based) whose hypervolume reaches ``target``; None if none does."""
    hit = np.flatnonzero(curve >= target - 1e-12)
    return int(hit[0]) + 1 if hit.size else None


def paired_test(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """``a`` against ``b`` (the reference), paired by position: the one-sided exact Wilcoxon signed-rank
    test of "a > b", the differences, how many are positive, and a bootstrap 95 % interval of the
    median difference (resampling pairs)."""
    from scipy.stats import wilcoxon

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if np.allclose(diff, 0.0):
        p = 1.0
    else:
        nonzero = diff[~np.isclose(diff, 0.0)]
        p = float(wilcoxon(nonzero, alternative="greater", method="exact").pvalue)
    boot = np.median(diff[rng.integers(0, len(diff), size=(BOOTSTRAP, len(diff)))], axis=1)
    return {
        "differences": diff.tolist(),
        "positive": int((diff > 0).sum()),
        "n": len(diff),
        "median_difference": float(np.median(diff)),
        "bootstrap_95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
        "p_one_sided": p,
    }


def analyse(task: Path, trials: int) -> dict[str, Any]:
    """Every pre-registered number for the searches of ``task`` with ``trials`` trials (see the module)."""
    seeds, searches = complete_seeds(task, trials)
    if not seeds:
        raise SystemExit(f"{task}: no optimiser seed has all of {OPTIMISERS} with {trials} finished trials")
    rng = np.random.default_rng(0)
    record: dict[str, Any] = {"task": task.name, "trials": trials, "seeds": seeds, "references": {}}
    for ref_name, reference in REFERENCES.items():
        hv = curves(searches, seeds, reference)
        target = float(np.median(hv[REFERENCE][:, trials - 1]))
        per: dict[str, Any] = {}
        for o in OPTIMISERS:
            reach = [trials_to_reach(row, target) for row in hv[o]]
            tests = {
                f"hv@{t}": paired_test(hv[o][:, t - 1], hv[REFERENCE][:, t - 1], rng)
                for t in TESTED_AT
                if t <= trials and o != REFERENCE
            }
            per[o] = {
                "median": np.median(hv[o], axis=0).tolist(),
                "q25": np.quantile(hv[o], 0.25, axis=0).tolist(),
                "q75": np.quantile(hv[o], 0.75, axis=0).tolist(),
                "per_seed": hv[o].tolist(),
                "seconds": [searches[(o, k)]["seconds"].tolist() for k in seeds],
                "trials_to_target": reach,
                "tests": tests,
            }  # fmt: skip
        record["references"][ref_name] = {"point": list(reference), "target": target, "optimisers": per}
    return record


# ------------------------------------------------------------------------------------------ output
def _reach_text(reach: list[int | None], trials: int) -> str:
    got = [r if r is not None else math.inf for r in reach]
    show = [str(r) if r is not None else f">{trials}" for r in reach]
    median = float(np.median(got))
    text = f"{median:g}" if math.isfinite(median) else f">{trials}"
    return f"{text} ({', '.join(show)})"


def print_tables(record: dict[str, Any]) -> None:
    trials = record["trials"]
    print(f"task {record['task']}: {trials} trials, optimiser seeds {record['seeds']} (complete pairs)")
    for ref in record["references"].values():
        print(
            f"\nreference (score, params %) = {tuple(ref['point'])}; random's median HV@{trials} = {ref['target']:.5f}"
        )
        header = f"{'optimiser':9s} {'HV@10':>8s} {'HV@20':>8s} {'HV@50':>8s}  {'trials to target':24s}"
        tests = " ".join(f"{'p(>' + REFERENCE + ')@' + str(t):>14s} {'+/n':>4s}" for t in TESTED_AT if t <= trials)
        print(header + " " + tests)
        for o, per in ref["optimisers"].items():
            med = per["median"]
            row = f"{o:9s} " + " ".join(f"{med[t - 1]:8.5f}" if t <= trials else f"{'':8s}" for t in (10, 20, 50))
            row += f"  {_reach_text(per['trials_to_target'], trials):24s}"
            for t in (t for t in TESTED_AT if t <= trials):
                test = per["tests"].get(f"hv@{t}")
                row += (
                    f" {test['p_one_sided']:14.4f} {test['positive']}/{test['n']:<2d}" if test else f" {'':14s} {'':4s}"
                )
            print(row)


def draw(record: dict[str, Any], path: Path) -> None:
    """Median HV (quartiles shaded) against trials and against cumulative trial seconds, per reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    refs = record["references"]
    fig, axes = plt.subplots(len(refs), 2, figsize=(11, 4 * len(refs)), squeeze=False)
    for row, ref in zip(axes, refs.values(), strict=True):
        for o, per in ref["optimisers"].items():
            x = np.arange(1, record["trials"] + 1)
            (line,) = row[0].plot(x, per["median"], label=o)
            row[0].fill_between(x, per["q25"], per["q75"], alpha=0.2, color=line.get_color())
            seconds = np.median(np.asarray(per["seconds"]), axis=0)
            row[1].plot(seconds, per["median"], label=o, color=line.get_color())
        for ax, xlabel in zip(row, ("trials", "cumulative trial seconds (median over seeds)"), strict=True):
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"hypervolume, reference {tuple(ref['point'])}")
            ax.axhline(ref["target"], color="grey", lw=0.8, ls="--")
            ax.legend()
    fig.suptitle(f"{record['task']}: median over optimiser seeds {record['seeds']}, quartiles shaded")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sst2", help="folder under bench/results/real_trials")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--out", help="path without suffix (default: the task folder's analysis)")
    args = parser.parse_args(argv)
    task = RESULTS / args.task
    record = analyse(task, args.trials)
    print_tables(record)
    out = Path(args.out) if args.out else task / "analysis"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    draw(record, out.with_suffix(".png"))
    print(f"\nwrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
