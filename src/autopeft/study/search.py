"""The search loop: ask the optimiser, run the trial, record it in the ledger, write the reports.

Everything the user can get wrong is checked before anything is written (model, task, data, budget,
space, output directory). A search directory holds:

- ``search.json``: the settings (what ``autopeft resume DIR`` reads);
- ``study.db``: the ledger (an Optuna SQLite storage), unless ``--storage`` names another;
- ``trials.csv``, ``pareto.json``, ``pareto.png``: rewritten after every trial.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autopeft.analysis import summarise
from autopeft.analysis.hypervolume import default_reference, hypervolume_curve
from autopeft.build import ParamTable
from autopeft.errors import UserError
from autopeft.exec import LocalExecutor, TrialRequest
from autopeft.models import BaseModel, load_model_config
from autopeft.optim import MODEL_BASED, OPTIMISERS, make_optimiser
from autopeft.records.callbacks import Echo, StopFn
from autopeft.records.io import atomic_write_text
from autopeft.records.objectives import OBJECTIVES, Objective, parse_objectives
from autopeft.records.trial import TrialResult
from autopeft.render import plot_hypervolume, plot_pareto, write_pareto_json, write_trials_csv
from autopeft.space import SPACES, PeftConfig, SearchSpace
from autopeft.study.ledger import STUDY_NAME, Ledger
from autopeft.study.stopping import DEFAULT_MARGIN, DEFAULT_MIN_TRIALS, ParetoStopper, chance_level
from autopeft.tasks import TaskData, load_task, majority_score, resolve_data_dir
from autopeft.train.budget import Budget
from autopeft.train.data import carve_splits, prepare_data

SETTINGS_FILE = "search.json"

#: Settings that define a search; a directory holding a search refuses a rerun that changes them.
IDENTITY_FIELDS = (
    "model",
    "task",
    "data_dir",
    "text_columns",
    "label_column",
    "task_kind",
    "space",
    "seed",
    "budget",
    "objectives",
    "reference",
)


@dataclass(frozen=True)
class SearchSettings:
    """Everything that defines a search. Saved as ``search.json`` in the search directory.

    Args:
        model: ``--model`` (``minilm``, a directory or a hub name).
        task: ``--task`` (``glue/sst2``, ``superglue/cb``, or a CSV/TSV/JSONL file).
        data_dir: where GLUE/SuperGLUE files lie (absolute); None = hub.
        text_columns, label_column, task_kind: for local files.
        space: ``paper`` or ``extended``.
        optimizer: ``saas`` (default), ``gp``, ``random``, ``nsga2`` or ``tpe``.
        init_trials: random trials before a model-based optimiser (``saas``, ``gp``) uses its model;
            None = its default.
        batch: configurations proposed at once (each batch conditions on the trials still pending);
            the local executor then runs them one after another.
        trials: trials to finish in total (complete + failed); a resumed search runs the rest.
        seed: seeds the optimiser, the data split and every trial (the same for all trials, so that
            configurations are compared on the same data order).
        optimizer_seed: seeds the optimiser alone; None = ``seed``. Repeating a search with other
            optimiser seeds keeps its data and trial seeds, so that the trials of all repeats are
            comparable (as in a benchmark of optimisers on real trials).
        budget: the trial budget.
        objectives: objective names (:func:`~autopeft.records.objectives.parse_objectives`): ``score,params``
            or ``score,params,time|memory``.
        reference: hypervolume reference values by objective name (e.g. ``{"score": 0.5}``); the others
            take :func:`~autopeft.analysis.hypervolume.default_reference`.
        storage: an Optuna storage URL; None = ``sqlite:///<dir>/study.db``.
        study_name: the study's name in the storage (one storage can hold many searches); None =
            the search directory's name.
        device: ``cpu`` or ``cuda``.
        threads: torch intra-op threads; None = one per core.
        early_stop: stop trials whose learning curve cannot reach the Pareto front at their parameter
            count (:mod:`autopeft.study.stopping`); needs at least two evaluations per trial and the
            objectives ``score,params``.
        stop_margin: the early-stopping rule's margin in score units (see
            :data:`~autopeft.study.stopping.DEFAULT_MARGIN`).
    """

    model: str = "minilm"
    task: str = "glue/sst2"
    data_dir: str | None = None
    text_columns: tuple[str, ...] | None = None
    label_column: str | None = None
    task_kind: str | None = None
    space: str = "paper"
    optimizer: str = OPTIMISERS[0]
    init_trials: int | None = None
    batch: int = 1
    trials: int = 20
    seed: int = 0
    optimizer_seed: int | None = None
    budget: Budget = field(default_factory=Budget)
    objectives: tuple[str, ...] = ("score", "params")
    reference: dict[str, float] | None = None
    storage: str | None = None
    study_name: str | None = None
    device: str = "cpu"
    threads: int | None = None
    early_stop: bool = False
    stop_margin: float = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise UserError("--space", self.space, "unknown search space", f"use one of {sorted(SPACES)}")
        if self.optimizer not in OPTIMISERS:
            raise UserError("--optimizer", self.optimizer, "unknown optimiser", f"use one of {list(OPTIMISERS)}")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise UserError("--trials", self.trials, "must be a positive whole number", "use e.g. --trials 20")
        if self.init_trials is not None and (isinstance(self.init_trials, bool) or self.init_trials < 0):
            raise UserError("--init-trials", self.init_trials, "must be 0 or more", "use e.g. --init-trials 10")
        if self.optimizer_seed is not None and (
            isinstance(self.optimizer_seed, bool) or not isinstance(self.optimizer_seed, int) or self.optimizer_seed < 0
        ):
            raise UserError(
                "--optimizer-seed", self.optimizer_seed, "must be a whole number >= 0", "use e.g. --optimizer-seed 1"
            )
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise UserError("--batch", self.batch, "must be a positive whole number", "use e.g. --batch 4")
        objectives = parse_objectives(self.objectives)
        object.__setattr__(self, "objectives", tuple(o.name for o in objectives))
        if self.reference is not None:
            reference = dict(self.reference)
            for name, value in reference.items():
                if name not in self.objectives:
                    raise UserError(
                        "--reference",
                        name,
                        f"is not an objective of this search {list(self.objectives)}",
                        "name only the objectives of --objectives, e.g. --reference score=0.5,params=5",
                    )
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
                    raise UserError("--reference", f"{name}={value}", "must be a finite number", "e.g. score=0.5")
            object.__setattr__(self, "reference", {k: float(v) for k, v in sorted(reference.items())} or None)
        if self.threads is not None and self.threads < 1:
            raise UserError("--threads", self.threads, "must be at least 1", "omit it to use every core")
        if self.text_columns is not None:
            object.__setattr__(self, "text_columns", tuple(self.text_columns))
        if not isinstance(self.stop_margin, (int, float)) or not self.stop_margin >= 0:
            raise UserError("--stop-margin", self.stop_margin, "must be a number >= 0", "use e.g. --stop-margin 0.028")
        if self.early_stop:
            if self.objectives != ("score", "params"):
                raise UserError(
                    "--early-stop",
                    ",".join(self.objectives),
                    "judges trials on score and parameters only, so it cannot serve a third objective",
                    "use --objectives score,params, or leave --early-stop out",
                )
            budget = self.budget
            evals = budget.evals_per_epoch * budget.epochs if budget.max_steps is None else budget.evals_per_epoch
            if evals < 2:
                raise UserError(
                    "--early-stop",
                    f"{evals:g} evaluation(s) per trial",
                    "needs at least two evaluations per trial to see a learning curve",
                    "add e.g. --evals-per-epoch 4",
                )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["text_columns"] = list(self.text_columns) if self.text_columns else None
        d["objectives"] = list(self.objectives)
        return d

    @property
    def objective_list(self) -> tuple[Objective, ...]:
        return tuple(OBJECTIVES[n] for n in self.objectives)

    def load_task(self) -> TaskData:
        """The task of these settings (registry name or local file, with its column settings)."""
        return load_task(
            self.task,
            self.data_dir,
            text_columns=self.text_columns,
            label_column=self.label_column,
            task_kind=self.task_kind,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        data = dict(data)
        data["budget"] = Budget.from_dict(data.get("budget", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UserError(SETTINGS_FILE, sorted(unknown), "unknown settings", f"use only {sorted(known)}")
        return cls(**data)


def default_storage(out_dir: Path) -> str:
    return f"sqlite:///{(out_dir / 'study.db').resolve()}"


def load_settings(out_dir: str | Path) -> SearchSettings:
    """The settings of the search in ``out_dir`` (for ``resume`` and ``show``)."""
    path = Path(out_dir) / SETTINGS_FILE
    if not path.is_file():
        raise UserError(
            "DIR",
            str(out_dir),
            f"holds no {SETTINGS_FILE}, so it is not a search directory",
            "give the --out directory of an earlier `autopeft search`",
        )
    try:
        return SearchSettings.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(str(path), "…", f"is not a valid settings file ({exc})", "restore it or start anew") from exc


def _check_same_search(old: SearchSettings, new: SearchSettings, out_dir: Path) -> None:
    for name in IDENTITY_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            flag = "--" + name.replace("_", "-")
            raise UserError(
                flag,
                b if not isinstance(b, Budget) else b.to_dict(),
                f"{out_dir} holds a search with {flag} {a if not isinstance(a, Budget) else a.to_dict()}",
                f"run `autopeft resume {out_dir}`, repeat the same settings, or choose another --out",
            )


@dataclass
class SearchOutcome:
    out_dir: Path
    results: list[TrialResult]
    majority: float | None


def _run_announced(
    executor: LocalExecutor, requests: list[TrialRequest], done: int, total: int, echo: Echo
) -> Iterator[tuple[TrialRequest, TrialResult]]:
    """Run a batch through a one-slot executor one trial at a time, announcing each as it starts."""
    for position, request in enumerate(requests):
        echo(f"[trial {done + position + 1}/{total}] #{request.number} {request.config.describe()}")
        yield from executor.run([request])


def _fixed_reference(
    ledger: Ledger,
    objectives: tuple[Objective, ...],
    overrides: dict[str, float] | None,
    results: list[TrialResult],
    *,
    record: bool = True,
) -> np.ndarray | None:
    """The study's hypervolume reference point: the one recorded in the ledger, else
    :func:`default_reference` with the user's ``overrides`` (recorded, unless ``record`` is False, once
    it can be computed: a measured cost needs the first complete trial). None while it cannot be
    computed yet."""
    recorded = ledger.get_reference()
    if recorded is not None:
        return np.asarray(recorded, dtype=float)
    first = next((r for r in results if r.ok), None)
    try:
        reference = default_reference(objectives, overrides, first=first)
    except ValueError:
        return None
    if record:
        ledger.set_reference(reference.tolist())
    return reference


def _write_reports(
    out_dir: Path,
    results: list[TrialResult],
    title: str,
    objectives: tuple[Objective, ...],
    reference: np.ndarray | None,
    hv_curve: np.ndarray | None = None,
) -> None:
    summary = summarise(results, objectives)
    write_trials_csv(results, out_dir / "trials.csv")
    write_pareto_json(summary.front, out_dir / "pareto.json")
    plot_pareto(results, summary.front, out_dir / "pareto.png", title=title)
    if reference is None:
        return
    if hv_curve is None or len(hv_curve) != len(results):
        hv_curve = hypervolume_curve(results, objectives, reference)
    label = ", ".join(f"{o.name} {v:g}" for o, v in zip(objectives, reference, strict=True))
    plot_hypervolume(results, hv_curve, out_dir / "hypervolume.png", title=title, reference_label=f"reference {label}")


def _stop_function(stopper: ParetoStopper, pct: Callable[[PeftConfig], float]) -> Callable[[PeftConfig], StopFn]:
    """Each trial's stop function, from its configuration's parameter share (known before it trains)."""

    def stop_for(config: PeftConfig) -> StopFn:
        return stopper.for_trial(pct(config))

    return stop_for


def run_search(
    settings: SearchSettings,
    out_dir: str | Path,
    *,
    echo: Echo = print,
    base: BaseModel | None = None,
) -> SearchOutcome:
    """Run (or continue) the search of ``settings`` in ``out_dir`` until ``settings.trials`` trials
    have finished. Safe to call again after a crash or kill: finished trials are kept, a trial left
    running is run again.

    Args:
        settings: the search.
        out_dir: the search directory (created).
        echo: where progress lines go.
        base: an already loaded backbone (tests); default loads ``settings.model``.
    """
    out_dir = Path(out_dir)
    if settings.data_dir is None:
        resolved = resolve_data_dir(None)
        if resolved is not None:
            settings = dataclasses.replace(settings, data_dir=str(Path(resolved).resolve()))
    else:
        settings = dataclasses.replace(settings, data_dir=str(Path(settings.data_dir).expanduser().resolve()))
    settings_path = out_dir / SETTINGS_FILE
    if settings_path.exists():
        old = load_settings(out_dir)
        if old.study_name is None:  # written before study names existed: the ledger's one study
            old = dataclasses.replace(old, study_name=STUDY_NAME)
        _check_same_search(old, settings, out_dir)
        for name in ("storage", "study_name"):
            new_value, old_value = getattr(settings, name), getattr(old, name)
            if new_value is None:
                settings = dataclasses.replace(settings, **{name: old_value})
            elif new_value != old_value:
                flag = "--" + name.replace("_", "-")
                raise UserError(
                    flag,
                    new_value,
                    f"{out_dir} keeps its ledger at {flag} {old_value}",
                    f"omit {flag} when continuing this search, or choose another --out",
                )
    elif out_dir.exists() and (out_dir / "study.db").exists():
        raise UserError(
            "--out",
            str(out_dir),
            f"holds a study.db but no {SETTINGS_FILE}",
            "choose an empty or new directory",
        )
    elif out_dir.exists() and not out_dir.is_dir():
        raise UserError("--out", str(out_dir), "is a file", "choose a directory")

    # Everything that can be wrong is checked before anything is written.
    model_config = base.config if base is not None else load_model_config(settings.model)
    space = SearchSpace.for_model_config(settings.space, model_config)
    task = settings.load_task()
    echo(f"task {task.spec.name}: {len(task.train)} training examples; metric {task.spec.main_metric}")
    echo(f"search space {space.name!r}: {len(space.dimensions)} dimensions, {space.size:,} valid configurations")
    splits = carve_splits(task, settings.budget, settings.seed)
    if base is None:
        echo(f"loading model {settings.model} ...")
        base = BaseModel.load(settings.model)
    data = prepare_data(task, base.tokenizer, settings.budget, settings.seed, splits=splits)
    majority = (
        majority_score(task.spec, data.train.labels, data.val.labels) if task.spec.kind == "classification" else None
    )

    if settings.study_name is None:
        settings = dataclasses.replace(settings, study_name=out_dir.resolve().name)
    out_dir.mkdir(parents=True, exist_ok=True)
    storage = settings.storage or default_storage(out_dir)
    atomic_write_text(settings_path, json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n")
    objectives = settings.objective_list
    ledger = Ledger(storage, space, objectives, study_name=settings.study_name)
    ledger.set_settings(settings.to_dict())

    rerun = ledger.recover_interrupted()
    results = ledger.results()
    if rerun:
        echo(f"{len(rerun)} trial(s) interrupted by an earlier stop will run again")
    param_fn = None
    if settings.optimizer in MODEL_BASED or settings.early_stop:
        echo("measuring the parameter count of every module size ...")
        param_fn = ParamTable.measure(base.backbone, space).pct
    stopper: ParetoStopper | None = None
    stop_fn = None
    if settings.early_stop:
        assert param_fn is not None
        # the guard reads intermediate scores, so its chance level is that of the probe examples
        chance = chance_level(task.spec, data.val.labels, settings.budget.probe_examples)
        stopper = ParetoStopper(margin=settings.stop_margin, chance=chance, min_trials=DEFAULT_MIN_TRIALS)
        probed = len(data.probe(settings.budget.probe_examples))
        echo(
            f"early stopping: evaluations before the last score {probed} of {len(data.val)} validation "
            f"examples; a trial within {settings.stop_margin:g} of the constant-prediction level "
            f"{chance:.4f} is not stopped before {stopper.plateau_until:.0%} of its steps"
        )
        stopper.update(results)
        stop_fn = _stop_function(stopper, param_fn)

    reference = _fixed_reference(ledger, objectives, settings.reference, results)
    optimiser = make_optimiser(
        settings.optimizer,
        space,
        seed=settings.seed if settings.optimizer_seed is None else settings.optimizer_seed,
        objectives=objectives,
        init_trials=settings.init_trials,
        param_fn=param_fn,
        reference=None if reference is None else reference.tolist(),
        threads=settings.threads,
    )
    optimiser.tell(results)
    if results:
        echo(f"resuming: {len(results)} of {settings.trials} trials already finished")

    def progress(step: int, total: int, score: float) -> None:
        echo(f"    step {step}/{total}: validation {task.spec.main_metric} {score:.4f}")

    executor = LocalExecutor(
        base,
        data,
        settings.budget,
        device=settings.device,
        threads=settings.threads,
        progress=progress,
        stopper=stop_fn,
    )
    title = f"{settings.model} on {task.spec.name} ({settings.optimizer}, {space.name} space)"
    if majority is not None:
        echo(f"majority-class validation {task.spec.main_metric}: {majority:.4f}")
    started = time.perf_counter()
    hv_curve: np.ndarray | None = None
    while len(results) < settings.trials:
        want = min(settings.batch, settings.trials - len(results))
        asked: float | None = None
        if rerun:
            proposals, rerun = rerun[:want], rerun[want:]
        else:
            t0 = time.perf_counter()
            proposals = optimiser.ask(want)
            asked = time.perf_counter() - t0
        if not proposals:
            echo(f"every valid configuration of the space has been tried ({len(results)} trials); stopping")
            break
        requests = [TrialRequest(ledger.start(config), config, settings.seed) for config in proposals]
        if asked is not None:
            echo(f"proposed {len(proposals)} configuration(s) in {asked:.1f} s ({settings.optimizer})")
        for request, result in _run_announced(executor, requests, len(results), settings.trials, echo):
            result = dataclasses.replace(result, proposal_seconds=asked)
            if reference is None:
                reference = _fixed_reference(ledger, objectives, settings.reference, [*results, result])
                if reference is not None and hasattr(optimiser, "reference"):
                    optimiser.reference = reference
            hv = None
            if reference is not None:
                hv_curve = hypervolume_curve([*results, result], objectives, reference)
                hv = float(hv_curve[-1])
            result = ledger.finish(request.number, result, hypervolume=hv)
            optimiser.tell([result])
            if stopper is not None:
                stopper.update([result])
            results.append(result)
            if result.stopped:
                echo(
                    f"    → stopped at {100 * (result.stopped_at or 0):.0f} % of its steps: {result.metric} "
                    f"{result.score:.4f}, predicted {result.predicted_score:.4f}; a complete trial with at most "
                    f"its {result.params_pct:.3f}% parameters already scores more than it could reach"
                )
            elif result.ok:
                echo(
                    f"    → {result.metric} {result.score:.4f}, params {result.peft_params:,} "
                    f"({result.params_pct:.3f}%), {result.train_seconds:.1f} s, "
                    f"{result.tokens_per_second:,.0f} tokens/s"
                )
            else:
                echo(f"    → failed: {(result.error or '').splitlines()[0]}")
            _write_reports(out_dir, results, title, objectives, reference, hv_curve)
    if results and not (out_dir / "pareto.json").exists():
        _write_reports(out_dir, results, title, objectives, reference)
    echo(f"search finished in {time.perf_counter() - started:.0f} s; results in {out_dir}")
    return SearchOutcome(out_dir=out_dir, results=results, majority=majority)


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
    storage = settings.storage or default_storage(out_dir)
    try:
        ledger = Ledger.load(storage, settings.study_name or STUDY_NAME, settings.objective_list)
    except KeyError as exc:
        raise UserError("DIR", str(out_dir), "its ledger holds no trials yet", "run the search first") from exc
    results = ledger.results()
    reference = _fixed_reference(ledger, settings.objective_list, settings.reference, results, record=False)
    return OpenedSearch(settings, results, reference)


def open_results(out_dir: str | Path) -> tuple[SearchSettings, list[TrialResult]]:
    """Settings and finished trials of the search in ``out_dir`` (nothing is run or written)."""
    opened = open_search(out_dir)
    return opened.settings, opened.results
