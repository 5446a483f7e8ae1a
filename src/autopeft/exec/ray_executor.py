"""Run trials on Ray: several at once on this machine (a local Ray instance) or on a cluster.

One Ray actor per slot holds the backbone and the tokenised data and runs
:func:`~autopeft.train.trainer.run_trial` for each request it is given. The backbone and the data go to
Ray's object store once (``ray.put``) and each actor reads them from there once, when it starts: a
trial ships only its request (configuration, seed, trial number) and comes back as a
:class:`~autopeft.records.trial.TrialResult`. Results come back as they finish (``ray.wait``), so the
search refills a slot at once.

Faults: a worker process that dies mid-trial (killed, out of memory, its node lost) surfaces as a
Ray actor error; the trial runs once more, and a trial whose worker dies twice comes back ``failed``
with the error, and the search goes on. The slot gets a fresh actor while the cluster still has the
resources for every slot; a cluster that lost them (a node gone) loses the slot instead, and the retry
waits for the next free slot, so that no trial waits for resources that are gone. The executor never
holds more slots than the cluster can place (:meth:`RayExecutor.capacity`); with none left, the
search stops (:class:`~autopeft.errors.SearchFailed`) and the trials in flight run again on resume.
(Ray's own ``max_restarts`` counts restarts per actor, not per trial: one bad configuration would use
up the restarts of the slot it ran on, so the retry is done here, per trial.)

Ray is an optional dependency (``pip install 'autopeft[ray]'``), imported only in this module and
only when a Ray executor is made (:func:`require_ray`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from autopeft.errors import SearchFailed, UserError
from autopeft.exec.base import Executor, TrialRequest
from autopeft.models import BaseModel
from autopeft.records.callbacks import StopFn
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig
from autopeft.train.budget import Budget
from autopeft.train.data import PreparedData
from autopeft.train.trainer import run_trial

#: What makes `pip` install Ray with autopeft.
INSTALL_FIX = "install it with `pip install 'autopeft[ray]'`, or leave `workers` at 1 to run trials in this process"

#: How many times a trial runs at most when the worker process running it dies (the first run + retries).
ATTEMPTS = 2

#: The signature of what an actor runs for each trial: :func:`~autopeft.train.trainer.run_trial`'s.
TrialFn = Callable[..., TrialResult]


def require_ray(field: str, value: Any) -> Any:
    """The ``ray`` module, imported.

    Raises:
        UserError: Ray is not installed (naming ``field``, the setting that asked for it, and ``value``).
    """
    try:
        import ray
    except ImportError:
        raise UserError(field, value, "runs trials on Ray, which is not installed", INSTALL_FIX) from None
    return ray


@dataclass(frozen=True)
class RayConnection:
    """This process's connection to Ray.

    Args:
        started: whether :func:`connect` started the Ray instance (then the executor shuts it down
            at the end); False when it joined a cluster or found Ray already initialised.
        cpus: CPUs the cluster has.
        gpus: GPUs the cluster has.
    """

    started: bool
    cpus: float
    gpus: float

    def close(self) -> None:
        """Shut down the Ray instance :func:`connect` started; leave a joined or found one running."""
        import ray

        if self.started and ray.is_initialized():
            ray.shutdown()


def connect(
    *, workers: int, address: str | None, cpus_per_trial: float, gpus_per_trial: float, field: str = "workers"
) -> RayConnection:
    """Connect to Ray: join the cluster at ``address``, or start a local instance with the CPUs of
    ``workers`` trials (``ceil(workers * cpus_per_trial)``; its GPUs are those Ray finds), or use the
    Ray this process has already initialised (a notebook's, a test's).

    Raises:
        UserError: Ray is not installed; the cluster at ``address`` cannot be joined; the cluster has
            fewer CPUs or GPUs than one trial asks for (its trials would wait forever).
    """
    ray = require_ray("ray_address" if address else field, address or workers)
    started = False
    if not ray.is_initialized():
        if address:
            try:
                ray.init(address=address, include_dashboard=False, logging_level="WARNING")
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(
                    "ray_address",
                    address,
                    f"cannot be joined ({first})",
                    "start the cluster with `ray start --head` and give the address it prints (host:6379), or "
                    "leave `ray_address` out to start Ray on this machine",
                ) from None
        else:
            cpus = max(1, math.ceil(workers * cpus_per_trial))
            # the dashboard and its HTTP server cost seconds and memory that a search does not need
            ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING")
            started = True
    resources = ray.cluster_resources()
    connection = RayConnection(started, float(resources.get("CPU", 0)), float(resources.get("GPU", 0)))
    try:
        if connection.cpus < cpus_per_trial:
            raise UserError(
                "cpus_per_trial",
                cpus_per_trial,
                f"is more than the {connection.cpus:g} CPUs of the Ray cluster",
                "ask for fewer `cpus_per_trial`",
            )
        if connection.gpus < gpus_per_trial:
            raise UserError(
                "gpus_per_trial",
                gpus_per_trial,
                f"is more than the {connection.gpus:g} GPUs of the Ray cluster",
                "ask for fewer `gpus_per_trial`, or join a cluster with GPUs (`ray_address`)",
            )
    except UserError:
        if started:
            ray.shutdown()
        raise
    return connection


class _TrialWorker:
    """One slot: an actor process holding the backbone and the data, running one trial at a time.

    Args:
        base, data: the backbone and the data (Ray hands the actor their values, read from the object
            store once).
        budget: the trial budget.
        device: where trials train (``cuda`` is the GPU Ray gave this actor: Ray sets
            ``CUDA_VISIBLE_DEVICES``).
        threads: torch intra-op threads of this process.
        trial_fn: what runs a trial (:func:`run_trial`; tests give one that kills its process).
    """

    def __init__(
        self, base: BaseModel, data: PreparedData, budget: Budget, device: str, threads: int, trial_fn: TrialFn
    ) -> None:
        torch.set_num_threads(threads)
        _quiet_libraries()
        self.base = base
        self.data = data
        self.budget = budget
        self.device = device
        self.trial_fn = trial_fn

    def run(self, request: TrialRequest, should_stop: StopFn | None) -> TrialResult:
        return self.trial_fn(
            self.base,
            self.data,
            request.config,
            self.budget,
            seed=request.seed,
            device=self.device,
            should_stop=should_stop,
        )


@dataclass
class _Running:
    """A trial in flight: its request, its slot and which attempt this is (1, then 2)."""

    request: TrialRequest
    slot: int
    attempt: int


class RayExecutor(Executor):
    """Runs ``workers`` trials at once on Ray, one actor (worker process) per slot; fewer when the
    cluster cannot place that many (:attr:`slots` then says how many, :attr:`requested` how many were
    asked for).

    Args:
        base: the pretrained backbone (put in the object store once).
        data: the tokenised data (put in the object store once).
        budget: the trial budget.
        workers: slots: trials that run at once.
        connection: from :func:`connect` (whether to shut Ray down at :meth:`close`).
        device: where trials train: ``cpu`` or ``cuda`` (``cuda:N`` is read as the GPU Ray assigns).
        cpus_per_trial: CPUs Ray reserves for each slot (fractions allowed).
        gpus_per_trial: GPUs Ray reserves for each slot (fractions below 1 let trials share a GPU).
        threads_per_trial: torch threads in each worker; None = ``cpus_per_trial`` rounded down, at
            least 1.
        stopper: early stopping: each trial's stop function from its configuration, made when the
            trial is submitted (so a trial stops against the Pareto front as it was when it started).
        trial_fn: what a worker runs per trial (default :func:`run_trial`; it must be importable in
            the workers or picklable by value).
        echo: told, in a line, of each fault: a worker that died, a slot the cluster lost.
    """

    asynchronous = True

    def __init__(
        self,
        base: BaseModel,
        data: PreparedData,
        budget: Budget,
        *,
        workers: int,
        connection: RayConnection,
        device: str = "cpu",
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        threads_per_trial: int | None = None,
        stopper: Callable[[PeftConfig], StopFn] | None = None,
        trial_fn: TrialFn | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        import ray

        self._ray = ray
        self.requested = workers
        self.echo = echo if echo is not None else (lambda line: None)
        self.connection = connection
        self.metric = data.spec.main_metric
        self.stopper = stopper
        self.device = "cuda" if device.startswith("cuda") else device
        self.threads = threads_per_trial if threads_per_trial is not None else max(1, int(cpus_per_trial))
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.budget = budget
        # looked up now, not bound at definition: tests replace this module's run_trial
        self.trial_fn = trial_fn if trial_fn is not None else run_trial
        # once in the object store; every actor (and every replacement of a dead one) reads these refs
        self._base_ref = ray.put(base)
        self._data_ref = ray.put(data)
        self._actor_class = ray.remote(_TrialWorker)
        self.slots = min(workers, self.capacity())
        if self.slots < 1:
            raise SearchFailed(f"the Ray cluster cannot place one trial ({self._asks()})")
        self._actors: dict[int, Any] = {slot: self._new_actor() for slot in range(self.slots)}
        self._running: dict[Any, _Running] = {}  # object ref of a trial's result -> the trial
        self._retries: list[tuple[TrialRequest, int]] = []  # (request, its next attempt), waiting for a slot
        self._closed = False

    def capacity(self) -> int:
        """How many trials the cluster can hold at once now: its CPUs (and GPUs) over one trial's."""
        resources = self._ray.cluster_resources()
        fits = math.floor(resources.get("CPU", 0.0) / self.cpus_per_trial + 1e-9)
        if self.gpus_per_trial > 0:
            fits = min(fits, math.floor(resources.get("GPU", 0.0) / self.gpus_per_trial + 1e-9))
        return fits

    def _asks(self) -> str:
        gpus = f" and {self.gpus_per_trial:g} GPU" if self.gpus_per_trial > 0 else ""
        return f"a trial asks for {self.cpus_per_trial:g} CPU{gpus}; the cluster has {self._ray.cluster_resources()}"

    def _new_actor(self) -> Any:
        # max_restarts=0: a dead actor stays dead and its slot gets a new one (see the module's faults)
        options = dict(num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial, max_restarts=0)
        return self._actor_class.options(**options).remote(
            self._base_ref, self._data_ref, self.budget, self.device, self.threads, self.trial_fn
        )

    # --- the asynchronous interface ---------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Trials submitted and not yet returned: running, or waiting for a slot to run again."""
        return len(self._running) + len(self._retries)

    def _free_slots(self) -> list[int]:
        busy = {running.slot for running in self._running.values()}
        return [slot for slot in self._actors if slot not in busy]

    def submit(self, request: TrialRequest) -> None:
        free = self._free_slots()
        if not free or self.in_flight >= self.slots:
            raise RuntimeError(f"{self.in_flight} trial(s) in flight already fill the executor's {self.slots} slot(s)")
        self._start(request, free[0], attempt=1)

    def _start_retries(self) -> None:
        """Start the trials waiting to run again on the free slots, oldest first."""
        for slot in self._free_slots():
            if not self._retries:
                return
            request, attempt = self._retries.pop(0)
            self._start(request, slot, attempt)

    def _start(self, request: TrialRequest, slot: int, attempt: int) -> None:
        should_stop = None if self.stopper is None else self.stopper(request.config)
        ref = self._actors[slot].run.remote(request, should_stop)
        self._running[ref] = _Running(request, slot, attempt)

    def next_result(self) -> tuple[TrialRequest, TrialResult]:
        ray = self._ray
        while True:
            if not self._running:
                raise RuntimeError("next_result() with no trial in flight")
            (ref,), _ = ray.wait(list(self._running), num_returns=1)
            running = self._running.pop(ref)
            outcome: tuple[TrialRequest, TrialResult] | None = None
            try:
                outcome = running.request, ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                # the worker process died (killed, out of memory, its node lost): a fresh one for the
                # slot if the cluster still has room for it, else one slot fewer
                number = running.request.number
                self.echo(f"    #{number}: its worker process died ({type(exc).__name__}: {_first_line(exc)})")
                self._replace_actor(running.slot)
                if running.attempt < ATTEMPTS:
                    self.echo(f"    #{number} runs once more")
                    self._retries.append((running.request, running.attempt + 1))
                else:
                    error = (
                        f"the worker process running this trial died {ATTEMPTS} times: {type(exc).__name__}: "
                        f"{_first_line(exc)}"
                    )
                    outcome = running.request, self._failed(running.request, error)
            except ray.exceptions.RayTaskError as exc:
                # run_trial turns a failing trial into a failed result; what reaches here is unexpected
                cause = exc.cause if exc.cause is not None else exc
                error = f"the trial raised in its worker: {type(cause).__name__}: {_first_line(cause)}"
                outcome = running.request, self._failed(running.request, error)
            self._start_retries()  # the slot this trial held is free (or has a fresh actor, or is gone)
            if outcome is not None:
                return outcome

    def _replace_actor(self, slot: int) -> None:
        """A fresh actor for ``slot`` whose actor died, or none (one slot fewer) when the cluster cannot
        place every slot any more; with no slot left, :class:`SearchFailed`."""
        with contextlib.suppress(Exception):  # dead already, which is why it is replaced
            self._ray.kill(self._actors[slot], no_restart=True)
        if len(self._actors) <= self.capacity():
            self._actors[slot] = self._new_actor()
            return
        del self._actors[slot]
        self.slots = len(self._actors)
        self.echo(f"Ray: the cluster has room for fewer trials now; {self.slots} at once")
        if not self._actors:
            raise SearchFailed(
                f"the Ray cluster cannot place a trial any more ({self._asks()}); "
                "the trials in flight run again when the search is resumed"
            )

    def _failed(self, request: TrialRequest, error: str) -> TrialResult:
        return TrialResult(
            config=request.config.to_dict(),
            status="failed",
            score=None,
            metric=self.metric,
            seed=request.seed,
            error=error,
        )

    # --- the batch interface -----------------------------------------------------------------------

    def run(self, requests: Sequence[TrialRequest]) -> Iterator[tuple[TrialRequest, TrialResult]]:
        waiting = list(requests)
        while waiting or self._running:
            while waiting and self.in_flight < self.slots:
                self.submit(waiting.pop(0))
            yield self.next_result()

    def close(self) -> None:
        """Kill the workers (trials in flight are abandoned: they stay RUNNING in the ledger and a
        resumed search runs them again) and shut down the Ray instance :func:`connect` started."""
        if self._closed:
            return
        self._closed = True
        ray = self._ray
        self._running.clear()
        self._retries.clear()
        for actor in self._actors.values():
            with contextlib.suppress(Exception):  # already dead, or Ray already gone
                ray.kill(actor, no_restart=True)
        self._actors = {}
        self.connection.close()


def _quiet_libraries() -> None:
    """In a worker process, what the CLI does in its own: Ray prints the workers' output on the driver's,
    where library warnings about every trial would bury the search's progress lines."""
    import logging
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("transformers", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
