"""Training-step time of prefix-tuning with the prefix computed once per batch vs. once per example.

Usage: .venv/bin/python bench/prefix_sharing.py [--out bench/results/prefix_sharing.json]

Prints a table (seconds per training step, both variants measured in this run, and their ratio) and
writes JSON. MiniLM, batch 16, random token ids of length 64, the prefix in all 6 layers.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from autopeft.build import build_model
from autopeft.models import BaseModel
from autopeft.space import PeftConfig


def step_seconds(base: BaseModel, config: PeftConfig, share: bool, steps: int, batch: int, length: int) -> float:
    model = build_model(base.backbone, config, num_labels=2, seed=0, share_prefix=share).model
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x = torch.randint(1000, 20000, (batch, length))
    mask = torch.ones_like(x)
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        model(input_ids=x, attention_mask=mask).logits.sum().backward()
        opt.step()
        opt.zero_grad()
        if i >= 2:  # warm-up steps excluded
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results/prefix_sharing.json")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    base = BaseModel.load("minilm")
    rows = []
    for prefix in (1, 12, 96, 384):
        config = PeftConfig(layers=(True,) * 6, prefix=prefix)
        # interleave the variants so machine noise hits both alike
        per_example = step_seconds(base, config, False, args.steps, 16, 64)
        shared = step_seconds(base, config, True, args.steps, 16, 64)
        rows.append(
            {"prefix": prefix, "per_example_s": per_example, "shared_s": shared, "speedup": per_example / shared}
        )
    print(f"{'prefix':>6}  {'per-example s/step':>18}  {'shared s/step':>13}  {'speed-up':>8}")
    for r in rows:
        print(f"{r['prefix']:>6}  {r['per_example_s']:>18.3f}  {r['shared_s']:>13.3f}  {r['speedup']:>7.2f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "batch": 16,
        "length": 64,
        "median_of_steps": args.steps,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
