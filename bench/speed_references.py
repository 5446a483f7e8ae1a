"""Trial speed against the references a user would otherwise run (issue 18, item 4).

One whole trial (SST-2 at the demo's budget: 1,000 training examples, 400 validation examples, length
64, batch 16, 1 epoch, lr 1e-3, warmup 6 %) of the same PEFT configuration, trained three ways on the
same examples, the backbone and the tokenised data loaded once (as any search loop would):

- ``autopeft``: the project's trial (:func:`autopeft.train.trainer.run_trial`: length-grouped batches,
  dynamic padding, evaluation batches of 128);
- ``dynamic``: the loop a user writes: a ``DataLoader`` of random batches padded per batch by
  ``transformers.DataCollatorWithPadding``, AdamW with the linear warmup schedule, evaluation batches
  of 128 padded the same way;
- ``trainer``: ``transformers.Trainer`` with the same collator, optimiser, schedule and batch sizes,
  no logging, saving or reporting.

Every loop builds the same modules on the same backbone (:func:`autopeft.build.build_model`), so what
differs is the loop alone. The three run in turn, ``--repeats`` times (default 3), per configuration;
reported per loop: the median and range of the trial's seconds (training + evaluation), the score,
training tokens (real and padded) and the real-token throughput, and utilisation: useful FLOP/s (FLOPs
per real token, counted by ``torch.utils.flop_counter`` on a batch at the median length, times the real
tokens trained) over the machine's fp32 matmul peak measured in the same run. Nothing else may train on
the machine meanwhile.

    .venv/bin/python bench/speed_references.py --out bench/results/speed_references.json
    .venv/bin/python bench/speed_references.py --plot   # redraw the PNG from the JSON, run nothing
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

BUDGET = {"train_examples": 1000, "val_examples": 400, "max_length": 64, "epochs": 1.0}
CONFIGS: dict[str, dict[str, Any]] = {
    "parallel-48": {"parallel": 48},
    "paper-mid": {"serial": 12, "parallel": 48, "prefix": 24},
}
LOOPS = ("autopeft", "dynamic", "trainer")


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """fp32 FLOP/s of an ``n x n`` matrix product on this process's threads, best of ``repeats``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def _features(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tokenised training and validation examples as the dicts a collator takes (labels included)."""
    train = [{**f, "labels": int(y)} for f, y in zip(data.train.features, data.train.labels, strict=True)]
    val = [{**f, "labels": int(y)} for f, y in zip(data.val.features, data.val.labels, strict=True)]
    return train, val


def _schedule(optimiser: torch.optim.Optimizer, budget: Any, steps: int) -> Any:
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimiser, int(budget.warmup_ratio * steps), steps)


def _accuracy(model: torch.nn.Module, val: list[dict[str, Any]], collator: Any, batch: int) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(val), batch):
            inputs = collator(val[i : i + batch])
            labels = inputs.pop("labels")
            correct += int((model(**inputs).logits.argmax(-1) == labels).sum())
    return correct / len(val)


def dynamic_trial(base: Any, data: Any, config: Any, budget: Any, seed: int) -> dict[str, Any]:
    """The user's loop (see the module): random batches, per-batch padding."""
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    from autopeft.build import build_model

    train, val = _features(data)
    collator = DataCollatorWithPadding(base.tokenizer)
    t0 = time.perf_counter()
    built = build_model(base.backbone, config, num_labels=data.spec.num_labels, seed=seed)
    try:
        model = built.model
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=budget.learning_rate, weight_decay=budget.weight_decay)
        loader = DataLoader(train, batch_size=budget.batch_size, shuffle=True, collate_fn=collator,
                            generator=torch.Generator().manual_seed(seed))  # fmt: skip
        steps = math.ceil(len(loader) * budget.epochs)
        schedule = _schedule(optimiser, budget, steps)
        real = padded = 0
        model.train()
        for step, batch in enumerate(loader):
            if step >= steps:
                break
            real += int(batch["attention_mask"].sum())
            padded += batch["attention_mask"].numel()
            model(**batch).loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
        score = _accuracy(model, val, collator, budget.eval_batch_size)
    finally:
        built.release()
    return {"seconds": time.perf_counter() - t0, "score": score, "real_tokens": real, "padded_tokens": padded}


