"""Early stopping's gain on a real search: the same search with and without ``--early-stop``.

Both searches use the random optimiser with the same seed, so they propose the same configurations in
the same order and train them on the same data with the same trial seed; the one with early stopping
ends some of them early. Their cost is compared as the sum of trial seconds (training + evaluation,
recorded per trial in the ledger; robust to other load on the machine, unlike wall time) until each
reaches a hypervolume target, at the reference point of the search without early stopping:

- ``final``: the hypervolume the search without early stopping reaches at its last trial;
- ``p90``: 90 % of the way from its first complete trial's hypervolume to ``final``.

    autopeft search --model minilm --task glue/sst2 --data-dir ../shared/data --out runs/es-off \\
        --optimizer random --trials 40 --seed 0 --threads 1 --train-examples 1000 --val-examples 500 \\
        --epochs 1 --max-length 64
    autopeft search ... --out runs/es-on --evals-per-epoch 4 --early-stop
    python bench/early_stopping.py runs/es-off runs/es-on --out bench/results/early_stopping_sst2

Prints a table; writes ``OUT.json`` and ``OUT.png`` (hypervolume against cumulative trial seconds).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _time_to(target: float, hv: np.ndarray, seconds: np.ndarray) -> float | None:
    hit = np.flatnonzero(hv >= target - 1e-12)
    return float(seconds[hit[0]]) if hit.size else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("off", help="the search without early stopping")
    parser.add_argument("on", help="the same search with --early-stop")
    parser.add_argument("--out", required=True, help="path without suffix")
    args = parser.parse_args(argv)
    from autopeft.analysis import summarise
    from autopeft.analysis.hypervolume import hypervolume_curve
    from autopeft.study.search import open_search

    off, on = open_search(args.off), open_search(args.on)
    for name in ("task", "space", "seed", "optimizer", "objectives", "model"):
        if getattr(off.settings, name) != getattr(on.settings, name):
            raise SystemExit(f"{name} differs between the two searches: they are not the same search")
    if on.settings.early_stop is not True or off.settings.early_stop is not False:
        raise SystemExit("give the search without early stopping first, then the one with it")
    n = min(len(off.results), len(on.results))
    objectives, reference = off.settings.objective_list, off.reference
    rows = {}
    for label, opened in (("off", off), ("on", on)):
        trials = sorted(opened.results, key=lambda r: r.number)[:n]
        same = [_config_key(t) for t in trials]
        hv = hypervolume_curve(trials, objectives, reference)
        seconds = np.cumsum([t.train_seconds + t.eval_seconds for t in trials])
        summary = summarise(trials, objectives)
        rows[label] = {
            "dir": str(Path(getattr(args, label))),
            "trials": n,
            "stopped": sum(t.stopped for t in trials),
            "stopped_at": [t.stopped_at for t in trials if t.stopped],
            "trial_seconds": float(seconds[-1]),
            "hypervolume": hv.tolist(),
            "cumulative_seconds": seconds.tolist(),
            "front": [
                {"number": t.number, "score": t.score, "params_pct": t.params_pct, "config": t.config}
                for t in summary.front
            ],
            "configs": same,
        }
    if rows["off"]["configs"] != rows["on"]["configs"]:
        raise SystemExit("the two searches proposed different configurations; use --optimizer random, same seed")
    hv_off = np.asarray(rows["off"]["hypervolume"])
    first = hv_off[np.flatnonzero(hv_off > 0)[0]]
    targets = {"final": float(hv_off[-1]), "p90": float(first + 0.9 * (hv_off[-1] - first))}
    print(f"{n} trials each; reference {np.asarray(reference).tolist()}")
    print(
        f"{'search':8s} {'stopped':>8s} {'trial s':>9s} {'final HV':>9s} "
        + " ".join(f"{'s to ' + k:>12s}" for k in targets)
    )
    for label, row in rows.items():
        hv, sec = np.asarray(row["hypervolume"]), np.asarray(row["cumulative_seconds"])
        row["seconds_to"] = {k: _time_to(v, hv, sec) for k, v in targets.items()}
        cells = " ".join(f"{v:12.0f}" if v is not None else f"{'never':>12s}" for v in row["seconds_to"].values())
        print(f"{label:8s} {row['stopped']:8d} {row['trial_seconds']:9.0f} {hv[-1]:9.4f} {cells}")
    ratios = {
        k: (rows["off"]["seconds_to"][k] / rows["on"]["seconds_to"][k])
        if rows["off"]["seconds_to"][k] and rows["on"]["seconds_to"][k]
        else None
        for k in targets
    }
    print("speed-up to target (off / on): " + ", ".join(f"{k} {v:.2f}x" if v else f"{k} –" for k, v in ratios.items()))
    for label, row in rows.items():
        print(f"front {label}: " + ", ".join(f"{t['score']:.3f}@{t['params_pct']:.3g}%" for t in row["front"]))
        del row["configs"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"targets": targets, "speedup": ratios, "runs": rows, "reference": np.asarray(reference).tolist()}
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, row in rows.items():
        ax.step(row["cumulative_seconds"], row["hypervolume"], where="post", label=f"early stopping {label}")
    for k, v in targets.items():
        ax.axhline(v, color="grey", linestyle=":", linewidth=0.8)
        ax.text(0, v, k, fontsize=7, va="bottom")
    ax.set_xlabel("cumulative trial seconds (training + evaluation)")
    ax.set_ylabel("hypervolume")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


def _config_key(trial) -> str:
    return json.dumps(trial.config, sort_keys=True)


if __name__ == "__main__":
    raise SystemExit(main())
