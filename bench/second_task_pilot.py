"""The pilot that picks the real-trial comparison's second task, by the rule fixed in
``bench/preregistration_real_trials.md`` (issue 18, item 1):

- candidates ``glue/cola``, ``glue/mrpc``, ``glue/rte``, ``glue/stsb``, ``superglue/cb``;
- budget per candidate: the largest (training examples from {500, 1000, 2000}, then epochs from
  {1, 2, 3}) at which one trial of the biggest configuration of the paper space (every layer, serial,
  parallel and prefix all at H) takes at most 60 s. Found by measuring that trial at 500 examples and 1
  epoch, predicting the others in proportion to examples x epochs, and measuring the largest predicted
  to fit; a measured trial over 60 s steps down to the next budget (measured again). Validation: 400
  examples, or a quarter of the training split if that is fewer; a candidate with fewer training
  examples left than asked trains on all of them;
- 8 fixed configurations x 2 seeds per candidate (see :data:`PILOT`);
- signal ratio: the standard deviation of the 8 configuration means over the pooled standard deviation
  between the two seeds; the candidate with the highest ratio is chosen if it is at least 2.

Every trial is appended to ``bench/results/real_trials/pilot/pilot.jsonl`` as it finishes (resumable:
a second run skips what is done); the budgets found to ``budgets.json``; the ratios and the choice to
``pilot.json``. Nothing else may train on the machine meanwhile (the 60 s rule is a timing).

    .venv/bin/python bench/second_task_pilot.py            # resumable
    .venv/bin/python bench/second_task_pilot.py --analyse  # ratios from what has run
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "real_trials" / "pilot"
CANDIDATES = ("glue/cola", "glue/mrpc", "glue/rte", "glue/stsb", "superglue/cb")
EXAMPLES = (500, 1000, 2000)
EPOCHS = (1, 2, 3)
LIMIT_SECONDS = 60.0
SEEDS = (0, 1)
COMMON = {"max_length": 128, "batch_size": 16, "learning_rate": 1e-3}


def pilot_configs(layers: int, hidden: int) -> dict[str, dict[str, Any]]:
    """The 8 pre-registered configurations on a model of ``layers`` layers and hidden size ``hidden``."""
    every = [True] * layers
    top3 = [i >= layers - 3 for i in range(layers)]
    return {
        "serial-1": {"layers": every, "serial": 1},
        "parallel-1": {"layers": every, "parallel": 1},
        "prefix-1": {"layers": every, "prefix": 1},
        "serial-48": {"layers": every, "serial": 48},
        "parallel-48": {"layers": every, "parallel": 48},
        "prefix-48": {"layers": every, "prefix": 48},
        "parallel-192-top3": {"layers": top3, "parallel": 192},
        "serial-24-prefix-24": {"layers": every, "serial": 24, "prefix": 24},
    }


def _budget(task: Any, examples: int, epochs: int) -> Any:
    from autopeft.train.budget import Budget

    val = min(400, len(task.train) // 4)
    return Budget(train_examples=min(examples, len(task.train) - val), val_examples=val, epochs=epochs, **COMMON)


_DATA: dict[tuple[str, str], Any] = {}


def _trial(base: Any, task: Any, config: Any, budget: Any, seed: int) -> Any:
    """One trial; every trial of a candidate and budget sees the same data split (data seed 0)."""
    from autopeft.train.data import prepare_data
    from autopeft.train.trainer import run_trial

    key = (task.spec.name, json.dumps(budget.to_dict(), sort_keys=True))
    if key not in _DATA:
        _DATA[key] = prepare_data(task, base.tokenizer, budget, seed=0)
    return run_trial(base, _DATA[key], config, budget, seed=seed)


def find_budget(base: Any, task: Any, biggest: Any) -> dict[str, Any]:
    """The candidate's budget by the rule of the module docstring, with the timings it was chosen on."""
    timings = {}
    first = _trial(base, task, biggest, _budget(task, EXAMPLES[0], EPOCHS[0]), seed=0)
    per_unit = first.train_seconds / (EXAMPLES[0] * EPOCHS[0])
    timings[f"{EXAMPLES[0]}x{EPOCHS[0]}"] = first.train_seconds + first.eval_seconds
    options = sorted(((n, e) for n in EXAMPLES for e in EPOCHS), key=lambda b: (b[0] * b[1], b[0]), reverse=True)
    fixed = first.eval_seconds
    for examples, epochs in options:
        if per_unit * examples * epochs + fixed > LIMIT_SECONDS:
            continue
        key = f"{examples}x{epochs}"
        if key not in timings:
            result = _trial(base, task, biggest, _budget(task, examples, epochs), seed=0)
            timings[key] = result.train_seconds + result.eval_seconds
        if timings[key] <= LIMIT_SECONDS:
            return {"train_examples": examples, "epochs": epochs, "timings": timings}
    return {"train_examples": EXAMPLES[0], "epochs": EPOCHS[0], "timings": timings, "over_limit": True}