def trainer_trial(base: Any, data: Any, config: Any, budget: Any, seed: int, scratch: Path) -> dict[str, Any]:
    """``transformers.Trainer`` with the user's collator (see the module)."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from autopeft.build import build_model

    train, val = _features(data)
    collator = DataCollatorWithPadding(base.tokenizer)
    counts = {"real": 0, "padded": 0}

    def counting(features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = collator(features)
        counts["real"] += int(batch["attention_mask"].sum())
        counts["padded"] += batch["attention_mask"].numel()
        return batch

    # a float warmup_steps below 1 is a ratio of the total steps (transformers 5)
    args = TrainingArguments(
        output_dir=str(scratch), per_device_train_batch_size=budget.batch_size,
        per_device_eval_batch_size=budget.eval_batch_size, num_train_epochs=budget.epochs,
        learning_rate=budget.learning_rate, weight_decay=budget.weight_decay, warmup_steps=budget.warmup_ratio,
        lr_scheduler_type="linear", optim="adamw_torch", save_strategy="no", eval_strategy="no",
        logging_strategy="no", report_to=[], seed=seed, use_cpu=True, dataloader_num_workers=0,
        disable_tqdm=True,
    )  # fmt: skip
    t0 = time.perf_counter()
    built = build_model(base.backbone, config, num_labels=data.spec.num_labels, seed=seed)
    try:
        trainer = Trainer(model=built.model, args=args, train_dataset=train, data_collator=counting)
        trainer.train()
        real, padded = counts["real"], counts["padded"]
        score = _accuracy(built.model, val, collator, budget.eval_batch_size)
    finally:
        built.release()
    return {"seconds": time.perf_counter() - t0, "score": score, "real_tokens": real, "padded_tokens": padded}


def autopeft_trial(base: Any, data: Any, config: Any, budget: Any, seed: int) -> dict[str, Any]:
    """The project's trial; its real and padded token counts from its own batching."""
    from autopeft.train.data import train_batches
    from autopeft.train.trainer import run_trial

    t0 = time.perf_counter()
    result = run_trial(base, data, config, budget, seed=seed)
    seconds = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"autopeft trial failed: {result.error}")
    # the batches the trial trained on, drawn again from the same seed (one epoch)
    batches = train_batches(data.train, budget.batch_size, np.random.default_rng(seed), data.pad_token_id,
                            group_by_length=budget.group_by_length)  # fmt: skip
    masks = [batch["attention_mask"] for batch, _ in batches]
    real, padded = sum(int(m.sum()) for m in masks), sum(m.numel() for m in masks)
    return {"seconds": seconds, "score": float(result.score), "real_tokens": real, "padded_tokens": padded}


def flops_per_token(base: Any, data: Any, config: Any) -> float:
    """Training FLOPs (forward + backward) per token of a batch of 16 at the median training length."""
    from torch.utils.flop_counter import FlopCounterMode

    from autopeft.build import build_model

    length = int(np.median(data.train.lengths))
    built = build_model(base.backbone, config, num_labels=data.spec.num_labels, seed=0)
    try:
        ids = torch.full((16, length), 1000, dtype=torch.long)
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.zeros(16, dtype=torch.long)}
        with FlopCounterMode(display=False) as counter:
            built.model(**batch).loss.backward()
        flops = counter.get_total_flops()
    finally:
        built.release()
    return flops / (16 * length)


