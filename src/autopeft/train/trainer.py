"""One budgeted fine-tune of one configuration → :class:`TrialResult`.

Every trial of a search runs through :func:`run_trial`, in-process, with an explicit budget and seed.
"""

from __future__ import annotations

import contextlib
import math
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autopeft.build import BuiltModel, build_method, build_model
from autopeft.errors import TrialError
from autopeft.methods import Method
from autopeft.models import BaseModel
from autopeft.records.callbacks import ProgressFn, StepFn, StopFn
from autopeft.records.trial import Evaluation, TrialResult
from autopeft.space import PeftConfig
from autopeft.tasks import compute_metrics
from autopeft.train.budget import Budget
from autopeft.train.data import Encoded, PreparedData, eval_batches, train_batches
from autopeft.train.lm import (
    GENERATION_MARGIN,
    IGNORE,
    exact_match,
    greedy_completions,
    lm_forward,
    lm_loss,
    token_losses,
)

#: Called once training succeeded with the trained model, e.g. to save its modules and head.
TrainedFn = Callable[[BuiltModel], None]


class _PeakMemory:
    """Peak resident memory of this process during a block (MiB).

    On Linux the kernel's high-water mark is reset at the start (``/proc/self/clear_refs``), so the
    reading belongs to this trial alone; elsewhere it is the process's peak so far.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._reset = False

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._reset = True
        except OSError:
            self._reset = False

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if self._reset:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _precision(dtype: str, device: torch.device) -> tuple[Callable[[], Any], Any]:
    """``(autocast context factory, gradient scaler or None)`` for a budget's ``dtype`` on ``device``.

    Raises:
        TrialError: ``fp16`` off CUDA (CPU autocast has no fp16 loss scaling; settings refuse it earlier).
    """
    if dtype == "fp32":
        return contextlib.nullcontext, None
    if dtype == "fp16" and device.type != "cuda":
        raise TrialError(f"dtype fp16 needs a CUDA device (this trial runs on {device}); use bf16 or fp32")
    half = torch.bfloat16 if dtype == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == "fp16" else None
    return (lambda: torch.autocast(device_type=device.type, dtype=half)), scaler


def lr_factor(step: int, warmup: int, total: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) as a share of the peak: a linear warmup over
    ``warmup`` steps whose first step already trains (``1 / warmup``), then a linear decay to 0 at
    ``total``. (Hugging Face's ``get_linear_schedule_with_warmup`` starts at 0 instead.)"""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def learning_rate(config: PeftConfig | Method, budget: Budget) -> float:
    """The peak learning rate of a trial: the configuration's own when the search chose one
    (``--search-lr``; a picked configuration keeps it), else the budget's."""
    peft = config.config if isinstance(config, Method) else config
    if isinstance(peft, PeftConfig) and peft.learning_rate is not None:
        return peft.learning_rate
    return budget.learning_rate


def _checkpoint_activations(built: BuiltModel) -> None:
    """Gradient checkpointing for this trial (undone when the trial releases the model)."""
    model = built.model
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise TrialError(f"{type(model).__name__} does not support gradient checkpointing")
    # non-reentrant: gradients reach the PEFT modules although the frozen inputs need none
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    built.surgery.on_restore(model.gradient_checkpointing_disable)


def _loss(logits: torch.Tensor, labels: torch.Tensor, regression: bool) -> torch.Tensor:
    if regression:
        return F.mse_loss(logits.squeeze(-1), labels.float())
    return F.cross_entropy(logits, labels.long())


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    data: PreparedData,
    batch_size: int,
    device: torch.device,
    examples: Encoded | None = None,
    target_scale: tuple[float, float] | None = None,
) -> dict[str, float]:
    """All task metrics of ``model`` on ``examples`` (default: the whole validation split).

    ``target_scale``: ``(mean, std)`` of a model trained on standardised regression targets and not
    yet rescaled (:func:`rescale_head`); its predictions are mapped back to the task's units first.
    """
    model.eval()
    split = data.val if examples is None else examples
    if data.spec.is_lm:
        return evaluate_lm(model, data, batch_size, device, split)
    regression = data.spec.kind == "regression"
    preds = np.zeros(len(split), dtype=np.float64 if regression else np.int64)
    for idx, batch in eval_batches(split, batch_size, data.pad_token_id):
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        out = logits.squeeze(-1) if regression else logits.argmax(-1)
        preds[idx] = out.float().cpu().numpy() if regression else out.cpu().numpy()
    if regression and target_scale is not None:
        preds = preds * target_scale[1] + target_scale[0]
    return compute_metrics(data.spec, preds, split.labels)


