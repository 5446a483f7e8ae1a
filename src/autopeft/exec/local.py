"""Run trials in this process, one at a time, on every core it owns."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

from autopeft.exec.base import Executor, TrialRequest
from autopeft.models import BaseModel
from autopeft.records.callbacks import ProgressFn, StepFn, StopFn
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig
from autopeft.train.budget import Budget
from autopeft.train.data import PreparedData
from autopeft.train.trainer import run_trial


class LocalExecutor(Executor):
    """In-process executor: the backbone and tokenised data are loaded once and shared by all trials.

    Args:
        base: the pretrained backbone.
        data: tokenised training and validation data.
        budget: the trial budget.
        device: ``"cpu"``, ``"cuda"``, ...
        threads: intra-op threads for torch (None = leave torch's default, one per core). One trial
            runs at a time: two multi-threaded trials on the same cores slow each other ~10x.
        progress: called after each evaluation of each trial.
        on_step: called after every optimiser step of each trial (live progress).
        stopper: early stopping: gives each trial's stop function from its configuration (None = every
            trial trains to the end of its budget).
    """

    slots = 1

    def __init__(
        self,
        base: BaseModel,
        data: PreparedData,
        budget: Budget,
        *,
        device: str = "cpu",
        threads: int | None = None,
        progress: ProgressFn | None = None,
        on_step: StepFn | None = None,
        stopper: Callable[[PeftConfig], StopFn] | None = None,
    ) -> None:
        self.base = base
        self.data = data
        self.budget = budget
        self.device = device
        self.progress = progress
        self.on_step = on_step
        self.stopper = stopper
        if threads is not None:
            torch.set_num_threads(threads)

    def run(self, requests: Sequence[TrialRequest]) -> Iterator[tuple[TrialRequest, TrialResult]]:
        for request in requests:
            result = run_trial(
                self.base,
                self.data,
                request.config,
                self.budget,
                seed=request.seed,
                device=self.device,
                progress=self.progress,
                on_step=self.on_step,
                should_stop=None if self.stopper is None else self.stopper(request.config),
            )
            yield request, result
