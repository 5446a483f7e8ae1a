"""Early stopping's gain on a real search, measured two ways.

``live``: the same search run twice, with and without ``--early-stop``. Both use the random optimiser
with the same seed, so they propose the same configurations in the same order and train them on the
same data with the same trial seed; the one with early stopping ends some of them early. Their cost is
compared as the sum of trial seconds (training + evaluation, recorded per trial in the ledger) until
each reaches a hypervolume target, at the reference point of the search without early stopping:

- ``final``: the hypervolume the search without early stopping reaches at its last trial;
- ``p90``: 90 % of the way from its first complete trial's hypervolume to ``final``.

    autopeft search --model minilm --task glue/sst2 --data-dir ../shared/data --out runs/es-off \
        --optimizer random --trials 40 --seed 0 --threads 1 --train-examples 1000 --val-examples 500 \
        --epochs 1 --max-length 64
    autopeft search ... --out runs/es-on --evals-per-epoch 4 --early-stop
    python bench/early_stopping.py live runs/es-off runs/es-on --out bench/results/early_stopping_sst2

``replay``: one search recorded without early stopping but with a learning curve per trial
(``--evals-per-epoch 4 --probe-examples N``), replayed through the rule
(:func:`autopeft.study.stopping.replay`): for the random optimiser that is the search with early
stopping decision for decision, and the search without it costs each trial's training plus its last
evaluation only (what it costs with one evaluation per trial). Both arms come from the same run, so
machine load cancels out, and any number of rule settings can be compared at no further cost:

    autopeft search ... --out runs/es-rec --evals-per-epoch 4 --probe-examples 100
    python bench/early_stopping.py replay runs/es-rec --out bench/results/early_stopping_replay_sst2

Each prints a table and writes ``OUT.json`` and ``OUT.png`` (hypervolume against cumulative trial
seconds).
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
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("live", help="two searches, without and with --early-stop")
    p.add_argument("off", help="the search without early stopping")
    p.add_argument("on", help="the same search with --early-stop")
    p.add_argument("--out", required=True, help="path without suffix")
    p = sub.add_parser("replay", help="one search recorded with curves, replayed through the rule")
    p.add_argument("search", help="a search without --early-stop, with --evals-per-epoch 2 or more")
    p.add_argument("--margins", default="0.028,0.05", help="rule margins to compare (score units)")
    p.add_argument("--plateau-until", default="0,0.5", help="plateau guards to compare (fractions)")
    p.add_argument("--nearest", default="all,5", help="gains of all complete trials, or of the N nearest")
    p.add_argument(
        "--keep-evals",
        default="all;1",
        help="';'-separated sets of the recorded evaluations (0-based, before the last) that the rule may read, "
        "e.g. 'all;1;0,1': the others are dropped, with their cost",
    )
    p.add_argument("--min-trials", type=int, default=5, help="complete trials before any stop (default 5)")
    p.add_argument("--out", required=True, help="path without suffix")
    args = parser.parse_args(argv)
    return live(args) if args.command == "live" else replay_search(args)


def live(args: argparse.Namespace) -> int:
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


def replay_search(args: argparse.Namespace) -> int:
    import dataclasses

    from autopeft.analysis import summarise
    from autopeft.analysis.hypervolume import hypervolume_curve
    from autopeft.study.search import open_search
    from autopeft.study.stopping import ParetoStopper, chance_level, replay
    from autopeft.train.data import carve_splits

    rec = open_search(args.search)
    settings = rec.settings
    if settings.early_stop:
        raise SystemExit(f"{args.search} ran with --early-stop: record the search without it")
    if settings.optimizer != "random":
        print(f"note: {settings.optimizer} proposes from results, so the replay is not the search it would have run")
    trials = sorted(rec.results, key=lambda r: r.number)
    task = settings.load_task()
    val = carve_splits(task, settings.budget, settings.seed)[1]
    chance = chance_level(task.spec, val.labels, settings.budget.probe_examples)
    objectives, reference = settings.objective_list, rec.reference

    def one_eval(t):
        """The trial as a search without early stopping runs it: one evaluation, the last."""
        if not t.curve:
            return t
        return dataclasses.replace(t, eval_seconds=float(t.curve[-1].seconds), curve=t.curve[-1:])

    off = [one_eval(t) for t in trials]
    front_off = {t.number for t in summarise(off, objectives).front}

    def oracle(t):
        """Stops every trial that is not on the final front at its first evaluation (a bound, not a rule)."""
        if not t.ok or t.number in front_off or len(t.curve) < 2:
            return t
        first = t.curve[0]
        return dataclasses.replace(
            t,
            status="stopped",
            score=first.score,
            curve=t.curve[:1],
            train_seconds=float(first.train_seconds),
            eval_seconds=float(first.seconds),
            predicted_score=first.score,
            stopped_at=first.step / t.curve[-1].step,
        )

    arms: dict[str, list] = {"without early stopping": off, "recorded (curves, no stop)": trials}

    def thin(t, keep: set[int] | None):
        """The trial as recorded with only the evaluations in ``keep`` (None: all) and the last."""
        if keep is None or len(t.curve) < 2:
            return t
        kept = tuple(e for i, e in enumerate(t.curve) if i in keep or i == len(t.curve) - 1)
        return dataclasses.replace(t, curve=kept, eval_seconds=float(sum(e.seconds for e in kept)))

    margins = [float(x) for x in args.margins.split(",")]
    guards = [float(x) for x in args.plateau_until.split(",")]
    nearest = [None if x == "all" else int(x) for x in args.nearest.split(",")]
    total_steps = trials[0].curve[-1].step
    for spec in args.keep_evals.split(";"):
        keep = None if spec.strip() == "all" else {int(x) for x in spec.split(",")}
        thinned = [thin(t, keep) for t in trials]
        at = [e.step for e in thinned[0].curve[:-1]]
        evals = "evals at " + "/".join(f"{100 * s / total_steps:.0f}" for s in at) + " %"
        for margin in margins:
            for until in guards:
                for near in nearest:
                    stopper = ParetoStopper(
                        margin=margin, min_trials=args.min_trials, chance=chance, plateau_until=until, nearest=near
                    )
                    label = f"{evals}, margin {margin:g}, guard {until:g}, gains of {near or 'all'}"
                    arms[label] = replay(thinned, stopper)
    arms["oracle: non-front trials stopped at their first evaluation"] = [oracle(t) for t in trials]

    hv_off = hypervolume_curve(off, objectives, reference)
    first = hv_off[np.flatnonzero(hv_off > 0)[0]]
    targets = {"final": float(hv_off[-1]), "p90": float(first + 0.9 * (hv_off[-1] - first))}
    probe = settings.budget.probe_examples
    print(
        f"{args.search}: {len(trials)} trials, {len(trials[0].curve)} evaluations each "
        f"(probe {probe or 'all'} of {len(val)} examples), chance level {chance:.4f}; "
        f"reference {np.asarray(reference).tolist()}"
    )
    print(
        f"{'arm':60s} {'stopped':>7s} {'train s':>8s} {'eval s':>7s} {'trial s':>8s} {'final HV':>9s} "
        f"{'front lost':>10s} "
        + " ".join(f"{'s to ' + k:>9s}" for k in targets)
        + " "
        + " ".join(f"{'x to ' + k:>9s}" for k in targets)
    )
    rows = {}
    base_to: dict[str, float | None] = {}
    for label, arm in arms.items():
        hv = hypervolume_curve(arm, objectives, reference)
        seconds = np.cumsum([t.train_seconds + t.eval_seconds for t in arm])
        seconds_to = {k: _time_to(v, hv, seconds) for k, v in targets.items()}
        if not base_to:
            base_to = seconds_to
        speedup = {k: (base_to[k] / seconds_to[k]) if base_to[k] and seconds_to[k] else None for k in targets}
        front = summarise(arm, objectives).front
        lost = sorted(front_off - {t.number for t in front})
        stopped = [t for t in arm if t.stopped]
        rows[label] = {
            "stopped": len(stopped),
            "stopped_at": [round(t.stopped_at, 3) for t in stopped],
            "stopped_numbers": [t.number for t in stopped],
            "train_seconds": float(sum(t.train_seconds for t in arm)),
            "eval_seconds": float(sum(t.eval_seconds for t in arm)),
            "trial_seconds": float(seconds[-1]),
            "final_hypervolume": float(hv[-1]),
            "front_lost": lost,
            "seconds_to": seconds_to,
            "speedup_to": speedup,
            "hypervolume": hv.tolist(),
            "cumulative_seconds": seconds.tolist(),
            "front": [{"number": t.number, "score": t.score, "params_pct": t.params_pct} for t in front],
        }
        cells = " ".join(f"{v:9.0f}" if v is not None else f"{'never':>9s}" for v in seconds_to.values())
        ratios = " ".join(f"{v:8.2f}x" if v else f"{'-':>9s}" for v in speedup.values())
        row = rows[label]
        print(
            f"{label[:60]:60s} {len(stopped):7d} {row['train_seconds']:8.0f} {row['eval_seconds']:7.0f} "
            f"{seconds[-1]:8.0f} {hv[-1]:9.4f} {len(lost):10d} {cells} {ratios}"
        )
    # how well a probe score at each evaluation ranks the final scores (complete trials)
    ranks = []
    from scipy.stats import spearmanr

    complete = [t for t in trials if t.ok]
    for k in range(len(trials[0].curve) - 1):
        xs = [t.curve[k].score for t in complete if len(t.curve) > k + 1]
        ys = [t.score for t in complete if len(t.curve) > k + 1]
        rho = float(spearmanr(xs, ys).statistic) if len(xs) > 2 else None
        ranks.append(
            {
                "evaluation": k,
                "step_fraction": complete[0].curve[k].step / complete[0].curve[-1].step,
                "spearman_with_final": rho,
            }
        )
        print(f"evaluation {k} ({ranks[-1]['step_fraction']:.0%} of steps): Spearman with the final score {rho:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "search": str(args.search),
        "trials": len(trials),
        "probe_examples": probe,
        "val_examples": len(val),
        "chance": chance,
        "reference": np.asarray(reference).tolist(),
        "targets": targets,
        "min_trials": args.min_trials,
        "arms": rows,
        "early_rank_correlation": ranks,
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # the arms without stopping, the oracle, and the rule setting that reaches the final target
    # soonest without losing a front trial (all the others are in the table and the JSON)
    rules = [k for k in rows if k.startswith("evals") and not rows[k]["front_lost"] and rows[k]["seconds_to"]["final"]]
    best = min(rules, key=lambda k: rows[k]["seconds_to"]["final"]) if rules else None
    for label, row in rows.items():
        if label.startswith("evals") and label != best:
            continue
        ax.step(row["cumulative_seconds"], row["hypervolume"], where="post", label=label, linewidth=1)
    for k, v in targets.items():
        ax.axhline(v, color="grey", linestyle=":", linewidth=0.8)
        ax.text(0, v, k, fontsize=7, va="bottom")
    ax.set_xlabel("cumulative trial seconds (training + evaluation)")
    ax.set_ylabel("hypervolume")
    ax.legend(loc="lower right", fontsize=6)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


def _config_key(trial) -> str:
    return json.dumps(trial.config, sort_keys=True)


if __name__ == "__main__":
    raise SystemExit(main())