def draw(record: dict[str, Any], path: Path) -> None:
    """Per configuration: every repeat's trial seconds per loop (dots, the median a bar), and the real-token
    utilisation of the fp32 matmul peak beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(record["configs"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(LOOPS)
    for j, loop in enumerate(LOOPS):
        x = np.arange(len(names)) + (j - (len(LOOPS) - 1) / 2) * width
        for ax, field in zip(axes, ("seconds", "utilisation"), strict=True):
            per = [[r[field] * (100 if field == "utilisation" else 1) for r in record["configs"][n]["runs"][loop]]
                   for n in names]  # fmt: skip
            ax.bar(x, [statistics.median(v) for v in per], width, label=loop, alpha=0.6)
            for xi, v in zip(x, per, strict=True):
                ax.scatter([xi] * len(v), v, color="black", s=8, zorder=3)
    for ax, label in zip(axes, ("seconds per trial (training + evaluation)", "useful FLOP/s on real tokens, % of peak"),
                         strict=True):  # fmt: skip
        ax.set_xticks(np.arange(len(names)), names)
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle(f"SST-2 trial at the demo budget, {record['threads']} threads: bars the median, dots the repeats")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "speed_references.json"))
    parser.add_argument("--plot", action="store_true", help="draw the PNG beside --out from its JSON; run nothing")
    args = parser.parse_args(argv)
    if args.plot:
        draw(json.loads(Path(args.out).read_text()), Path(args.out).with_suffix(".png"))
        print(f"wrote {Path(args.out).with_suffix('.png')}")
        return 0
    torch.set_num_threads(args.threads)
    import tempfile

    from autopeft.models import BaseModel
    from autopeft.space import PeftConfig
    from autopeft.tasks import load_task
    from autopeft.train.budget import Budget
    from autopeft.train.data import prepare_data

    budget = Budget(**BUDGET)
    task = load_task("glue/sst2")
    base = BaseModel.load("minilm")
    data = prepare_data(task, base.tokenizer, budget, seed=0)
    layers = base.config.num_hidden_layers
    peak = matmul_peak()
    print(f"fp32 matmul peak {peak / 1e9:.1f} GFLOP/s on {args.threads} threads")
    scratch = Path(tempfile.mkdtemp(prefix="speed-refs-"))
    record: dict[str, Any] = {"budget": BUDGET, "threads": args.threads, "peak_flops": peak, "configs": {}}
    for name in args.configs.split(","):
        config = PeftConfig(layers=(True,) * layers, **CONFIGS[name])
        per_token = flops_per_token(base, data, config)
        runs: dict[str, list[dict[str, Any]]] = {loop: [] for loop in LOOPS}
        for repeat in range(args.repeats):
            for loop in LOOPS:
                if loop == "autopeft":
                    row = autopeft_trial(base, data, config, budget, seed=repeat)
                elif loop == "dynamic":
                    row = dynamic_trial(base, data, config, budget, seed=repeat)
                else:
                    row = trainer_trial(base, data, config, budget, seed=repeat, scratch=scratch)
                row["useful_flops_per_second"] = per_token * row["real_tokens"] / row["seconds"]
                row["utilisation"] = row["useful_flops_per_second"] / peak
                runs[loop].append(row)
                print(f"{name} {loop:8s} repeat {repeat}: {row['seconds']:.1f} s, score {row['score']:.4f}", flush=True)
        summary = {}
        for loop, rows in runs.items():
            seconds = [r["seconds"] for r in rows]
            summary[loop] = {
                "median_seconds": statistics.median(seconds),
                "range_seconds": [min(seconds), max(seconds)],
                "scores": [r["score"] for r in rows],
                "median_utilisation": statistics.median(r["utilisation"] for r in rows),
                "real_tokens": rows[0]["real_tokens"],
                "padded_tokens": [r["padded_tokens"] for r in rows],
            }
        for loop in ("dynamic", "trainer"):
            summary[loop]["autopeft_speedup"] = summary[loop]["median_seconds"] / summary["autopeft"]["median_seconds"]
        record["configs"][name] = {"flops_per_token": per_token, "runs": runs, "summary": summary}
        print(f"\n{name}: median seconds (range), utilisation on real tokens, speed-up of autopeft's loop")
        for loop, row in summary.items():
            lo, hi = row["range_seconds"]
            speedup = f"{row['autopeft_speedup']:.2f}x" if "autopeft_speedup" in row else "-"
            print(
                f"  {loop:8s} {row['median_seconds']:6.1f} s ({lo:.1f}-{hi:.1f})  "
                f"{100 * row['median_utilisation']:5.1f} %  {speedup}"
            )
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    draw(record, Path(args.out).with_suffix(".png"))
    print(f"wrote {args.out} and its PNG")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