def _done(path: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    out = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            out[(row["task"], row["config"], row["seed"])] = row
    return out


def run(candidates: tuple[str, ...]) -> None:
    from autopeft.models import BaseModel
    from autopeft.space import PeftConfig
    from autopeft.tasks import load_task

    OUT.mkdir(parents=True, exist_ok=True)
    base = BaseModel.load("minilm")
    layers, hidden = base.config.num_hidden_layers, base.config.hidden_size
    budgets_path = OUT / "budgets.json"
    budgets = json.loads(budgets_path.read_text()) if budgets_path.is_file() else {}
    ledger = OUT / "pilot.jsonl"
    done = _done(ledger)
    biggest = PeftConfig(layers=(True,) * layers, serial=hidden, parallel=hidden, prefix=hidden)
    for name in candidates:
        task = load_task(name)
        if name not in budgets:
            budgets[name] = find_budget(base, task, biggest)
            budgets_path.write_text(json.dumps(budgets, indent=1) + "\n")
            print(f"{name}: budget {budgets[name]}", flush=True)
        budget = _budget(task, budgets[name]["train_examples"], budgets[name]["epochs"])
        for label, spec in pilot_configs(layers, hidden).items():
            for seed in SEEDS:
                if (name, label, seed) in done:
                    continue
                result = _trial(base, task, PeftConfig(**spec), budget, seed)
                row = {"task": name, "config": label, "seed": seed, "status": result.status, "score": result.score,
                       "metric": result.metric, "seconds": result.train_seconds + result.eval_seconds}  # fmt: skip
                with ledger.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                print(f"{name} {label} seed {seed}: {result.metric} {result.score}", flush=True)


def analyse() -> dict[str, Any]:
    """Signal ratio per candidate with all 16 trials, and the choice (see the module docstring)."""
    done = _done(OUT / "pilot.jsonl")
    ratios = {}
    for name in CANDIDATES:
        rows = [r for (task, _, _), r in done.items() if task == name]
        configs = sorted({r["config"] for r in rows})
        if len(rows) < 8 * len(SEEDS) or len(configs) < 8:
            continue
        scores = np.array([[done[(name, c, s)]["score"] or 0.0 for s in SEEDS] for c in configs])
        between = float(np.std(scores.mean(axis=1), ddof=1))
        within = float(math.sqrt(np.mean(np.var(scores, axis=1, ddof=1))))
        ratios[name] = {"between_sd": between, "within_sd": within, "ratio": between / within if within else math.inf,
                        "means": dict(zip(configs, scores.mean(axis=1).tolist(), strict=True))}  # fmt: skip
    ranked = sorted(ratios, key=lambda n: ratios[n]["ratio"], reverse=True)
    chosen = ranked[0] if ranked and ratios[ranked[0]]["ratio"] >= 2 and len(ratios) == len(CANDIDATES) else None
    return {"ratios": ratios, "complete": len(ratios) == len(CANDIDATES), "chosen": chosen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyse", action="store_true", help="compute the ratios from what has run")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    args = parser.parse_args(argv)
    if not args.analyse:
        run(tuple(args.candidates.split(",")))
    record = analyse()
    for name, row in record["ratios"].items():
        print(f"{name:14s} ratio {row['ratio']:.2f} (between {row['between_sd']:.4f}, within {row['within_sd']:.4f})")
    print(f"chosen: {record['chosen']} (all candidates done: {record['complete']})")
    (OUT / "pilot.json").write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