def evaluate_lm(
    model: torch.nn.Module, data: PreparedData, batch_size: int, device: torch.device, split: Encoded
) -> dict[str, float]:
    """A causal-LM task's metrics on ``split`` (:mod:`autopeft.train.lm`): ``loss``, the mean
    cross-entropy per completion token (nats/token; lower is better), and, when the task scores it,
    ``exact_match`` of greedy completions (higher is better)."""

    total, count = 0.0, 0
    for _, batch in eval_batches(split, batch_size, data.pad_token_id):
        summed, tokens = token_losses(*lm_forward(model, {k: v.to(device) for k, v in batch.items()}))
        total += float(summed)
        count += tokens
    metrics = {"loss": total / max(count, 1)}
    if "exact_match" in data.spec.metrics:
        assert split.prompts is not None and split.targets is not None and data.tokenizer is not None
        longest = max(sum(1 for t in f["labels"] if t != IGNORE) for f in data.val.features)
        generated = greedy_completions(
            model, list(split.prompts), longest + GENERATION_MARGIN, data.end_token_id, data.pad_token_id, batch_size
        )
        texts = [data.tokenizer.decode(ids, skip_special_tokens=True) for ids in generated]
        metrics["exact_match"] = exact_match(texts, split.targets)
    return {name: metrics[name] for name in data.spec.metrics}


def target_scale(data: PreparedData, budget: Budget) -> tuple[float, float] | None:
    """``(mean, std)`` of the training targets when ``budget`` standardises those of a regression
    task (a constant target gets std 1); None otherwise."""
    if data.spec.kind != "regression" or not budget.standardise_targets:
        return None
    y = np.asarray(data.train.labels, dtype=np.float64)
    std = float(y.std())
    return float(y.mean()), std if std > 0 else 1.0


@torch.no_grad()
def rescale_head(built: BuiltModel, scale: tuple[float, float]) -> None:
    """Fold ``prediction * std + mean`` into the last linear layer of the task head, in place, so
    that a model trained on standardised targets predicts in the task's units (also once saved and
    loaded). A head without a bias (decoders' ``score``) cannot add the mean: a TrialError."""
    linear = built.head_linear()
    mean, std = scale
    if linear.bias is None:
        if mean != 0.0:
            raise TrialError("the task head's last layer has no bias to add the targets' mean to")
        linear.weight.mul_(std)
        return
    linear.weight.mul_(std)
    linear.bias.mul_(std).add_(mean)


def eval_steps(steps_per_epoch: int, total_steps: int, evals_per_epoch: int) -> set[int]:
    """The steps evaluated: ``evals_per_epoch`` evenly spaced in each epoch (the last at its end), and
    the last step. Even spacing by rounding, not a fixed stride: 63 steps and 4 evaluations are 16, 32,
    47, 63, where a stride of 63 // 4 = 15 gave 15, 30, 45, 60 and 63 (five, two of them 3 steps apart)."""
    steps = {total_steps}
    for epoch in range(math.ceil(total_steps / steps_per_epoch)):
        for k in range(1, evals_per_epoch + 1):
            step = epoch * steps_per_epoch + max(1, round(k * steps_per_epoch / evals_per_epoch))
            if step <= total_steps:
                steps.add(step)
    return steps


