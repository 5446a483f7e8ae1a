"""Trial throughput: tokens/s, FLOP/s against the machine's own matmul peak, and seconds per trial of
the project's trial loop against a straightforward reference loop.

Three parts, all in one run (the machine is shared and noisy: compare rows of one run only):

1. **Peak**: fp32 matrix products (``n x n``, the same threads/device as the rest), best of a few; FLOP/s.
2. **Steps** (per task and configuration): training steps at batch 16 with inputs of the task's real
   examples truncated/padded to exactly ``--length`` tokens (default 128), then one evaluation pass
   over the validation examples. Reported: training tokens/s (real, non-pad tokens), achieved training
   FLOP/s (FLOPs of one step counted by ``torch.utils.flop_counter`` on the padded shape, divided by
   the measured step time) as a fraction of the peak, and evaluation tokens/s. Tasks differ by length
   (SST-2 short single sentences, MRPC and RTE sentence pairs). ``full`` is full fine-tuning (every
   weight trainable, no PEFT module).
3. **Trials** (SST-2, the demo's budget): whole trials, wall time from nothing loaded to the score, of
   the project's loop (:func:`autopeft.train.run_trial` on a model and data loaded once per search)
   and of a reference loop written the plain way (model and tokenizer loaded from disk for every
   trial, every example padded to the maximum length, evaluation batches of the training batch size
   in the data's order). Both train the same configuration on the same examples for the same steps
   with the same optimiser and schedule; both scores are reported (they differ by the data order and
   the padding, so expect a difference of the order of the seed noise, not zero).

    python bench/throughput.py [--device cpu|cuda] [--threads 2] [--tasks sst2,mrpc,rte]
        [--configs full,serial,parallel,prefix,lora,ia3,paper-mid,top3-parallel] [--steps 20]
        [--trial-configs parallel,paper-mid] [--skip-trials]

Prints tables and writes ``bench/results/throughput_<device>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Named configurations (MiniLM: 6 layers, hidden 384). ``full`` is full fine-tuning.
CONFIGS: dict[str, dict[str, Any]] = {
    "full": {},
    "serial": {"layers": "all", "serial": 48},
    "parallel": {"layers": "all", "parallel": 48},
    "prefix": {"layers": "all", "prefix": 24},
    "lora": {"layers": "all", "lora": 8},
    "ia3": {"layers": "all", "ia3": True},
    "paper-mid": {"layers": "all", "serial": 12, "parallel": 48, "prefix": 24},
    "top3-parallel": {"layers": "top3", "parallel": 96},
}
#: The demo's trial budget (Makefile), the one that part 3 times.
DEMO = {"train_examples": 1000, "val_examples": 400, "max_length": 64, "epochs": 1.0}
TASKS = {"sst2": "glue/sst2", "mrpc": "glue/mrpc", "rte": "glue/rte"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, n: int, repeats: int = 5) -> float:
    """Best fp32 FLOP/s of an ``n x n`` matrix product on ``device``."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = math.inf
    for _ in range(repeats + 1):  # the first is a warm-up
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / 4)
    return 2 * n**3 / best


def _config(name: str, n_layers: int):
    from autopeft.space import PeftConfig

    spec = dict(CONFIGS[name])
    where = spec.pop("layers")
    layers = [True] * n_layers if where == "all" else [i >= n_layers - 3 for i in range(n_layers)]
    return PeftConfig(layers=tuple(layers), **spec)


def _model(base, name: str, num_labels: int, seed: int, model_path: str) -> torch.nn.Module:
    if name == "full":
        from transformers import AutoModelForSequenceClassification

        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=num_labels)
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from autopeft.build import build_model

    return build_model(
        base.backbone, _config(name, base.config.num_hidden_layers), num_labels=num_labels, seed=seed
    ).model


