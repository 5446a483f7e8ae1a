"""The warm-start measurement pre-registered in ``bench/preregistration_warm_start.md`` (issue 18, item 5).

Ten ``saas`` searches of the second task (glue/stsb at the pilot's budget, as ``bench/real_trials.py --task
stsb``), 20 trials each: ``cold-k`` without and ``warm-k`` with ``--warm-start
bench/results/real_trials/sst2/saas-k`` (the SST-2 ``saas`` search of the same optimiser seed), k = 0..4,
run seed by seed, cold before warm, each through the command line; a search that exists is resumed, one that
is finished is skipped. Then the pre-registered numbers, at both reference points:

1. per seed, the first trial at which ``warm-k``'s hypervolume reaches ``cold-k``'s after 20 trials (">20"
   if never); the median and range; the target (half or fewer: 10) met or not;
2. HV@5, HV@10 and HV@20 of each arm (median, quartiles), the paired differences warm - cold and the
   one-sided exact Wilcoxon signed-rank test "warm > cold" at HV@10 and HV@20;
3. the warm configurations left out (not placeable), and how many of each warm search's final front
   members came from the warm start.

    .venv/bin/python bench/warm_start.py             # run what is missing (resumable), then analyse
    .venv/bin/python bench/warm_start.py --analyse   # analyse what has run
    .venv/bin/python bench/warm_start.py --status    # trials done per search

Writes ``bench/results/real_trials/warm/analysis.json`` and ``analysis.png`` (the hypervolume curves) and prints
the tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from real_trials import RESULTS, _done, budget_flags  # noqa: E402
from real_trials_analysis import REFERENCES, paired_test, read_search, trials_to_reach  # noqa: E402

OUT = RESULTS / "warm"
SEEDS = range(5)
TRIALS = 20
CHECKPOINTS = (5, 10, 20)
TESTED_AT = (10, 20)
ARMS = ("cold", "warm")


def source(seed: int) -> Path:
    """The SST-2 search whose front warm-starts ``warm-<seed>``."""
    return RESULTS / "sst2" / f"saas-{seed}"


def command(arm: str, seed: int, folder: Path) -> list[str]:
    autopeft = [sys.executable, "-m", "autopeft"]
    if (folder / "search.json").is_file():
        return [*autopeft, "resume", str(folder), "--quiet"]
    task, budget = budget_flags("stsb")
    warm = ["--warm-start", str(source(seed))] if arm == "warm" else []
    return [
        *autopeft, "search", "--model", "minilm", "--task", task, "--space", "paper", "--optimizer", "saas",
        "--optimizer-seed", str(seed), "--seed", "0", "--trials", str(TRIALS), "--batch", "1",
        "--init-trials", "10", *budget, *warm, "--out", str(folder), "--quiet",
    ]  # fmt: skip


def run() -> None:
    for seed in SEEDS:
        if _done(source(seed)) < 50:
            raise SystemExit(f"{source(seed)} has not finished its 50 trials: run bench/real_trials.py first")
        for arm in ARMS:
            folder = OUT / f"{arm}-{seed}"
            if _done(folder) >= TRIALS:
                continue
            print(f"{arm} seed {seed}: {_done(folder)}/{TRIALS} done", flush=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            code = subprocess.call(command(arm, seed, folder))
            if code not in (0, 1):  # 1: some trials failed, the search still ran
                raise SystemExit(f"{arm} seed {seed} stopped with exit code {code}")


def warm_origin(folder: Path, search: dict[str, Any]) -> dict[str, Any]:
    """How many warm configurations ran and were left out, and how many front members are warm ones, of the
    warm search in ``folder`` (``search``: what :func:`read_search` read of it)."""
    from autopeft.analysis.pareto import ParetoFront
    from autopeft.space import PeftConfig
    from autopeft.study.warm_start import WARM_START_FILE

    plan = json.loads((folder / WARM_START_FILE).read_text())
    warm = {PeftConfig.from_dict(c).key() for c in plan["configs"]}
    front = ParetoFront.from_trials(search["results"], search["settings"].objective_list)
    return {
        "warm_configs": len(warm),
        "left_out": int(plan["left_out"]),
        "front": len(list(front)),
        "front_from_warm_start": sum(PeftConfig.from_dict(t.config).key() in warm for t in front),
    }


def analyse() -> dict[str, Any]:
    from autopeft.analysis.hypervolume import hypervolume_curve

    searches = {(arm, k): read_search(OUT / f"{arm}-{k}", TRIALS) for arm in ARMS for k in SEEDS}
    seeds = [k for k in SEEDS if all(searches[(arm, k)] is not None for arm in ARMS)]
    if not seeds:
        raise SystemExit(f"{OUT}: no seed has both arms with {TRIALS} finished trials")
    rng = np.random.default_rng(0)
    record: dict[str, Any] = {"trials": TRIALS, "seeds": seeds, "references": {}}
    for ref_name, reference in REFERENCES.items():
        hv = {
            arm: np.asarray(
                [
                    hypervolume_curve(searches[(arm, k)]["results"], searches[(arm, k)]["settings"].objective_list,
                                      reference)
                    for k in seeds
                ]
            )
            for arm in ARMS
        }  # fmt: skip
        reach = [trials_to_reach(hv["warm"][i], float(hv["cold"][i, TRIALS - 1])) for i in range(len(seeds))]
        finite = [r if r is not None else np.inf for r in reach]
        median = float(np.median(finite))
        record["references"][ref_name] = {
            "point": list(reference),
            "trials_to_cold_hv20": reach,
            "median_trials_to_cold_hv20": median if np.isfinite(median) else None,
            "target_met": bool(np.isfinite(median) and median <= TRIALS // 2),
            "arms": {
                arm: {
                    f"hv@{t}": {
                        "median": float(np.median(hv[arm][:, t - 1])),
                        "q25": float(np.quantile(hv[arm][:, t - 1], 0.25)),
                        "q75": float(np.quantile(hv[arm][:, t - 1], 0.75)),
                    }
                    for t in CHECKPOINTS
                }
                | {"per_seed": hv[arm].tolist()}
                for arm in ARMS
            },
            "tests": {f"hv@{t}": paired_test(hv["warm"][:, t - 1], hv["cold"][:, t - 1], rng) for t in TESTED_AT},
        }
    record["warm_start"] = {
        k: warm_origin(OUT / f"warm-{k}", searches[("warm", k)]) for k in seeds
    }  # fmt: skip
    return record


def print_tables(record: dict[str, Any]) -> None:
    print(f"STS-B warm start: {record['trials']} trials, seeds {record['seeds']}")
    for ref in record["references"].values():
        reach = ", ".join(str(r) if r is not None else f">{record['trials']}" for r in ref["trials_to_cold_hv20"])
        median = ref["median_trials_to_cold_hv20"]
        print(f"\nreference {tuple(ref['point'])}: warm reaches cold's HV@20 at trials {reach}; median "
              f"{median if median is not None else '>' + str(record['trials'])} (target <= 10: "
              f"{'met' if ref['target_met'] else 'not met'})")  # fmt: skip
        for arm in ARMS:
            cells = "  ".join(
                f"HV@{t} {ref['arms'][arm][f'hv@{t}']['median']:.5f} "
                f"[{ref['arms'][arm][f'hv@{t}']['q25']:.5f}, {ref['arms'][arm][f'hv@{t}']['q75']:.5f}]"
                for t in CHECKPOINTS
            )
            print(f"  {arm:5s} {cells}")
        for t, test in ref["tests"].items():
            print(f"  warm - cold at {t}: {test['positive']}/{test['n']} positive, median "
                  f"{test['median_difference']:+.5f}, p(one-sided) {test['p_one_sided']:.4f}")  # fmt: skip
    for k, row in record["warm_start"].items():
        print(f"warm-{k}: {row['warm_configs']} warm configurations ({row['left_out']} left out); "
              f"{row['front_from_warm_start']} of {row['front']} front members from the warm start")  # fmt: skip


def draw(record: dict[str, Any], path: Path) -> None:
    """Per reference point: each arm's median hypervolume after each trial (quartiles shaded, every seed a thin
    line), and cold's median HV@20 dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    refs = record["references"]
    fig, axes = plt.subplots(1, len(refs), figsize=(5.5 * len(refs), 4), squeeze=False)
    x = np.arange(1, record["trials"] + 1)
    for ax, ref in zip(axes[0], refs.values(), strict=True):
        for arm in ARMS:
            hv = np.asarray(ref["arms"][arm]["per_seed"])
            (line,) = ax.plot(x, np.median(hv, axis=0), label=f"{arm} (median)", lw=2)
            ax.fill_between(x, *np.quantile(hv, [0.25, 0.75], axis=0), alpha=0.2, color=line.get_color())
            for row in hv:
                ax.plot(x, row, color=line.get_color(), lw=0.5, alpha=0.4)
        ax.axhline(ref["arms"]["cold"][f"hv@{record['trials']}"]["median"], color="grey", ls="--", lw=0.8)
        ax.set_xlabel("trials")
        ax.set_ylabel(f"hypervolume, reference {tuple(ref['point'])}")
        ax.legend()
    fig.suptitle(f"STS-B, saas: warm start from SST-2 against cold start, seeds {record['seeds']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyse", action="store_true", help="analyse what has run; run nothing")
    parser.add_argument("--status", action="store_true", help="print the trials done per search and stop")
    args = parser.parse_args(argv)
    if args.status:
        print(json.dumps({f"{a}-{k}": _done(OUT / f"{a}-{k}") for k in SEEDS for a in ARMS}, indent=1))
        return 0
    if not args.analyse:
        run()
    record = analyse()
    print_tables(record)
    (OUT / "analysis.json").write_text(json.dumps(record, indent=1) + "\n")
    draw(record, OUT / "analysis.png")
    print(f"wrote {OUT / 'analysis.json'} and {OUT / 'analysis.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
