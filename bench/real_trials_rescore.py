"""Front re-scoring, pre-registered in ``bench/preregistration_real_trials.md`` (issue 18, item 2): every
member of each real search's final front (its first ``--trials`` trials) is trained again with trial seeds
1, 2 and 3 on the search's own data split and budget, so that a front is judged on its members' means
over 4 seeds (the search's own seed 0 included), not on one draw.

    .venv/bin/python bench/real_trials_rescore.py --plan      # what would run, nothing trained
    .venv/bin/python bench/real_trials_rescore.py             # run it (resumable), then analyse
    .venv/bin/python bench/real_trials_rescore.py --analyse   # analyse what has run

Every retrained (configuration, seed) is appended to ``TASK/rescore.jsonl`` as it finishes (flushed and
synced), so a stopped run loses at most the trial in flight and a second run skips what is done. A
configuration on several fronts trains once per seed: the data split and trial seed fix the result.

A member *survives* if, scored by its mean over the 4 seeds, it is still non-dominated among the
re-scored members of its front. Written to ``TASK/rescore.json``: per search the members, their scores,
survivors and the hypervolume of the re-scored front at both reference points; per optimiser the median
share of survivors and the median re-scored hypervolume; how far the search's own draws sit above the
members' means; and, exploratory, each optimiser's re-scored hypervolume paired with random's by seed.
``TASK/rescore.png`` draws every member's draw, mean and range against its parameters.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "real_trials"
OPTIMISERS = ("random", "tpe", "gp", "saas")
NEW_SEEDS = (1, 2, 3)
REFERENCES = {"params10": (0.0, 10.0), "params1": (0.0, 1.0)}


def fronts(task: Path, trials: int) -> dict[str, dict[str, Any]]:
    """``{search folder name: {"settings", "members": [TrialResult, ...]}}`` for every search of ``task``
    with ``trials`` finished trials: the Pareto members of its first ``trials`` trials."""
    from autopeft.analysis.pareto import ParetoFront
    from autopeft.study.search import open_search

    out = {}
    for folder in sorted(task.iterdir()):
        name, _, seed = folder.name.rpartition("-")
        if name not in OPTIMISERS or not seed.isdigit() or not (folder / "search.json").is_file():
            continue
        opened = open_search(folder)
        first = sorted(opened.results, key=lambda r: r.number)[:trials]
        if len(first) < trials:
            continue
        front = ParetoFront.from_trials(first, opened.settings.objective_list)
        out[folder.name] = {"settings": opened.settings, "members": list(front.trials)}
    return out


def _key(config: dict[str, Any], seed: int) -> str:
    return json.dumps({"config": config, "seed": seed}, sort_keys=True)


def done(ledger: Path) -> dict[str, dict[str, Any]]:
    """The finished retrainings in ``ledger`` by (configuration, seed) key; a torn last line is ignored."""
    if not ledger.is_file():
        return {}
    out = {}
    for line in ledger.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[_key(row["config"], row["seed"])] = row
    return out


def plan(found: dict[str, dict[str, Any]], finished: dict[str, dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """The (configuration dict, seed) pairs still to train, each once, in search then front order."""
    todo: dict[str, tuple[dict[str, Any], int]] = {}
    for search in found.values():
        for member in search["members"]:
            for seed in NEW_SEEDS:
                key = _key(member.config, seed)
                if key not in finished:
                    todo.setdefault(key, (member.config, seed))
    return list(todo.values())


def train(found: dict[str, dict[str, Any]], todo: list[tuple[dict[str, Any], int]], ledger: Path) -> None:
    """Train every pair of ``todo`` as a search trial of the same settings would, appending each result."""
    from autopeft.models import BaseModel
    from autopeft.space import PeftConfig
    from autopeft.train.data import prepare_data
    from autopeft.train.trainer import run_trial

    settings = next(iter(found.values()))["settings"]
    for search in found.values():  # one data split and budget for all: the pre-registration's pairing
        for field in ("task", "space", "seed", "budget", "model"):
            if getattr(search["settings"], field) != getattr(settings, field):
                raise SystemExit(f"the searches differ in {field}: they cannot share retrainings")
    task = settings.load_task()
    base = BaseModel.load(settings.model)
    data = prepare_data(task, base.tokenizer, settings.budget, settings.seed)  # the search's own split
    with ledger.open("a") as out:
        for i, (config, seed) in enumerate(todo, 1):
            result = run_trial(
                base, data, PeftConfig.from_dict(config), settings.budget, seed=seed, device=settings.device
            )
            row = {"config": config, "seed": seed, "status": result.status, "score": result.score,
                   "params_pct": result.params_pct, "train_seconds": result.train_seconds,
                   "error": result.error}  # fmt: skip
            out.write(json.dumps(row) + "\n")
            out.flush()
            os.fsync(out.fileno())
            print(
                f"[{i}/{len(todo)}] seed {seed} {PeftConfig.from_dict(config).describe()}: {result.score}", flush=True
            )


def analyse(found: dict[str, dict[str, Any]], finished: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Survivors and re-scored hypervolumes of every search whose members all have their 3 new seeds."""
    from autopeft.analysis.hypervolume import hypervolume
    from autopeft.analysis.pareto import pareto_mask

    searches: dict[str, Any] = {}
    for name, search in found.items():
        rows = []
        for m in search["members"]:
            new = [finished.get(_key(m.config, s)) for s in NEW_SEEDS]
            if any(r is None for r in new):
                break
            scores = [m.score] + [r["score"] if r["status"] == "complete" else np.nan for r in new]
            rows.append({"number": m.number, "config": m.config, "params_pct": m.params_pct, "scores": scores,
                         "mean": float(np.nanmean(scores))})  # fmt: skip
        else:
            values = np.array([[r["mean"], r["params_pct"]] for r in rows])
            keep = pareto_mask(values, ["maximize", "minimize"])
            for r, k in zip(rows, keep, strict=True):
                r["survives"] = bool(k)
            hv = {ref: hypervolume(values, ["maximize", "minimize"], point) for ref, point in REFERENCES.items()}
            searches[name] = {"members": rows, "survivors": int(keep.sum()), "share": float(keep.mean()),
                              "rescored_hv": hv}  # fmt: skip
    per_optimiser = {}
    for o in OPTIMISERS:
        mine = [s for n, s in searches.items() if n.rpartition("-")[0] == o]
        if mine:
            hv = {
                f"median_rescored_hv_{ref}": float(np.median([s["rescored_hv"][ref] for s in mine]))
                for ref in REFERENCES
            }
            share = float(np.median([s["share"] for s in mine]))
            per_optimiser[o] = {"searches": len(mine), "median_share": share, **hv}
    return {
        "new_seeds": list(NEW_SEEDS),
        "searches": searches,
        "optimisers": per_optimiser,
        "optimism": optimism(searches),
        "paired_with_random": paired_with_random(searches),
    }


