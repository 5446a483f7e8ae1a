"""Seed noise of a search's trials: retrain some of its configurations with other trial seeds.

A search runs every trial with the search seed, so its scores carry one draw of the training noise
(module initialisation, head, data order). This script retrains the first ``--configs`` complete
trials of a search directory with each of ``--seeds`` (same data split, same budget) and reports the
per-configuration standard deviation, their median and their root mean square. The median is the
noise level that the search-quality benchmark gives its surrogate problem: a configuration that
collapses to the majority class with one seed (it happens) inflates the root mean square with an
event that Gaussian noise does not describe.

    python bench/seed_noise.py runs/table-sst2 --configs 8 --seeds 1,2 [--threads 1]

Resumable: every finished trial is appended to ``DIR/seed_noise.jsonl`` and skipped when rerun.
Writes ``bench/results/seed_noise_<dir name>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="a search directory")
    parser.add_argument("--configs", type=int, default=8)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    import torch

    from autopeft.models import BaseModel
    from autopeft.space import PeftConfig
    from autopeft.study.search import open_results
    from autopeft.train.data import prepare_data
    from autopeft.train.trainer import run_trial

    if args.threads:
        torch.set_num_threads(args.threads)
    directory = Path(args.dir)
    settings, results = open_results(directory)
    chosen = [r for r in results if r.ok][: args.configs]
    seeds = [int(s) for s in args.seeds.split(",")]
    log_path = directory / "seed_noise.jsonl"
    done = {}
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            row = json.loads(line)
            done[(row["config"], row["seed"])] = row["score"]
    todo = [(r, s) for r in chosen for s in seeds if (PeftConfig.from_dict(r.config).key(), s) not in done]
    if todo:
        base = BaseModel.load(settings.model)
        data = prepare_data(settings.load_task(), base.tokenizer, settings.budget, settings.seed)
        for i, (r, seed) in enumerate(todo, 1):
            config = PeftConfig.from_dict(r.config)
            res = run_trial(base, data, config, settings.budget, seed=seed, device=settings.device)
            row = {"config": config.key(), "seed": seed, "score": res.score, "train_seconds": res.train_seconds}
            with log_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            done[(config.key(), seed)] = res.score
            print(f"[{i}/{len(todo)}] {config.describe()} seed {seed}: {res.score}", flush=True)

    rows = []
    for r in chosen:
        key = PeftConfig.from_dict(r.config).key()
        scores = [r.score] + [done[(key, s)] for s in seeds if done.get((key, s)) is not None]
        rows.append(
            {
                "config": PeftConfig.from_dict(r.config).describe(),
                "seeds": [settings.seed, *seeds],
                "scores": scores,
                "std": float(np.std(scores, ddof=1)),
            }
        )
        print(f"{rows[-1]['config']:55s} " + " ".join(f"{s:.4f}" for s in scores) + f"  std {rows[-1]['std']:.4f}")
    stds = [row["std"] for row in rows]
    pooled = float(np.sqrt(np.mean(np.square(stds))))
    median = float(np.median(stds))
    print(f"seed std over {len(rows)} configurations: median {median:.4f}, pooled (root mean square) {pooled:.4f}")
    out = Path(args.out or Path(__file__).parent / "results" / f"seed_noise_{directory.resolve().name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "dir": directory.name,
        "budget": settings.budget.to_dict(),
        "median_std": median,
        "pooled_std": pooled,
        "configs": rows,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