def _fixed_batches(data, length: int, batch_size: int, count: int, pad: int) -> list[dict[str, torch.Tensor]]:
    """``count`` batches of real examples, each truncated or padded to exactly ``length`` tokens."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        idx = rng.choice(len(data.train), size=batch_size, replace=False)
        batch: dict[str, torch.Tensor] = {}
        for key in data.train.features[0]:
            fill = pad if key == "input_ids" else 0
            rows = [(data.train.features[i][key] + [fill] * length)[:length] for i in idx]
            batch[key] = torch.tensor(rows, dtype=torch.long)
        batch["labels"] = torch.as_tensor(data.train.labels[idx]).long()
        out.append(batch)
    return out


def step_throughput(model, batches, device: torch.device, lr: float = 1e-3, compiled: bool = False) -> dict[str, float]:
    """Training steps over ``batches`` (fixed shape): seconds per step, real tokens/s, FLOP/s.

    ``compiled``: the model's forward runs through ``torch.compile`` (inductor; one shape, so one
    compilation, timed as ``compile_seconds`` on the first warm-up step); FLOPs are counted eagerly.
    """
    from torch.utils.flop_counter import FlopCounterMode

    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    forward = model

    def step(batch):
        b = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        loss = torch.nn.functional.cross_entropy(forward(**b).logits, batch["labels"].to(device))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    with FlopCounterMode(display=False) as counter:
        step(batches[0])
    flops = counter.get_total_flops()
    compile_seconds = 0.0
    if compiled:
        forward = torch.compile(model)
        _sync(device)
        t0 = time.perf_counter()
        step(batches[1])
        _sync(device)
        compile_seconds = time.perf_counter() - t0
    for b in batches[1:3]:  # warm-up
        step(b)
    _sync(device)
    t0 = time.perf_counter()
    tokens = 0
    for b in batches[3:]:
        step(b)
        tokens += int(b["attention_mask"].sum())
    _sync(device)
    seconds = (time.perf_counter() - t0) / (len(batches) - 3)
    return {
        "seconds_per_step": seconds,
        "train_tokens_per_second": tokens / (seconds * (len(batches) - 3)),
        "flops_per_step": float(flops),
        "train_flops_per_second": flops / seconds,
        "trainable_params": sum(p.numel() for p in params),
        "compile_seconds": compile_seconds,
    }


def eval_throughput(model, data, device: torch.device, batch_size: int = 128) -> float:
    """Real tokens/s of one evaluation pass of the project's evaluator over the validation examples."""
    from autopeft.train.trainer import evaluate

    evaluate(model, data, batch_size, device)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    evaluate(model, data, batch_size, device)
    _sync(device)
    return int(data.val.lengths.sum()) / (time.perf_counter() - t0)


def project_trial(model_name: str, task, config, budget, seed: int, device: str) -> dict[str, float]:
    """A whole trial of the project's loop, the model and data loaded once (as a search does; the
    load is timed apart since a search pays it once)."""
    from autopeft.models import BaseModel
    from autopeft.train.data import prepare_data
    from autopeft.train.trainer import run_trial

    t0 = time.perf_counter()
    base = BaseModel.load(model_name)
    data = prepare_data(task, base.tokenizer, budget, seed)
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run_trial(base, data, config, budget, seed=seed, device=device)
    if not result.ok:
        raise SystemExit(f"project trial failed: {result.error}")
    return {"seconds": time.perf_counter() - t0, "load_seconds": load, "score": float(result.score)}