def optimism(searches: dict[str, Any]) -> dict[str, Any]:
    """How far the search's own draw (seed 0) sits above the member's mean over the 4 seeds, over every
    member of every re-scored front: a front picked from single draws keeps the lucky ones."""
    diffs = np.array([m["scores"][0] - m["mean"] for s in searches.values() for m in s["members"]])
    if diffs.size == 0:
        return {}
    return {
        "members": int(diffs.size),
        "search_score_above_mean": int((diffs > 0).sum()),
        "median_difference": float(np.median(diffs)),
        "q25": float(np.quantile(diffs, 0.25)),
        "q75": float(np.quantile(diffs, 0.75)),
    }


def paired_with_random(searches: dict[str, Any]) -> dict[str, Any]:
    """Exploratory (not pre-registered): per optimiser and reference, the re-scored front's hypervolume minus
    random's of the same optimiser seed, and how many of those pairs are positive."""
    out: dict[str, Any] = {}
    names = [n.rpartition("-") for n in searches]
    for o in OPTIMISERS[1:]:
        seeds = sorted(int(k) for name, _, k in names if name == o and f"random-{k}" in searches)
        if not seeds:
            continue
        out[o] = {"seeds": seeds}
        for ref in REFERENCES:
            d = [searches[f"{o}-{k}"]["rescored_hv"][ref] - searches[f"random-{k}"]["rescored_hv"][ref] for k in seeds]
            out[o][ref] = {"differences": d, "positive": int(sum(x > 0 for x in d))}
    return out


def draw(record: dict[str, Any], path: Path) -> None:
    """One panel per optimiser: each front member's search score (hollow) and its mean over the 4 seeds
    (filled, the 4 seeds' range as a bar) against its trainable parameters (% of the backbone, log scale);
    survivors in colour, members that drop off the re-scored front in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(OPTIMISERS), figsize=(4 * len(OPTIMISERS), 4), sharey=True, squeeze=False)
    for ax, o in zip(axes[0], OPTIMISERS, strict=True):
        members = [m for n, s in record["searches"].items() if n.rpartition("-")[0] == o for m in s["members"]]
        for m in members:
            colour = "tab:blue" if m["survives"] else "grey"
            lo, hi = np.nanmin(m["scores"]), np.nanmax(m["scores"])
            ax.plot([m["params_pct"]] * 2, [lo, hi], color=colour, lw=0.8, alpha=0.6)
            ax.scatter(m["params_pct"], m["scores"][0], facecolors="none", edgecolors=colour, s=18)
            ax.scatter(m["params_pct"], m["mean"], color=colour, s=14)
        survivors = sum(m["survives"] for m in members)
        ax.set_title(f"{o}: {survivors} of {len(members)} members survive")
        ax.set_xscale("log")
        ax.set_xlabel("trainable parameters (% of the backbone)")
    axes[0][0].set_ylabel("validation score")
    fig.suptitle("front members: the search's draw (hollow), the mean over 4 seeds (filled), their range (bar); "
                 "grey: off the re-scored front")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sst2", help="folder under bench/results/real_trials")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--plan", action="store_true", help="print what would be trained and stop")
    parser.add_argument("--analyse", action="store_true", help="analyse what has been trained, train nothing")
    args = parser.parse_args(argv)
    task = RESULTS / args.task
    ledger = task / "rescore.jsonl"
    found = fronts(task, args.trials)
    todo = plan(found, done(ledger))
    sizes = {name: len(s["members"]) for name, s in found.items()}
    print(f"{len(found)} searches with {args.trials} trials; front sizes {sizes}; {len(todo)} retrainings to run")
    if args.plan:
        return 0
    if not args.analyse and todo:
        train(found, todo, ledger)
    record = analyse(found, done(ledger))
    for o, row in record["optimisers"].items():
        print(f"{o:8s} {row}")
    print(f"optimism {record['optimism']}")
    (task / "rescore.json").write_text(json.dumps(record, indent=1) + "\n")
    draw(record, task / "rescore.png")
    print(f"wrote {task / 'rescore.json'} and {task / 'rescore.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