def run_trial(
    base: BaseModel,
    data: PreparedData,
    config: PeftConfig | Method,
    budget: Budget,
    *,
    seed: int,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    on_step: StepFn | None = None,
    on_trained: TrainedFn | None = None,
    should_stop: StopFn | None = None,
) -> TrialResult:
    """Train ``config`` on ``data`` within ``budget`` and score it on the validation split.

    Never raises for a failing trial (bad configuration, NaN loss, out of memory): the result is then
    ``status="failed"`` with the error. ``KeyboardInterrupt`` propagates.

    Args:
        base: the pretrained backbone (changed for the trial and put back: :meth:`BuiltModel.release`).
        data: tokenised train/validation data.
        config: the PEFT configuration, or a :class:`~autopeft.methods.Method` (a baseline, full
            fine-tuning, a configuration picked from a search); the budget's learning rate applies
            to all of them (a method's own learning rate is the caller's to put in ``budget``).
        budget: steps, batch size, learning rate, evaluations.
        seed: seeds module initialisation, the head and the data order.
        device: where to train.
        progress: called after each evaluation.
        on_step: called after every optimiser step with (step, total steps).
        on_trained: called with the trained model once training succeeded (an error it raises makes
            the trial fail).
        should_stop: early stopping; when it returns a predicted score, the trial ends at once with
            status ``stopped``, its curve so far and that prediction.
    """
    device = torch.device(device)
    metric = data.spec.main_metric
    built: BuiltModel | None = None
    try:
        if isinstance(config, Method):
            built = build_method(base.backbone, config, num_labels=data.spec.num_labels, seed=seed)
        else:
            built = build_model(base.backbone, config, num_labels=data.spec.num_labels, seed=seed)
    except TrialError as exc:
        return TrialResult(
            config=config.to_dict(), status="failed", score=None, metric=metric, seed=seed, error=str(exc)
        )
    except Exception as exc:
        return TrialResult(
            config=config.to_dict(),
            status="failed",
            score=None,
            metric=metric,
            seed=seed,
            error=f"building the model failed: {type(exc).__name__}: {exc}",
        )
    counts = built.counts
    common = dict(
        config=config.to_dict(),
        metric=metric,
        seed=seed,
        peft_params=counts.peft,
        peft_params_train=counts.peft_train,
        head_params=counts.head,
        backbone_params=counts.backbone,
        params_pct=counts.pct,
    )
    model = built.model.to(device)
    memory = _PeakMemory(device)
    memory.start()
    curve: list[Evaluation] = []
    train_seconds = eval_seconds = 0.0
    tokens = 0
    try:
        if budget.gradient_checkpointing:
            _checkpoint_activations(built)
        autocast, scaler = _precision(budget.dtype, device)
        regression = data.spec.kind == "regression"
        lm = data.spec.is_lm
        scale = target_scale(data, budget)
        steps_per_epoch = math.ceil(len(data.train) / budget.batch_size)
        total = budget.max_steps or max(1, math.ceil(steps_per_epoch * budget.epochs))
        evals = eval_steps(steps_per_epoch, total, budget.evals_per_epoch)
        probe = data.probe(budget.probe_examples)
        params = [p for p in model.parameters() if p.requires_grad]
        lr = learning_rate(config, budget)
        optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=budget.weight_decay)
        warmup = int(budget.warmup_ratio * total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: lr_factor(s, warmup, total))
        rng = np.random.default_rng(seed)
        step = 0
        while step < total:
            batches = train_batches(
                data.train, budget.batch_size, rng, data.pad_token_id, group_by_length=budget.group_by_length
            )
            for batch, labels in batches:
                t0 = time.perf_counter()
                model.train()
                batch = {k: v.to(device) for k, v in batch.items()}
                if lm:
                    with autocast():
                        loss = lm_loss(model, batch)
                else:
                    with autocast():
                        logits = model(**batch).logits
                    labels = labels.to(device)
                    if scale is not None:
                        labels = (labels.float() - scale[0]) / scale[1]
                    loss = _loss(logits.float(), labels, regression)
                if not torch.isfinite(loss):
                    raise TrialError(f"loss is {loss.item()} at step {step + 1}")
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimiser)
                    scaler.update()
                else:
                    loss.backward()
                    optimiser.step()
                scheduler.step()
                optimiser.zero_grad(set_to_none=True)
                tokens += int(batch["attention_mask"].sum())
                step += 1
                train_seconds += time.perf_counter() - t0
                if on_step is not None:
                    on_step(step, total)
                if step in evals:
                    t0 = time.perf_counter()
                    scored = data.val if step >= total else probe
                    metrics = evaluate(model, data, budget.eval_batch_size, device, scored, scale)
                    seconds = time.perf_counter() - t0
                    eval_seconds += seconds
                    curve.append(
                        Evaluation(
                            step,
                            step / steps_per_epoch,
                            float(metrics[metric]),
                            metrics,
                            examples=len(scored),
                            train_seconds=train_seconds,
                            seconds=seconds,
                        )
                    )
                    if progress is not None:
                        progress(step, total, float(metrics[metric]))
                    if should_stop is not None and step < total:
                        predicted = should_stop(tuple(curve), total)
                        if predicted is not None:
                            return TrialResult(
                                status="stopped",
                                score=curve[-1].score,
                                metrics=curve[-1].metrics,
                                curve=tuple(curve),
                                train_seconds=train_seconds,
                                eval_seconds=eval_seconds,
                                tokens_per_second=tokens / train_seconds if train_seconds > 0 else 0.0,
                                peak_memory_mb=memory.peak_mb(),
                                predicted_score=float(predicted),
                                stopped_at=step / total,
                                **common,
                            )
                if step >= total:
                    break
        last = curve[-1]
        if not math.isfinite(last.score):
            raise TrialError(f"validation {metric} is {last.score}")
        if scale is not None:
            rescale_head(built, scale)
        if on_trained is not None:
            on_trained(built)
        return TrialResult(
            status="complete",
            score=last.score,
            metrics=last.metrics,
            curve=tuple(curve),
            train_seconds=train_seconds,
            eval_seconds=eval_seconds,
            tokens_per_second=tokens / train_seconds if train_seconds > 0 else 0.0,
            peak_memory_mb=memory.peak_mb(),
            **common,
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if isinstance(exc, TrialError):
            error = str(exc)
        elif isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
            error = f"out of memory: {exc}"
        else:
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        return TrialResult(
            status="failed",
            score=None,
            curve=tuple(curve),
            train_seconds=train_seconds,
            eval_seconds=eval_seconds,
            peak_memory_mb=memory.peak_mb(),
            error=error,
            **common,
        )
    finally:
        if built is not None:
            built.release()
        del model, built