def reference_trial(model_name: str, task, config, budget, seed: int, device: str) -> dict[str, float]:
    """The same trial written the plain way: everything loaded for the trial, static padding to the
    maximum length, evaluation batches of the training batch size in the data's order."""
    from transformers import get_linear_schedule_with_warmup

    from autopeft.build import build_model
    from autopeft.models import BaseModel
    from autopeft.train.data import carve_splits

    t0 = time.perf_counter()
    base = BaseModel.load(model_name)
    train, val = carve_splits(task, budget, seed)

    def tensors(split):
        args = (list(split.text_a),) if split.text_b is None else (list(split.text_a), list(split.text_b))
        enc = base.tokenizer(
            *args, truncation=True, padding="max_length", max_length=budget.max_length, return_tensors="pt"
        )
        return dict(enc), torch.as_tensor(np.asarray(split.labels)).long()

    (x_train, y_train), (x_val, y_val) = tensors(train), tensors(val)
    model = build_model(base.backbone, config, num_labels=task.spec.num_labels, seed=seed).model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=budget.learning_rate, weight_decay=budget.weight_decay)
    steps_per_epoch = math.ceil(len(y_train) / budget.batch_size)
    total = max(1, math.ceil(steps_per_epoch * budget.epochs))
    sched = get_linear_schedule_with_warmup(opt, int(budget.warmup_ratio * total), total)
    gen = torch.Generator().manual_seed(seed)
    step = 0
    model.train()
    while step < total:
        order = torch.randperm(len(y_train), generator=gen)
        for i in range(0, len(order), budget.batch_size):
            idx = order[i : i + budget.batch_size]
            batch = {k: v[idx].to(device) for k, v in x_train.items()}
            loss = torch.nn.functional.cross_entropy(model(**batch).logits, y_train[idx].to(device))
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step >= total:
                break
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y_val), budget.batch_size):
            batch = {k: v[i : i + budget.batch_size].to(device) for k, v in x_val.items()}
            correct += int((model(**batch).logits.argmax(-1).cpu() == y_val[i : i + budget.batch_size]).sum())
    return {"seconds": time.perf_counter() - t0, "score": correct / len(y_val)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--data-dir", default=os.environ.get("AUTOPEFT_DATA", "../shared/data"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--tasks", default="sst2,mrpc,rte")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per configuration (+3)")
    parser.add_argument("--peak-n", type=int, default=None, help="matrix size of the peak (default 2048 CPU, 8192 GPU)")
    parser.add_argument(
        "--step-variants",
        default="eager",
        help="eager and/or compiled (torch.compile) training steps, e.g. eager,compiled",
    )
    parser.add_argument("--trial-configs", default="parallel,paper-mid")
    parser.add_argument("--trial-val-examples", type=int, default=DEMO["val_examples"])
    parser.add_argument("--trial-seeds", default="0", help="seeds of every trial variant, e.g. 0,1,2")
    parser.add_argument(
        "--trial-variants",
        default="project,project-random-batches,reference",
        help="which trial loops to run (scores only need the first two)",
    )
    parser.add_argument(
        "--group-window", type=int, default=None, help="batches per length-grouping window (default: the project's)"
    )
    parser.add_argument("--skip-trials", action="store_true")
    parser.add_argument("--skip-steps", action="store_true", help="only the trials (part 3)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    step_variants = args.step_variants.split(",")
    for variant in step_variants:  # before the minutes of loading and measuring
        if variant not in ("eager", "compiled"):
            raise SystemExit(f"--step-variants: {variant!r} is not eager or compiled")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    import autopeft.train.data as train_data

    if args.group_window is not None:
        train_data.GROUP_WINDOW = args.group_window  # read at every call of train_batches
    print(f"length-grouping window: {train_data.GROUP_WINDOW} batches")
    from autopeft.models import BaseModel, resolve_model
    from autopeft.tasks import load_task
    from autopeft.train.budget import Budget
    from autopeft.train.data import prepare_data

    n = args.peak_n or (8192 if device.type == "cuda" else 2048)
    peak = matmul_peak(device, n)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"device {device} ({name}), {args.threads} threads; fp32 matmul peak {peak / 1e9:.1f} GFLOP/s (n={n})")
    base = BaseModel.load(args.model)
    model_path = resolve_model(args.model)
    rows = []
    print(f"\n{'task':6s} {'config':14s} {'trainable':>10s} {'train tok/s':>12s} {'GFLOP/s':>9s} "
          f"{'% peak':>7s} {'eval tok/s':>11s}")  # fmt: skip
    for task_key in [] if args.skip_steps else args.tasks.split(","):
        task = load_task(TASKS[task_key], args.data_dir)
        budget = Budget(train_examples=1000, val_examples=400, max_length=args.length)
        data = prepare_data(task, base.tokenizer, budget, 0)
        batches = _fixed_batches(data, args.length, args.batch_size, args.steps + 3, base.tokenizer.pad_token_id)
        for cfg in args.configs.split(","):
            for variant in step_variants:
                torch._dynamo.reset()  # a fresh compilation for every model
                model = _model(base, cfg, task.spec.num_labels, 0, model_path)
                step = step_throughput(model, batches, device, compiled=variant == "compiled")
                ev = eval_throughput(model, data, device)
                row = {"task": task_key, "config": cfg, "variant": variant, **step, "eval_tokens_per_second": ev}
                row["fraction_of_peak"] = step["train_flops_per_second"] / peak
                rows.append(row)
                gflops, pct = step["train_flops_per_second"] / 1e9, 100 * row["fraction_of_peak"]
                label = cfg if variant == "eager" else f"{cfg} (compiled, {step['compile_seconds']:.0f} s)"
                print(f"{task_key:6s} {label:14s} {step['trainable_params']:10,d} "
                      f"{step['train_tokens_per_second']:12,.0f} {gflops:9.1f} {pct:6.1f}% {ev:11,.0f}")  # fmt: skip
                del model
    trials = []
    if not args.skip_trials:
        task = load_task("glue/sst2", args.data_dir)
        budget = Budget(**{**DEMO, "val_examples": args.trial_val_examples})
        print(f"\ntrials on SST-2 at the demo budget {budget.to_dict()}")
        variants = {
            "project": lambda c, sd: project_trial(args.model, task, c, budget, sd, args.device),
            "project-random-batches": lambda c, sd: project_trial(
                args.model, task, c, dataclasses.replace(budget, group_by_length=False), sd, args.device
            ),
            "reference": lambda c, sd: reference_trial(args.model, task, c, budget, sd, args.device),
        }
        chosen = args.trial_variants.split(",")
        variants = {v: fn for v, fn in variants.items() if v in chosen}
        head = ("config", "seed", *(f"{v} s" for v in variants), *variants)
        print(" ".join(f"{h:>12s}" for h in head))
        for cfg in args.trial_configs.split(","):
            config = _config(cfg, base.config.num_hidden_layers)
            for seed in (int(x) for x in args.trial_seeds.split(",")):
                runs = {v: fn(config, seed) for v, fn in variants.items()}
                trials.append(
                    {
                        "config": cfg,
                        "seed": seed,
                        **runs,
                        **{
                            f"speedup_{'reference' if v == 'reference' else 'grouping'}": runs[v]["seconds"]
                            / runs["project"]["seconds"]
                            for v in runs
                            if v != "project"
                        },
                    }
                )
                cells = [f"{runs[v]['seconds']:12.1f}" for v in variants] + [
                    f"{runs[v]['score']:12.3f}" for v in variants
                ]
                print(f"{cfg:>12s} {seed:12d} " + " ".join(cells))
        if trials:
            print("\nmedian over configurations and seeds:")
            for key in ("speedup_reference", "speedup_grouping"):
                if key in trials[0]:
                    print(f"  {key}: {np.median([t[key] for t in trials]):.2f}x")
            for v in variants:
                scores = [t[v]["score"] for t in trials]
                print(f"  {v}: mean score {np.mean(scores):.4f} (n={len(scores)})")
    out = Path(args.out or Path(__file__).parent / "results" / f"throughput_{device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "device": str(device),
        "device_name": name,
        "threads": args.threads,
        "torch": torch.__version__,
        "peak_flops_per_second": peak,
        "peak_n": n,
        "length": args.length,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "rows": rows,
        "trials": trials,
        "trial_budget": {**DEMO, "val_examples": args.trial_val_examples},
        "load_average": os.getloadavg(),
        "group_window": train_data.GROUP_WINDOW,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
