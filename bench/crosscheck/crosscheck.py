"""Cross-check of the two backends: the committed results were produced with the ``adapters`` library
(autopeft 0.1, transformers 4.57); this version builds the same configurations itself on transformers 5
and HF PEFT. The same script runs under either version (their ``run_trial`` API is the same):

    # the old backend: a worktree of the last commit on adapters, with its own virtualenv
    git worktree add /tmp/autopeft-adapters 5dc6dd6
    PYTHONPATH=/tmp/autopeft-adapters/src OLD_VENV/bin/python bench/crosscheck/crosscheck.py run \
        --out bench/crosscheck/adapters.json
    # this version
    .venv/bin/python bench/crosscheck/crosscheck.py run --out bench/crosscheck/current.json
    # the table
    .venv/bin/python bench/crosscheck/crosscheck.py compare bench/crosscheck/adapters.json bench/crosscheck/current.json

Plan (written before the runs): 12 configurations of the paper space drawn with a fixed seed (numpy
seed 0, the space's own sampler), each trained with seeds 0 and 1 at the demo's fidelity (glue/sst2,
1,000 training and 400 validation examples carved from the training split, max length 64, the default
budget otherwise), on the packaged MiniLM. Compared: deployed parameter counts (must be equal), and the
scores: the mean over the 12 configurations of the per-configuration difference of seed means, against
the seed noise (the standard deviation of the difference between the two seeds of one configuration,
pooled over configurations and backends). Agreement "within seed noise" means the mean difference's
95 % interval contains 0 or lies within one seed-noise standard deviation.

Placements differ by design in two places (see ``src/autopeft/modules/serial.py`` and ``ia3.py``): the
serial adapter wraps the attention output projection (before the residual and layer norm), where
``adapters`` applies it after a first layer norm and adds the residual again; (IA)³ rescales the
feed-forward activations after the nonlinearity (the paper's place, HF PEFT's), where ``adapters``
rescales the intermediate projection's output before it. The task head is the family's own (BERT's
pretrained pooler and a new classifier, both trained) where ``adapters`` trained a new two-layer head;
both have H² + H + 2H + 2 parameters.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

CONFIGS = 12
SEEDS = (0, 1)


def run(out: Path, configs: int = CONFIGS, seeds: tuple[int, ...] = SEEDS) -> None:
    import numpy as np
    import torch

    import autopeft
    from autopeft.models import BaseModel
    from autopeft.space import SearchSpace
    from autopeft.tasks import load_task
    from autopeft.train.budget import Budget
    from autopeft.train.data import prepare_data
    from autopeft.train.trainer import run_trial

    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    base = BaseModel.load("minilm")
    space = SearchSpace.named("paper", base.config.num_hidden_layers, base.config.hidden_size)
    rng = np.random.default_rng(0)
    chosen: list = []
    while len(chosen) < configs:
        config = space.sample(rng)
        if config.key() not in {c.key() for c in chosen}:
            chosen.append(config)
    budget = Budget(train_examples=1000, val_examples=400, max_length=64)
    task = load_task("glue/sst2", os.environ.get("AUTOPEFT_DATA", "../shared/data"))
    data = prepare_data(task, base.tokenizer, budget, 0)
    import transformers

    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    done = {(r["config"], r["seed"]) for r in rows}
    for i, config in enumerate(chosen):
        for seed in seeds:
            if (config.key(), seed) in done:
                continue
            t0 = time.perf_counter()
            result = run_trial(base, data, config, budget, seed=seed)
            rows.append(
                {
                    "config": config.key(),
                    "describe": config.describe(),
                    "seed": seed,
                    "status": result.status,
                    "score": result.score,
                    "peft_params": result.peft_params,
                    "seconds": time.perf_counter() - t0,
                    "train_seconds": result.train_seconds,
                }
            )
            print(f"[{i + 1}/{configs} seed {seed}] {config.describe()}: {result.status} {result.score} "
                  f"({rows[-1]['seconds']:.0f} s)", flush=True)  # fmt: skip
            out.write_text(json.dumps({
                "autopeft": getattr(autopeft, "__version__", "?"),
                "backend": "adapters" if "adapters" in sys.modules else "transformers5+peft",
                "transformers": transformers.__version__,
                "rows": rows,
            }, indent=1))  # fmt: skip


def compare(old_path: Path, new_path: Path) -> dict:
    old, new = json.loads(old_path.read_text()), json.loads(new_path.read_text())

    def by_config(data: dict) -> dict[str, dict[int, dict]]:
        out: dict[str, dict[int, dict]] = {}
        for r in data["rows"]:
            out.setdefault(r["config"], {})[r["seed"]] = r
        return out

    a, b = by_config(old), by_config(new)
    keys = [k for k in a if k in b and set(a[k]) == set(b[k]) == set(SEEDS)]
    diffs, seed_gaps, rows = [], [], []
    for k in keys:
        sa = [a[k][s]["score"] or 0.0 for s in SEEDS]
        sb = [b[k][s]["score"] or 0.0 for s in SEEDS]
        seed_gaps += [sa[0] - sa[1], sb[0] - sb[1]]
        diffs.append(statistics.mean(sb) - statistics.mean(sa))
        rows.append({
            "config": a[k][0]["describe"], "params_adapters": a[k][0]["peft_params"],
            "params_current": b[k][0]["peft_params"], "adapters": sa, "current": sb, "difference": diffs[-1],
        })  # fmt: skip
    # the sd of one score from the spread of two seeds: var(s0 - s1) = 2 var(s)
    seed_sd = math.sqrt(statistics.mean(g * g for g in seed_gaps) / 2)
    mean = statistics.mean(diffs)
    half = 1.96 * statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    summary = {
        "configurations": len(keys),
        "params_equal": sum(r["params_adapters"] == r["params_current"] for r in rows),
        "mean_difference": mean,
        "ci95": [mean - half, mean + half],
        "seed_sd": seed_sd,
        "within_seed_noise": (mean - half <= 0 <= mean + half) or abs(mean) <= seed_sd,
        "backends": [old.get("backend"), new.get("backend")],
        "transformers": [old.get("transformers"), new.get("transformers")],
    }
    head = f"{'configuration':<44} {'params (adapters/current)':>26}  {'adapters s0,s1':>15}  {'current s0,s1':>15}"
    print(head + "  diff")
    for r in rows:
        print(f"{r['config']:<44} {r['params_adapters']:>12}/{r['params_current']:<13}  "
              f"{r['adapters'][0]:.3f},{r['adapters'][1]:.3f}      {r['current'][0]:.3f},{r['current'][1]:.3f}    "
              f"{r['difference']:+.3f}")  # fmt: skip
    print(json.dumps(summary, indent=1))
    return {"summary": summary, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--configs", type=int, default=CONFIGS, help="the first N configurations of the draw")
    r.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated trial seeds")
    c = sub.add_parser("compare")
    c.add_argument("old", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--json", type=Path, default=Path(__file__).with_name("comparison.json"))
    args = parser.parse_args()
    if args.cmd == "run":
        run(args.out, args.configs, tuple(int(x) for x in args.seeds.split(",")))
    else:
        args.json.write_text(json.dumps(compare(args.old, args.new), indent=1))


if __name__ == "__main__":
    main()
