"""Every module kind on a GPU, for three kinds of model (issue 15, item 6): a tiny Llama with grouped-query
attention, a tiny T5 (encoder-decoder) and MiniLM, each built with all five module kinds in every layer
and trained for a few steps on the toy task, in fp32 and bf16: seconds per step and peak GPU memory.

On a lent device (after ``python bench/device/pack_sst2.py`` here, carrying ``.gpu``):
    source bench/device/unpack.sh
    python3 bench/device/families_cuda.py --model "$G/model" --out "$OUT/families_cuda.json"
Here, as a check that it runs: ``.venv/bin/python bench/device/families_cuda.py --device cpu --steps 2``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.conftest: the tiny configs and toy task


def main() -> None:
    from tests.conftest import tiny_family_config, toy_task
    from transformers import AutoTokenizer

    from autopeft.build import sites_of
    from autopeft.models import BaseModel, resolve_model
    from autopeft.space import PeftConfig
    from autopeft.train.budget import Budget
    from autopeft.train.data import prepare_data
    from autopeft.train.trainer import run_trial

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="minilm", help="MiniLM (the packed folder on a device machine)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("bench/results/families_cuda.json"))
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(args.model))
    bases = {
        "llama (GQA, tiny)": BaseModel.from_config(tiny_family_config("llama", layers=4, hidden=256), tokenizer),
        "t5 (tiny)": BaseModel.from_config(tiny_family_config("t5", layers=4, hidden=256), tokenizer),
        "minilm": BaseModel.load(args.model),
    }
    rows = []
    for name, base in bases.items():
        layers = (True,) * sites_of(base.backbone).num_layers
        config = PeftConfig(layers=layers, serial=24, parallel=24, prefix=8, lora=8, ia3=True)
        for dtype in ("fp32", "bf16"):
            budget = Budget(train_examples=512, val_examples=64, max_steps=args.steps, max_length=64, dtype=dtype)
            data = prepare_data(toy_task(600), base.tokenizer, budget, seed=0)
            t0 = time.perf_counter()
            result = run_trial(base, data, config, budget, seed=0, device=args.device)
            rows.append({
                "model": name, "dtype": dtype, "status": result.status, "error": result.error,
                "seconds_per_step": result.train_seconds / args.steps, "wall_seconds": time.perf_counter() - t0,
                "peak_memory_mb": result.peak_memory_mb, "score": result.score, "params_pct": result.params_pct,
            })  # fmt: skip
            r = rows[-1]
            print(f"{name:<20} {dtype}  {r['status']:<9} {r['seconds_per_step'] * 1000:8.1f} ms/step  "
                  f"{r['peak_memory_mb']:8.0f} MiB  score {r['score']}", flush=True)  # fmt: skip
    meta = {"device": args.device, "torch": torch.__version__, "steps": args.steps}
    if args.device.startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name(0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
