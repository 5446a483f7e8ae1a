"""The budget of one trial: how much data, how many steps, which optimiser settings."""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from numbers import Real
from typing import Any

from autopeft.errors import UserError

#: Above this peak learning rate a trial is almost surely wasted (1e6 trained MiniLM at chance level in the
#: drill of issue 19), yet a user may mean it: a warning, not an error.
LEARNING_RATE_WARN_ABOVE = 1.0

#: The precisions a trial can train in (see :attr:`Budget.dtype`).
DTYPES = ("fp32", "bf16", "fp16")

#: The numeric fields, each with a value to suggest: each must be a finite number (inf and nan are refused).
_NUMERIC_EXAMPLES = {
    "train_examples": 2000,
    "val_examples": 500,
    "epochs": 1,
    "max_steps": 500,
    "max_length": 128,
    "batch_size": 16,
    "learning_rate": 0.001,
    "warmup_ratio": 0.06,
    "weight_decay": 0.01,
    "evals_per_epoch": 1,
    "probe_examples": 200,
    "eval_batch_size": 128,
}


@dataclass(frozen=True)
class Budget:
    """Explicit training budget of a trial. A bad value raises :class:`~autopeft.errors.UserError` naming
    its field.

    Args:
        train_examples: training examples drawn (seeded, stratified) from the task's training split,
            after the validation examples are carved out; None = all the rest.
        val_examples: examples carved from the training split to score the search (the dev split is
            kept for reporting and never used by the search).
        epochs: passes over the training examples (may be fractional).
        max_steps: optimiser steps; overrides ``epochs`` when set.
        max_length: maximum sequence length in tokens (longer inputs are truncated).
        batch_size: training batch size (examples).
        learning_rate: peak AdamW learning rate (linear warm-up, then linear decay to 0).
        warmup_ratio: fraction of steps spent warming up, in [0, 1).
        weight_decay: AdamW weight decay.
        evals_per_epoch: validation evaluations per epoch (the last step is always evaluated).
        probe_examples: evaluations before the last score only this many validation examples (a
            fixed random subset, :meth:`~autopeft.train.data.PreparedData.probe`), so that the learning
            curve early stopping reads is cheap; the last evaluation, the trial's score, always scores
            every validation example. None = every evaluation scores all of them.
        eval_batch_size: batch size of evaluation (inference only, so it can be large).
        group_by_length: batch training examples of similar length (shuffled, then sorted by length
            within windows of :data:`~autopeft.train.data.GROUP_WINDOW` batches, and the batches
            shuffled), so that little padding is computed: on GLUE with dynamic padding, random
            batches compute 1.4-2.6x the real tokens, grouped ones 1.05-1.24x; a demo trial takes
            half the time at the same score.
        standardise_targets: regression tasks train on targets standardised with the training
            examples' mean and standard deviation, and the head is rescaled after training so that
            the model predicts in the task's own units (classification is unaffected). Measured on
            STS-B with MiniLM (1,000 examples, 2 epochs, lr 1e-3): with raw 0-5 targets, prefix-tuning
            and the parallel adapter collapse to a constant prediction (dev Spearman 0.04, predictions'
            std 0.0006-0.005); standardised, they reach 0.57 and 0.29, while Houlsby's adapter is
            unchanged (0.71 and 0.72).
        dtype: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: the forward pass runs under autocast at
            that precision (weights and optimiser state stay fp32). ``fp16`` needs CUDA (with loss
            scaling); ``bf16`` runs on CUDA or, slowly, on the CPU.
        gradient_checkpointing: recompute activations in the backward pass instead of keeping them
            (less memory for long inputs and large models, about a third more compute).
    """

    train_examples: int | None = 2000
    val_examples: int = 500
    epochs: float = 1.0
    max_steps: int | None = None
    max_length: int = 128
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.0
    evals_per_epoch: int = 1
    probe_examples: int | None = None
    eval_batch_size: int = 128
    group_by_length: bool = True
    standardise_targets: bool = True
    dtype: str = "fp32"
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        for name, example in _NUMERIC_EXAMPLES.items():
            value = getattr(self, name)
            if value is None:
                continue  # the fields that allow None say so below
            # bool is a Real, but `learning_rate=True` is a mistake; inf and nan pass `> 0` or `>= 0`
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise UserError(name, value, "must be a finite number", f"give `{name}` a number, e.g. {example}")

        def positive(name: str, value: Any, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if value is None or isinstance(value, bool) or not value > 0:
                raise UserError(name, value, "must be a positive number", f"give `{name}` a value above 0")

        positive("train_examples", self.train_examples, allow_none=True)
        positive("val_examples", self.val_examples)
        positive("epochs", self.epochs)
        positive("max_steps", self.max_steps, allow_none=True)
        positive("max_length", self.max_length)
        positive("batch_size", self.batch_size)
        positive("learning_rate", self.learning_rate)
        positive("evals_per_epoch", self.evals_per_epoch)
        positive("probe_examples", self.probe_examples, allow_none=True)
        positive("eval_batch_size", self.eval_batch_size)
        if self.dtype not in DTYPES:
            raise UserError("dtype", self.dtype, "is not a precision autopeft trains in", f"use one of {DTYPES}")
        for name in ("group_by_length", "standardise_targets", "gradient_checkpointing"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(name, getattr(self, name), "must be on or off", "use on or off")
        if not 0 <= self.warmup_ratio < 1:
            raise UserError("warmup_ratio", self.warmup_ratio, "must be in [0, 1)", "use e.g. 0.06")
        if self.weight_decay < 0:
            raise UserError("weight_decay", self.weight_decay, "must be >= 0", "use e.g. 0.0 or 0.01")
        for name in (
            "train_examples",
            "val_examples",
            "max_steps",
            "max_length",
            "batch_size",
            "evals_per_epoch",
            "probe_examples",
            "eval_batch_size",
        ):
            value = getattr(self, name)
            if value is not None and int(value) != value:
                raise UserError(name, value, "must be a whole number", f"give `{name}` an integer")
        if self.learning_rate > LEARNING_RATE_WARN_ABOVE:
            warnings.warn(
                f"learning_rate={self.learning_rate:g} is above {LEARNING_RATE_WARN_ABOVE:g}: training will most "
                "likely diverge or stay at chance level (PEFT modules train well at 1e-4 to 1e-2)",
                UserWarning,
                stacklevel=3,  # the caller that built the budget (past the dataclass's __init__)
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Budget:
        """A saved budget; a field it lacks takes the constructor's default."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UserError("budget", sorted(unknown), "unknown budget fields", f"use only {sorted(known)}")
        return cls(**data)
