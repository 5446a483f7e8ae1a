"""The search as three phases: :func:`prepare`, :func:`run` and :func:`report` (:func:`run_search` calls
them in turn).

- **prepare** checks everything the user can get wrong before anything is written (model, task, data,
  budget, space, output directory), then opens the ledger, recovers trials a crash left running, and
  builds the reference point, the optimiser and the executor;
- **run** asks the optimiser for configurations (``batch`` at a time on the one-slot local executor;
  one per freed slot, conditioned on the trials still running, on the Ray executor's several slots),
  runs them, and records each result in the ledger before anything else reads it;
- **report** rewrites the reports from the recorded trials (also after every trial).

A search directory holds:

- ``search.json``: the settings (what ``autopeft resume DIR`` reads);
- ``study.db``: the ledger (an Optuna SQLite storage), unless ``--storage`` names another;
- ``trials.csv``, ``pareto.json``, ``pareto.png``, ``hypervolume.png``: rewritten after every trial;
- with ``report_to``, the trackers' local stores: ``mlflow.db`` and ``mlruns/`` (MLflow, unless
  ``$MLFLOW_TRACKING_URI`` names another store), ``tensorboard/`` (see :mod:`autopeft.tracking`).

Trackers are told of each trial right after it is recorded, and at the end get the report files; a
tracker's failure is warned about and never fails the search.

The study owns the hypervolume reference point (:class:`~autopeft.analysis.hypervolume.ReferencePoint`):
it records it in the ledger once it is known, and hands the same object to the optimiser.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autopeft.analysis import summarise
from autopeft.analysis.hypervolume import ReferencePoint, hypervolume_curve
from autopeft.analysis.pareto import short_error
from autopeft.build import ParamTable, is_language_model
from autopeft.errors import SearchFailed, UserError
from autopeft.exec import Executor, LocalExecutor, TrialRequest
from autopeft.exec.ray_executor import RayConnection, RayExecutor, connect
from autopeft.models import BaseModel, load_model_config
from autopeft.optim import MODEL_BASED, make_optimiser
from autopeft.optim.base import Optimiser
from autopeft.optim.warm_start import WarmStart
from autopeft.records.callbacks import Echo, Monitor, StopFn
from autopeft.records.io import atomic_write_text
from autopeft.records.objectives import Objective
from autopeft.records.trial import TrialResult
from autopeft.render import plot_hypervolume, plot_pareto, write_pareto_json, write_trials_csv
from autopeft.space import PeftConfig, SearchSpace, learning_rate_choices
from autopeft.study import warm_start
from autopeft.study.ledger import STUDY_NAME, Ledger
from autopeft.study.ownership import SearchOwner
from autopeft.study.settings import (
    DEFAULT_LEDGER,
    SETTINGS_FILE,
    SearchSettings,
    check_ledger_is_there,
    default_storage,
    for_directory,
    load_settings,
)
from autopeft.study.stopping import DEFAULT_MIN_TRIALS, ParetoStopper, chance_level
from autopeft.study.warm_start import WarmStartPlan
from autopeft.tasks import TaskData, TaskSpec, majority_score
from autopeft.tracking import SearchEnd, TrackedSearch, Tracking, make_trackers
from autopeft.tracking.base import flatten
from autopeft.train.data import PreparedData, carve_splits, prepare_data

#: The report files of a search directory that trackers attach to the search (those that exist).
REPORT_FILES = (SETTINGS_FILE, "trials.csv", "pareto.json", "pareto.png", "hypervolume.png")


@dataclass
class Search:
    """A prepared search: what :func:`run` and :func:`report` work on.

    Args:
        settings: the search's settings, ready for its directory (data dir absolute, study named).
        out_dir: the search directory.
        space: the search space, sized from the model.
        data: the tokenised training and validation examples.
        majority: the majority-class validation score (classification), else None.
        ledger: the study's ledger.
        reference: the hypervolume reference point (owned here; the optimiser reads the same object).
        optimiser: proposes the configurations.
        executor: runs the trials.
        stopper: early stopping, when on.
        title: the reports' title.
        owner: this process's ownership of the search (released by :meth:`close`).
        monitor: live progress (bars on a terminal), told of each trial's start, steps and end.
        tracking: the experiment trackers of ``settings.report_to`` (None without any), started.
        results: finished trials, in the order they finished (the ledger's, then this process's).
        rerun: configurations of trials a crash left running, to run again before new proposals.
        reported: how many of ``results`` the reports on disk show (set by :func:`report`).
    """

    settings: SearchSettings
    out_dir: Path
    space: SearchSpace
    data: PreparedData
    majority: float | None
    ledger: Ledger
    reference: ReferencePoint
    optimiser: Optimiser
    executor: Executor
    stopper: ParetoStopper | None
    title: str
    owner: SearchOwner
    monitor: Monitor | None = None
    tracking: Tracking | None = None
    results: list[TrialResult] = field(default_factory=list)
    reported: int = 0
    rerun: list[PeftConfig] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return max(0, self.settings.trials - len(self.results))

    def close(self) -> None:
        """Release the executor (its workers), give the search up (another process may own it from now
        on) and close its live progress."""
        try:
            self.executor.close()
        finally:
            if self.monitor is not None:
                self.monitor.close()
            self.owner.release()

    def __enter__(self) -> Search:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class SearchOutcome:
    out_dir: Path
    results: list[TrialResult]
    majority: float | None


def run_search(
    settings: SearchSettings,
    out_dir: str | Path,
    *,
    echo: Echo = print,
    base: BaseModel | None = None,
    monitor: Monitor | None = None,
) -> SearchOutcome:
    """Run (or continue) the search of ``settings`` in ``out_dir`` until ``settings.trials`` trials
    have finished. Safe to call again after a crash or kill: finished trials are kept, a trial left
    running is run again.

    Args:
        settings: the search.
        out_dir: the search directory (created).
        echo: where progress lines go.
        base: an already loaded backbone (tests); default loads ``settings.model``.
        monitor: live progress bars (:func:`autopeft.render.progress.monitor_for`); closed at the end.
    """
    try:
        search = prepare(settings, Path(out_dir), echo=echo, base=base, monitor=monitor)
    except BaseException:
        if monitor is not None:
            monitor.close()
        raise
    with search:
        started = time.perf_counter()
        end: SearchEnd = "interrupted"  # unless run returns or raises an Exception
        try:
            run(search, echo=echo)
            end = "finished"
        except Exception:
            end = "failed"
            raise
        finally:
            # also after an interrupt, a failure, or a kill that came before the last report: the
            # reports always end showing what the ledger holds
            if search.results and search.reported != len(search.results):
                report(search)
            if search.tracking is not None:
                search.tracking.finish([search.out_dir / name for name in REPORT_FILES], end)
        echo(f"search finished in {time.perf_counter() - started:.0f} s; results in {search.out_dir}")
    return SearchOutcome(out_dir=search.out_dir, results=search.results, majority=search.majority)


# ------------------------------------------------------------------------------------------ prepare
def prepare(
    settings: SearchSettings,
    out_dir: Path,
    *,
    echo: Echo = print,
    base: BaseModel | None = None,
    monitor: Monitor | None = None,
) -> Search:
    """Check every input, then open the ledger and build what the search loop needs.

    Nothing is written before the model's config, the space, the task and its data have been read and
    checked; then ``search.json`` and the ledger are written.
    """
    settings = for_directory(settings, out_dir)
    model_config = base.config if base is not None else load_model_config(settings.model)
    rates = learning_rate_choices(settings.budget.learning_rate) if settings.search_lr else ()
    space = SearchSpace.for_model_config(settings.space, model_config, learning_rates=rates)
    task = settings.load_task()
    echo(f"task {task.spec.name}: {len(task.train)} training examples; metric {task.spec.main_metric}")
    echo(f"search space {space.name!r}: {len(space.dimensions)} dimensions, {space.size:,} valid configurations")
    splits = carve_splits(task, settings.budget, settings.seed)
    if base is None:
        echo(f"loading model {settings.model} ...")
        base = BaseModel.load(settings.model, lm=task.spec.is_lm)
    elif is_language_model(base.backbone) != task.spec.is_lm:
        want = "a language model (BaseModel.load(..., lm=True))" if task.spec.is_lm else "a sequence classifier"
        raise UserError("base", base.name, f"does not fit a {task.spec.kind} task", f"give {want}")
    data = prepare_data(
        task, base.tokenizer, settings.budget, settings.seed, splits=splits, encoder_decoder=base.is_encoder_decoder
    )
    majority = None
    if task.spec.kind == "classification":
        majority = majority_score(task.spec, data.train.labels, data.val.labels)

    warm, warm_is_new = _warm_start(settings, out_dir, space, echo)
    # Ray is joined (or started) before the ledger is written: an address that cannot be joined, or a
    # cluster without the resources a trial asks for, is refused with nothing written
    connection = _connect_ray(settings, echo) if settings.on_ray else None
    try:
        ledger, owner = _open_ledger(settings, out_dir, space, task.spec.main_metric)
    except BaseException:
        _disconnect(connection)
        raise
    try:
        if warm is not None and warm_is_new:
            warm_start.save(warm, out_dir)
        return _assemble(
            settings, out_dir, space, task, base, data, majority, ledger, owner, echo, monitor, connection, warm
        )
    except BaseException:
        _disconnect(connection)
        owner.release()
        raise


def _warm_start(
    settings: SearchSettings, out_dir: Path, space: SearchSpace, echo: Echo
) -> tuple[WarmStartPlan | None, bool]:
    """The search's warm-start configurations, and whether they are new (to be saved once the search owns
    its directory): those it saved when it started, else read from the earlier searches of
    ``settings.warm_start`` now (nothing is written here)."""
    if not settings.warm_start:
        return None, False
    saved = warm_start.load(out_dir)
    if saved is not None:
        return saved, False
    plan = warm_start.plan(settings.warm_start, space)
    echo(
        f"warm start: {len(plan.configs)} Pareto configuration(s) of {len(plan.sources)} earlier search(es) run first"
        + (f" ({plan.left_out} left out: repeated, or not placeable in this space)" if plan.left_out else "")
    )
    return plan, True


def _connect_ray(settings: SearchSettings, echo: Echo) -> RayConnection:
    """Join the Ray cluster of ``settings.ray_address``, or start a local Ray instance."""
    where = f"the Ray cluster at {settings.ray_address}" if settings.ray_address else "a local Ray instance"
    echo(f"starting {where} for {settings.workers} trial(s) at once ...")
    connection = connect(
        workers=settings.workers,
        address=settings.ray_address,
        cpus_per_trial=settings.cpus_per_trial,
        gpus_per_trial=settings.gpus_per_trial,
    )
    echo(f"Ray: {connection.cpus:g} CPUs, {connection.gpus:g} GPUs")
    return connection


def _disconnect(connection: RayConnection | None) -> None:
    """Shut down the Ray instance a failed :func:`prepare` started (a joined cluster is left alone)."""
    if connection is not None:
        connection.close()


def _assemble(
    settings: SearchSettings,
    out_dir: Path,
    space: SearchSpace,
    task: TaskData,
    base: BaseModel,
    data: PreparedData,
    majority: float | None,
    ledger: Ledger,
    owner: SearchOwner,
    echo: Echo,
    monitor: Monitor | None,
    connection: RayConnection | None = None,
    warm: WarmStartPlan | None = None,
) -> Search:
    """The rest of :func:`prepare`, once this process owns the search: recover interrupted trials and
    build the optimiser (told every finished trial), the stopper, the reference point and the executor."""
    rerun = ledger.recover_interrupted()
    results = ledger.results()
    if rerun:
        echo(f"{len(rerun)} trial(s) interrupted by an earlier stop will run again")
    param_fn = None
    if settings.optimizer in MODEL_BASED or settings.early_stop:
        echo("measuring the parameter count of every module size ...")
        param_fn = ParamTable.measure(base.backbone, space).pct
    stopper = _stopper(settings, task.spec, data, results, echo) if settings.early_stop else None
    reference = _reference(ledger, settings, results)
    optimiser = make_optimiser(
        settings.optimizer,
        space,
        seed=settings.seed if settings.optimizer_seed is None else settings.optimizer_seed,
        objectives=settings.objective_list,
        reference=reference,
        init_trials=settings.init_trials,
        param_fn=param_fn,
        threads=settings.threads,
    )
    if warm is not None and warm.configs:
        optimiser = WarmStart(optimiser, warm.configs)
    optimiser.tell(results)
    if results:
        echo(f"resuming: {len(results)} of {settings.trials} trials already finished")

    def progress(step: int, total: int, score: float) -> None:
        echo(f"    step {step}/{total}: validation {task.spec.main_metric} {score:.4f}")

    stop_for = None if stopper is None else _stop_function(stopper, param_fn)
    executor: Executor
    if connection is not None:
        executor = RayExecutor(
            base,
            data,
            settings.budget,
            workers=settings.workers,
            connection=connection,
            device=settings.device,
            cpus_per_trial=settings.cpus_per_trial,
            gpus_per_trial=settings.gpus_per_trial,
            threads_per_trial=settings.threads_per_trial,
            stopper=stop_for,
            echo=echo,
        )
        if executor.slots < settings.workers:
            echo(
                f"Ray: the cluster holds {executor.slots} trial(s) at once, not {settings.workers} "
                f"({settings.cpus_per_trial:g} CPU each); running {executor.slots}"
            )
    else:
        executor = LocalExecutor(
            base,
            data,
            settings.budget,
            device=settings.device,
            threads=settings.threads,
            progress=progress,
            on_step=None if monitor is None else monitor.step,
            stopper=stop_for,
        )
    if majority is not None:
        echo(f"majority-class validation {task.spec.main_metric}: {majority:.4f}")
    title = _title(settings, task.spec.name)
    tracking = _start_tracking(settings, out_dir, title, task.spec.main_metric, ledger, results, echo)
    return Search(
        settings=settings,
        out_dir=out_dir,
        space=space,
        data=data,
        majority=majority,
        ledger=ledger,
        reference=reference,
        optimiser=optimiser,
        executor=executor,
        stopper=stopper,
        title=title,
        owner=owner,
        monitor=monitor,
        tracking=tracking,
        results=results,
        rerun=rerun,
    )


def _start_tracking(
    settings: SearchSettings,
    out_dir: Path,
    title: str,
    metric: str,
    ledger: Ledger,
    results: list[TrialResult],
    echo: Echo,
) -> Tracking | None:
    """Start the trackers of ``settings.report_to`` (None without any) and log to each the finished
    trials it lacks: every trial of the ledger reaches every tracker once, whichever process ran it."""
    if not settings.report_to:
        return None
    out_dir = out_dir.resolve()
    tracked = TrackedSearch(
        out_dir=out_dir,
        name=out_dir.name,
        study_name=settings.study_name or out_dir.name,
        title=title,
        metric=metric,
        settings=flatten(settings.to_dict()),
    )
    tracking = Tracking(make_trackers(settings.report_to))
    tracking.start(tracked, results, dict(ledger.hypervolumes()))
    if tracking.active:
        echo(f"tracking: {tracking.describe()}")
    return tracking


def _open_ledger(
    settings: SearchSettings, out_dir: Path, space: SearchSpace, metric: str
) -> tuple[Ledger, SearchOwner]:
    """Take ownership of the search and open (or create) its ledger, then write ``search.json``.

    The storage is checked for another search under the same study name before anything is written;
    then the directory is locked, the ledger opened and the study claimed (a second process on the same
    directory or study is refused, naming the owner), and only then are the settings written.
    """
    storage = settings.storage or default_storage(out_dir)
    assert settings.study_name is not None  # named by for_directory
    objectives = settings.objective_list
    if settings.storage is not None or (out_dir / DEFAULT_LEDGER).exists():
        Ledger.check(storage, settings.study_name, space, objectives)
    owner = SearchOwner.acquire(out_dir)
    try:
        ledger = Ledger(storage, space, objectives, study_name=settings.study_name, metric=metric)
        owner.claim(ledger.study, storage, settings.study_name)
        text = json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n"
        atomic_write_text(out_dir / SETTINGS_FILE, text)
        ledger.set_settings(settings.to_dict())
    except BaseException:
        owner.release()
        raise
    return ledger, owner


def _reference(ledger: Ledger, settings: SearchSettings, results: list[TrialResult]) -> ReferencePoint:
    """The study's reference point: the one its ledger recorded, else the default with the user's
    overrides, recorded as soon as it is known (a measured cost's needs a complete trial)."""
    recorded = ledger.get_reference()
    reference = ReferencePoint(settings.objective_list, settings.reference, value=recorded)
    reference.observe(results)
    if recorded is None and reference.value is not None:
        ledger.set_reference(reference.value.tolist())
    return reference


def _stopper(
    settings: SearchSettings, spec: TaskSpec, data: PreparedData, results: list[TrialResult], echo: Echo
) -> ParetoStopper:
    """The early-stopping rule, told the trials finished so far."""
    # the guard reads intermediate scores, so its chance level is that of the probe examples
    chance = chance_level(spec, data.val.labels, settings.budget.probe_examples)
    stopper = ParetoStopper(margin=settings.stop_margin, chance=chance, min_trials=DEFAULT_MIN_TRIALS)
    probed = len(data.probe(settings.budget.probe_examples))
    echo(
        f"early stopping: evaluations before the last score {probed} of {len(data.val)} validation "
        f"examples; a trial within {settings.stop_margin:g} of the constant-prediction level "
        f"{chance:.4f} is not stopped before {stopper.plateau_until:.0%} of its steps"
    )
    stopper.update(results)
    return stopper


def _stop_function(stopper: ParetoStopper, pct: Callable[[PeftConfig], float] | None) -> Callable[[PeftConfig], StopFn]:
    """Each trial's stop function, from its configuration's parameter share (known before it trains)."""
    assert pct is not None  # measured whenever early stopping is on

    def stop_for(config: PeftConfig) -> StopFn:
        return stopper.for_trial(pct(config))

    return stop_for


# ---------------------------------------------------------------------------------------------- run
def run(search: Search, *, echo: Echo = print) -> list[TrialResult]:
    """Run trials until the search has ``settings.trials`` finished ones (or the space is exhausted).

    An asynchronous executor with several slots (the Ray executor; :attr:`Executor.asynchronous`) is
    driven by :func:`_run_asynchronously`: every slot stays busy, and each finished trial frees its slot
    for one new proposal conditioned on the trials still running. Any other executor (the local one)
    runs rounds: each takes the trials a crash interrupted first, else asks the optimiser for
    ``max(batch, slots)`` new configurations, and runs them. Either way each finished trial is recorded
    (:func:`_record`) and the reports rewritten. Returns ``search.results``.
    """
    # getattr: an executor written before the asynchronous interface (duck-typed) runs in rounds
    if getattr(search.executor, "asynchronous", False) and search.executor.slots > 1:
        _run_asynchronously(search, echo)
    else:
        _run_rounds(search, echo)
    if search.results and not any(r.status != "failed" for r in search.results):
        raise SearchFailed(
            f"every trial failed ({len(search.results)}); the last error: {_error_line(search.results[-1])}"
        )
    return search.results


def _run_rounds(search: Search, echo: Echo) -> None:
    """The one-slot loop: propose a batch, run it, record each result (see :func:`run`)."""
    while search.remaining:
        search.owner.check()
        proposals, asked = _next_proposals(search, echo)
        if not proposals:
            echo(f"every valid configuration of the space has been tried ({len(search.results)} trials); stopping")
            break
        requests = [TrialRequest(search.ledger.start(config), config, search.settings.seed) for config in proposals]
        for request, result in _run_announced(search, requests, echo):
            _record(search, request, dataclasses.replace(result, proposal_seconds=asked), echo)
            report(search)
            _stop_if_failing(search.results)


def _run_asynchronously(search: Search, echo: Echo) -> None:
    """The many-slot loop: keep every slot busy until the trial budget is used.

    Whenever slots are free (at the start, then each time a trial finishes) they are filled: first with
    the trials a crash interrupted, then with new proposals, asked for as many as there are free slots
    (one, once the search runs) with every configuration still running as ``pending``, so that the
    optimiser conditions on them and never proposes one of them again. A trial enters the ledger as
    RUNNING before it is submitted; its result is recorded (ledger first, then the optimiser) as soon as
    it comes back. The driver, this process, is the ledger's only writer.

    An interrupt or a :class:`SearchFailed` leaves the trials in flight RUNNING in the ledger; a resumed
    search runs them again (:meth:`Ledger.recover_interrupted`).
    """
    executor = search.executor
    running: dict[int, PeftConfig] = {}  # trial number -> configuration, while in flight
    asked: dict[int, float | None] = {}  # trial number -> seconds its proposal took (None for reruns)
    exhausted = False
    while True:
        search.owner.check()
        free = min(executor.slots - executor.in_flight, search.remaining - executor.in_flight)
        if free > 0 and not exhausted:
            reruns, search.rerun = search.rerun[:free], search.rerun[free:]
            batch: list[tuple[PeftConfig, float | None]] = [(config, None) for config in reruns]
            want = free - len(reruns)
            if want:
                t0 = time.perf_counter()
                proposals = search.optimiser.ask(want, pending=[*running.values(), *reruns])
                seconds = time.perf_counter() - t0
                if proposals:
                    pending = len(running) + len(reruns)
                    echo(
                        f"proposed {len(proposals)} configuration(s) in {seconds:.1f} s ({search.settings.optimizer}; "
                        f"{pending} pending)"
                    )
                exhausted = len(proposals) < want
                batch += [(config, seconds) for config in proposals]
            for config, seconds in batch:
                request = TrialRequest(search.ledger.start(config), config, search.settings.seed)
                running[request.number], asked[request.number] = config, seconds
                _announce(search, request, len(search.results) + executor.in_flight, echo)
                executor.submit(request)
        if executor.in_flight == 0:
            if exhausted:
                echo(f"every valid configuration of the space has been tried ({len(search.results)} trials); stopping")
            return
        request, result = executor.next_result()
        del running[request.number]
        _record(search, request, dataclasses.replace(result, proposal_seconds=asked.pop(request.number)), echo)
        report(search)
        _stop_if_failing(search.results)


#: A search stops (exit 1) when this many trials in a row failed with the same error.
FAILURE_STREAK = 3


def _stop_if_failing(results: list[TrialResult]) -> None:
    """Raise :class:`SearchFailed` when the last :data:`FAILURE_STREAK` trials all failed with one error
    (a model that cannot be built, a device that is gone: more trials would fail the same way)."""
    last = results[-FAILURE_STREAK:]
    if len(last) == FAILURE_STREAK and all(r.status == "failed" for r in last):
        errors = {_error_line(r) for r in last}
        if len(errors) == 1:
            raise SearchFailed(f"the last {FAILURE_STREAK} trials failed with the same error: {errors.pop()}")


def _error_line(result: TrialResult) -> str:
    """The first line of a failed trial's error, whole (the summaries' form, without their cut)."""
    return short_error(result.error, width=1000)


def _next_proposals(search: Search, echo: Echo) -> tuple[list[PeftConfig], float | None]:
    """The next configurations to run and the seconds the optimiser took (None for reruns)."""
    want = min(max(search.settings.batch, search.executor.slots), search.remaining)
    if search.rerun:
        proposals, search.rerun = search.rerun[:want], search.rerun[want:]
        return proposals, None
    t0 = time.perf_counter()
    proposals = search.optimiser.ask(want)
    asked = time.perf_counter() - t0
    if proposals:
        echo(f"proposed {len(proposals)} configuration(s) in {asked:.1f} s ({search.settings.optimizer})")
    return proposals, asked


def _run_announced(
    search: Search, requests: list[TrialRequest], echo: Echo
) -> Iterator[tuple[TrialRequest, TrialResult]]:
    """Run a batch, announcing each trial as it starts: one at a time on a one-slot executor, else all
    together (they start together)."""
    done = len(search.results)
    if search.executor.slots == 1:
        for position, request in enumerate(requests):
            _announce(search, request, done + position, echo)
            yield from search.executor.run([request])
        return
    for position, request in enumerate(requests):
        _announce(search, request, done + position, echo)
    yield from search.executor.run(requests)


def _announce(search: Search, request: TrialRequest, before: int, echo: Echo) -> None:
    """Tell the progress line and the monitor that a trial starts, ``before`` trials having started
    (finished or in flight) ahead of it."""
    total = search.settings.trials
    echo(f"[trial {before + 1}/{total}] #{request.number} {request.config.describe()}")
    if search.monitor is not None:
        search.monitor.trial_started(request.number, request.config.describe(), before, total)


def _record(search: Search, request: TrialRequest, result: TrialResult, echo: Echo) -> TrialResult:
    """Record one finished trial: fix the reference point if this is the first complete trial, write
    the result with the study's new hypervolume to the ledger, then tell the optimiser and the
    stopper (in that order, so that nothing acts on a result the ledger does not hold)."""
    if search.reference.observe([*search.results, result]):
        assert search.reference.value is not None
        search.ledger.set_reference(search.reference.value.tolist())
    hv = None
    if search.reference.value is not None:
        hv = float(
            hypervolume_curve([*search.results, result], search.settings.objective_list, search.reference.value)[-1]
        )
    result = search.ledger.finish(request.number, result, hypervolume=hv)
    search.optimiser.tell([result])
    if search.stopper is not None:
        search.stopper.update([result])
    search.results.append(result)
    line = _outcome_line(result)
    if search.executor.slots > 1:  # trials finish out of order: say which one this is
        line = f"    #{result.number} {line.lstrip()}"
    echo(line)
    if search.monitor is not None:
        search.monitor.trial_finished(result, hv)
    if search.tracking is not None:
        search.tracking.log_trial(result, hv)
    return result


def _outcome_line(result: TrialResult) -> str:
    if result.stopped:
        return (
            f"    → stopped at {100 * (result.stopped_at or 0):.0f} % of its steps: {result.metric} "
            f"{result.score:.4f}, predicted {result.predicted_score:.4f}; a complete trial with at most "
            f"its {result.params_pct:.3f}% parameters already scores more than it could reach"
        )
    if result.ok:
        return (
            f"    → {result.metric} {result.score:.4f}, params {result.peft_params:,} "
            f"({result.params_pct:.3f}%), {result.train_seconds:.1f} s, "
            f"{result.tokens_per_second:,.0f} tokens/s"
        )
    return f"    → failed: {(result.error or '').splitlines()[0]}"


# ------------------------------------------------------------------------------------------- report
def _title(settings: SearchSettings, task_name: str) -> str:
    """The reports' title: model, task, optimiser and space."""
    return f"{settings.model} on {task_name} ({settings.optimizer}, {settings.space} space)"


def report(search: Search) -> None:
    """Rewrite the search's reports from its finished trials: ``trials.csv``, ``pareto.json``,
    ``pareto.png`` and, once the reference point is known, ``hypervolume.png``."""
    write_reports(search.out_dir, search.results, search.title, search.settings.objective_list, search.reference)
    search.reported = len(search.results)


def write_reports(
    out_dir: Path,
    results: list[TrialResult],
    title: str,
    objectives: tuple[Objective, ...],
    reference: ReferencePoint,
) -> None:
    """The reports of a search directory, drawn from its trials (see :func:`report`)."""
    summary = summarise(results, objectives)
    write_trials_csv(results, out_dir / "trials.csv")
    write_pareto_json(summary.front, out_dir / "pareto.json")
    plot_pareto(results, summary.front, out_dir / "pareto.png", title=title)
    if reference.value is None:
        return
    curve = hypervolume_curve(results, objectives, reference.value)
    plot_hypervolume(
        results, curve, out_dir / "hypervolume.png", title=title, reference_label=f"reference {reference.label()}"
    )


# --------------------------------------------------------------------------------------------- open
@dataclass(frozen=True)
class OpenedSearch:
    """A search directory read back (nothing run or written).

    Args:
        settings: its settings.
        results: its finished trials, in trial-number order.
        reference: its hypervolume reference point (the one the search recorded; for a search that
            recorded none, the default); None while no trial has completed and a cost needs one.
    """

    settings: SearchSettings
    results: list[TrialResult]
    reference: np.ndarray | None


def open_search(out_dir: str | Path) -> OpenedSearch:
    """Settings, finished trials and reference point of the search in ``out_dir``."""
    out_dir = Path(out_dir)
    settings = load_settings(out_dir)
    check_ledger_is_there(settings, out_dir)
    storage = settings.storage or default_storage(out_dir)
    ledger = Ledger.load(storage, settings.study_name or STUDY_NAME, settings.objective_list)
    results = ledger.results()
    reference = ReferencePoint(settings.objective_list, settings.reference, value=ledger.get_reference())
    reference.observe(results)
    return OpenedSearch(settings, results, reference.value)


def refresh_reports(out_dir: str | Path) -> bool:
    """Rewrite the reports of the search in ``out_dir`` when they do not show every trial its ledger
    holds (a process killed between recording a trial and rewriting them). Returns whether it wrote."""
    out_dir = Path(out_dir)
    opened = open_search(out_dir)
    csv_path = out_dir / "trials.csv"
    shown = len(csv_path.read_text().splitlines()) - 1 if csv_path.is_file() else -1
    if shown == len(opened.results) or not opened.results:
        return False
    settings = opened.settings
    reference = ReferencePoint(settings.objective_list, settings.reference, value=opened.reference)
    title = _title(settings, settings.task)
    write_reports(out_dir, opened.results, title, settings.objective_list, reference)
    return True


def open_results(out_dir: str | Path) -> tuple[SearchSettings, list[TrialResult]]:
    """Settings and finished trials of the search in ``out_dir`` (nothing is run or written)."""
    opened = open_search(out_dir)
    return opened.settings, opened.results
