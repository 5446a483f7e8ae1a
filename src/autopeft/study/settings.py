"""The settings of a search (``search.json``): what defines it, validated once, saved and read back."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from autopeft.errors import UserError
from autopeft.optim import OPTIMISERS
from autopeft.records.objectives import LOSS, OBJECTIVES, SCORE, Objective, parse_objectives
from autopeft.space import SPACES
from autopeft.study.ledger import STUDY_NAME
from autopeft.study.stopping import DEFAULT_MARGIN
from autopeft.tasks import TaskData, load_task, resolve_data_dir
from autopeft.tasks.spec import LM_METRICS
from autopeft.tracking import check_installed, parse_report_to
from autopeft.train.budget import Budget
from autopeft.train.device import check_device, check_device_available

SETTINGS_FILE = "search.json"

#: Settings that define a search; a directory holding a search refuses a rerun that changes them.
IDENTITY_FIELDS = (
    "model",
    "task",
    "data_dir",
    "text_columns",
    "label_column",
    "task_kind",
    "lm_score",
    "space",
    "search_lr",
    "seed",
    "budget",
    "objectives",
    "reference",
    "warm_start",
)


@dataclass(frozen=True)
class SearchSettings:
    """Everything that defines a search. Saved as ``search.json`` in the search directory.

    Args:
        model: ``minilm``, a model directory or a hub name.
        task: ``glue/sst2``, ``superglue/cb``, ... or a CSV/TSV/JSONL file.
        data_dir: where GLUE/SuperGLUE files lie (absolute); None = hub.
        text_columns, label_column, task_kind: for local files (``task_kind="causal_lm"``: a file of
            prompts and completions, :func:`~autopeft.tasks.load_task`).
        lm_score: a causal-LM task's score: ``loss`` (the default; validation loss per completion token,
            minimised: the search's first objective is then ``loss``, derived here, not ``score``) or
            ``exact_match`` (of greedy completions, maximised: the objective ``score``).
        space: ``paper``, ``extended`` or ``lora`` (:data:`autopeft.space.SPACES`).
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
            or ``score,params,time|memory``; a causal-LM search scored by loss gets ``loss`` in place of
            ``score`` (derived from ``lm_score``; ``loss`` may also be given).
        reference: hypervolume reference values by objective name (e.g. ``{"score": 0.5}``); the others
            take :func:`~autopeft.analysis.hypervolume.default_reference`.
        storage: an Optuna storage URL; None = ``sqlite:///<dir>/study.db``.
        study_name: the study's name in the storage (one storage can hold many searches); None =
            the search directory's name.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (its form is checked here; whether this machine
            has it, by :func:`for_directory`, so that a search made on a GPU can be shown anywhere).
        threads: torch intra-op threads of this process (the local executor's trials and the
            optimiser); None = one per core.
        workers: trials that run at once. 1 (the default) runs them one at a time in this process;
            more runs them on Ray (a local Ray instance, or the cluster at ``ray_address``), with
            asynchronous proposals: each finished trial frees a slot for one new configuration,
            proposed conditioned on the trials still running. Needs ``pip install 'autopeft[ray]'``.
        ray_address: join the Ray cluster at this address (``host:6379``, as ``ray start --head``
            prints) instead of starting Ray on this machine; runs on Ray even with ``workers=1``.
        cpus_per_trial: CPUs Ray reserves for each trial (fractions allowed); default 1.
        gpus_per_trial: GPUs Ray reserves for each trial; fractions below 1 let several trials share
            one GPU (0.25: four per GPU); needs ``device=cuda``. Default 0.
        threads_per_trial: torch threads inside each Ray worker; None = ``cpus_per_trial`` rounded
            down, at least 1.
        early_stop: stop trials whose learning curve cannot reach the Pareto front at their parameter
            count (:mod:`autopeft.study.stopping`); needs at least two evaluations per trial and the
            objectives ``score,params``.
        stop_margin: the early-stopping rule's margin in score units (see
            :data:`~autopeft.study.stopping.DEFAULT_MARGIN`).
        search_lr: also search the peak learning rate, over
            :func:`~autopeft.space.learning_rate_choices` of the budget's learning rate (a dimension of the
            space; each trial trains with the rate its configuration holds).
        report_to: experiment trackers that log every trial (:mod:`autopeft.tracking`): ``mlflow``,
            ``tensorboard``, both, or none (the default); given as names or as comma-separated text
            (``"mlflow,tensorboard"``, ``"all"``, ``"none"``), kept as a tuple of names. Not part of the
            search's identity: ``resume`` may turn trackers on or off. Whether their packages are
            installed is checked by :func:`for_directory`, so that a search can be shown without them.
        warm_start: earlier search directories (other tasks, models or seeds) whose Pareto
            configurations run first, carried into this search's space (:mod:`autopeft.study.warm_start`);
            made absolute by :func:`for_directory`. Part of the search's identity; read once, when
            the search starts.

    How trials are executed (``workers``, ``ray_address``, ``*_per_trial``, ``threads``, ``device``)
    is not part of a search's identity either: a search may continue with more or fewer workers.
    """

    model: str = "minilm"
    task: str = "glue/sst2"
    data_dir: str | None = None
    text_columns: tuple[str, ...] | None = None
    label_column: str | None = None
    task_kind: str | None = None
    lm_score: str = "loss"
    space: str = "paper"
    search_lr: bool = False
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
    workers: int = 1
    ray_address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    threads_per_trial: int | None = None
    early_stop: bool = False
    stop_margin: float = DEFAULT_MARGIN
    report_to: tuple[str, ...] = ()
    warm_start: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise UserError("space", self.space, "unknown search space", f"use one of {sorted(SPACES)}")
        if self.optimizer not in OPTIMISERS:
            raise UserError("optimizer", self.optimizer, "unknown optimiser", f"use one of {list(OPTIMISERS)}")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise UserError("trials", self.trials, "must be a positive whole number", "use e.g. `trials=20`")
        if self.init_trials is not None and (isinstance(self.init_trials, bool) or self.init_trials < 0):
            raise UserError("init_trials", self.init_trials, "must be 0 or more", "use e.g. `init_trials=10`")
        if self.optimizer_seed is not None and (
            isinstance(self.optimizer_seed, bool) or not isinstance(self.optimizer_seed, int) or self.optimizer_seed < 0
        ):
            raise UserError(
                "optimizer_seed", self.optimizer_seed, "must be a whole number >= 0", "use e.g. `optimizer_seed=1`"
            )
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise UserError("batch", self.batch, "must be a positive whole number", "use e.g. `batch=4`")
        objectives = self._score_objectives(parse_objectives(self.objectives))
        object.__setattr__(self, "objectives", tuple(o.name for o in objectives))
        if self.reference is not None:
            reference = dict(self.reference)
            for name, value in reference.items():
                if name not in self.objectives:
                    raise UserError(
                        "reference",
                        name,
                        f"is not an objective of this search {list(self.objectives)}",
                        "name only the objectives of `objectives`, e.g. `reference=score=0.5,params=5`",
                    )
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
                    raise UserError("reference", f"{name}={value}", "must be a finite number", "e.g. score=0.5")
            object.__setattr__(self, "reference", {k: float(v) for k, v in sorted(reference.items())} or None)
        check_device(self.device)
        if self.budget.dtype == "fp16" and not str(self.device).startswith("cuda"):
            raise UserError("dtype", "fp16", f"needs a CUDA device (device={self.device})", "use bf16 or fp32")
        if self.threads is not None and self.threads < 1:
            raise UserError("threads", self.threads, "must be at least 1", "omit it to use every core")
        self._check_execution()
        if self.text_columns is not None:
            object.__setattr__(self, "text_columns", tuple(self.text_columns))
        object.__setattr__(self, "report_to", parse_report_to(self.report_to))
        self._check_warm_start()
        if not isinstance(self.stop_margin, (int, float)) or not self.stop_margin >= 0:
            raise UserError("stop_margin", self.stop_margin, "must be a number >= 0", "use e.g. `stop_margin=0.028`")
        if self.early_stop:
            if self.objectives != ("score", "params"):  # (a loss was refused by _score_objectives)
                raise UserError(
                    "early_stop",
                    ",".join(self.objectives),
                    "judges trials on score and parameters only, so it cannot serve a third objective",
                    "use `objectives=score,params`, or leave `early_stop` out",
                )
            budget = self.budget
            evals = budget.evals_per_epoch * budget.epochs if budget.max_steps is None else budget.evals_per_epoch
            if evals < 2:
                raise UserError(
                    "early_stop",
                    f"{evals:g} evaluation(s) per trial",
                    "needs at least two evaluations per trial to see a learning curve",
                    "add e.g. `evals_per_epoch=4`",
                )

    def _check_warm_start(self) -> None:
        sources = (self.warm_start,) if isinstance(self.warm_start, str) else tuple(self.warm_start)
        for source in sources:
            if not isinstance(source, str) or not source.strip():
                raise UserError(
                    "warm_start", source, "must be a search directory", "give the `out` of an earlier search"
                )
        if len(set(sources)) != len(sources):
            raise UserError("warm_start", list(sources), "names a directory twice", "give each search once")
        object.__setattr__(self, "warm_start", sources)

    def _score_objectives(self, objectives: tuple[Objective, ...]) -> tuple[Objective, ...]:
        """The objectives with the score a causal-LM task's ``lm_score`` asks for: ``loss`` (minimised)
        in place of ``score`` when it scores by loss, so that no one needs to name it; a ``loss`` that
        the task does not score is refused."""
        lm = self.task_kind == "causal_lm"
        if self.lm_score not in LM_METRICS:
            fix = f"use one of {', '.join(LM_METRICS)}"
            raise UserError("lm_score", self.lm_score, "is not a causal-LM score", fix)
        if not lm and self.lm_score != "loss":
            fix = "add `task_kind=causal_lm`, or leave it out"
            raise UserError("lm_score", self.lm_score, "applies to causal-LM tasks only", fix)
        by_loss = lm and self.lm_score == "loss"
        if by_loss and objectives[0] is SCORE:
            return (LOSS, *objectives[1:])
        if objectives[0] is LOSS and not by_loss:
            what = "a causal-LM task scored by exact match" if lm else f"a {self.task_kind or 'classification'} task"
            raise UserError(
                "objectives",
                ",".join(o.name for o in objectives),
                f"puts a validation loss first, but {what} has a score that rises",
                "use `objectives=score,params`"
                + ("" if lm else ", or `task_kind=causal_lm` for a file of prompts and completions"),
            )
        if self.early_stop and objectives[0] is LOSS:
            raise UserError(
                "early_stop",
                "on",
                "reads learning curves of a score that rises, and a causal-LM search scored by loss minimises it",
                "leave `early_stop` out, or use `lm_score=exact_match`",
            )
        return objectives

    def _check_execution(self) -> None:
        """Validate the Ray settings (their types and ranges; whether Ray is installed is
        :func:`for_directory`'s to check, so that a search run on Ray can be shown without it)."""
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise UserError(
                "workers", self.workers, "must be a positive whole number", "use e.g. `workers=2` (1 = no Ray)"
            )
        if self.ray_address is not None and (not isinstance(self.ray_address, str) or not self.ray_address.strip()):
            raise UserError(
                "ray_address",
                self.ray_address,
                "must be a cluster's address",
                "give the address `ray start --head` printed, e.g. `ray_address=10.0.0.1:6379`, or leave it out",
            )
        cpus = self.cpus_per_trial
        if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not (0 < cpus < math.inf):
            raise UserError("cpus_per_trial", cpus, "must be a number > 0", "use e.g. `cpus_per_trial=1`")
        object.__setattr__(self, "cpus_per_trial", float(cpus))
        gpus = self.gpus_per_trial
        if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or not (0 <= gpus < math.inf):
            raise UserError("gpus_per_trial", gpus, "must be a number >= 0", "use e.g. `gpus_per_trial=0.25`")
        if gpus > 1 and gpus != int(gpus):
            # Ray's own rule: a fraction of a GPU, or whole GPUs
            raise UserError(
                "gpus_per_trial", gpus, "must be at most 1 or a whole number", "use e.g. `gpus_per_trial=0.5` or 2"
            )
        if gpus > 0 and not str(self.device).startswith("cuda"):
            raise UserError(
                "gpus_per_trial",
                gpus,
                f"gives trials GPUs, but they train on `device` {self.device}",
                "add `device=cuda`",
            )
        object.__setattr__(self, "gpus_per_trial", float(gpus))
        threads = self.threads_per_trial
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise UserError(
                "threads_per_trial", threads, "must be a positive whole number", "use e.g. `threads_per_trial=1`"
            )

    @property
    def on_ray(self) -> bool:
        """Whether trials run on Ray (``workers`` > 1 or a ``ray_address``) rather than in this process."""
        return self.workers > 1 or self.ray_address is not None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["text_columns"] = list(self.text_columns) if self.text_columns else None
        d["objectives"] = list(self.objectives)
        d["report_to"] = list(self.report_to)
        d["warm_start"] = list(self.warm_start)
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
            lm_score=self.lm_score,
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


#: The ledger's file in a search directory when no ``storage`` is given.
DEFAULT_LEDGER = "study.db"


def default_storage(out_dir: Path) -> str:
    """The SQLite URL of ``out_dir/study.db``, whatever characters its path holds.

    SQLAlchemy reads ``?`` as the start of the query string and percent-decodes the database path, and
    Optuna formats the URL as a template (``{`` and ``}``): so the path is percent-encoded, which
    SQLAlchemy decodes back to the path itself. Without it, ``--out 'a?b'`` put the ledger in ``a``.
    """
    return "sqlite:///" + quote(str((out_dir / DEFAULT_LEDGER).resolve()), safe="/")


def load_settings(out_dir: str | Path) -> SearchSettings:
    """The settings of the search in ``out_dir`` (for ``resume`` and ``show``)."""
    path = Path(out_dir) / SETTINGS_FILE
    if not path.is_file():
        raise UserError(
            "DIR",
            str(out_dir),
            f"holds no {SETTINGS_FILE}, so it is not a search directory",
            "give the `out` directory of an earlier `autopeft search`",
        )
    try:
        return SearchSettings.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(str(path), "…", f"is not a valid settings file ({exc})", "restore it or start anew") from exc


def _check_same_search(old: SearchSettings, new: SearchSettings, out_dir: Path) -> None:
    for name in IDENTITY_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            raise UserError(
                name,
                b if not isinstance(b, Budget) else b.to_dict(),
                f"{out_dir} holds a search with `{name}` {a if not isinstance(a, Budget) else a.to_dict()}",
                f"run `autopeft resume {out_dir}`, repeat the same settings, or choose another `out`",
            )


def check_ledger_is_there(settings: SearchSettings, out_dir: Path) -> None:
    """A directory that holds a search must still hold its ledger: a missing, empty or unreadable one is
    refused, never silently replaced by a new one (which would drop every finished trial)."""
    import optuna

    storage = settings.storage or default_storage(out_dir)
    study_name = settings.study_name or STUDY_NAME
    fix = (
        f"restore the ledger (`storage` {storage}) from a copy; to start over, delete {out_dir} or choose another `out`"
    )
    if settings.storage is None:
        path = out_dir / DEFAULT_LEDGER
        if not path.is_file() or path.stat().st_size == 0:
            state = "is missing" if not path.exists() else "is empty"
            raise UserError("out", str(out_dir), f"holds a search whose ledger {DEFAULT_LEDGER} {state}", fix)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise UserError("out", str(out_dir), f"holds a search whose ledger has no study {study_name!r}", fix) from None
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError("out", str(out_dir), f"holds a search whose ledger cannot be read ({first})", fix) from None


def _holds_trials(out_dir: Path) -> bool:
    """Whether the default ledger in ``out_dir`` holds any trial (a ledger without trials is what a
    search killed before writing its settings leaves, and may be reused)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = default_storage(out_dir)
    try:
        summaries = optuna.get_all_study_summaries(storage=storage, include_best_trial=False)
    except Exception:
        return True
    return any(summary.n_trials for summary in summaries)


def _resolve_data_dir(settings: SearchSettings) -> SearchSettings:
    """The data directory as an absolute path (``$AUTOPEFT_DATA`` when none is given), so that a search
    resumed from another working directory reads the same files."""
    if settings.data_dir is None:
        resolved = resolve_data_dir(None)
        if resolved is None:
            return settings
        return dataclasses.replace(settings, data_dir=str(Path(resolved).resolve()))
    return dataclasses.replace(settings, data_dir=str(Path(settings.data_dir).expanduser().resolve()))


def for_directory(settings: SearchSettings, out_dir: Path) -> SearchSettings:
    """``settings`` made ready to run in ``out_dir``, checked against a search already there.

    A directory holding a search accepts only the same search (its :data:`IDENTITY_FIELDS`) and keeps
    its ledger's storage and study name; a new directory names its study after itself.

    Nothing is written: this is where the inputs that need the machine (the device, a writable ``out_dir``)
    are checked before the search writes its first file.

    Raises:
        UserError: ``out_dir`` holds another search or a ledger without settings, is a file or lies under
            one, or cannot be written; the device is not on this machine; a tracker of ``report_to`` is
            not installed; Ray is not installed and ``workers`` or ``ray_address`` asks for it.
    """
    settings = _resolve_data_dir(settings)
    if settings.warm_start:
        resolved = tuple(str(Path(d).expanduser().resolve()) for d in settings.warm_start)
        settings = dataclasses.replace(settings, warm_start=resolved)
    if settings.ray_address is None:
        check_device_available(settings.device)
    # else trials train on the cluster's machines, not this one: whether it has the GPUs that
    # `gpus_per_trial` asks for is checked when the search joins it (autopeft.exec.ray_executor.connect)
    check_installed(settings.report_to)
    if settings.on_ray:
        from autopeft.exec.ray_executor import require_ray

        field_name = "ray_address" if settings.ray_address is not None else "workers"
        require_ray(field_name, getattr(settings, field_name))
    _check_writable(out_dir)
    if (out_dir / SETTINGS_FILE).exists():
        old = load_settings(out_dir)
        if old.study_name is None:  # written before study names existed: the ledger's one study
            old = dataclasses.replace(old, study_name=STUDY_NAME)
        _check_same_search(old, settings, out_dir)
        check_ledger_is_there(old, out_dir)
        for name in ("storage", "study_name"):
            new_value, old_value = getattr(settings, name), getattr(old, name)
            if new_value is None:
                settings = dataclasses.replace(settings, **{name: old_value})
            elif new_value != old_value:
                raise UserError(
                    name,
                    new_value,
                    f"{out_dir} keeps its ledger at `{name}` {old_value}",
                    f"omit `{name}` when continuing this search, or choose another `out`",
                )
    elif out_dir.exists() and (out_dir / DEFAULT_LEDGER).exists() and _holds_trials(out_dir):
        raise UserError(
            "out", str(out_dir), f"holds a {DEFAULT_LEDGER} but no {SETTINGS_FILE}", "choose an empty or new directory"
        )
    if settings.study_name is None:
        settings = dataclasses.replace(settings, study_name=out_dir.resolve().name)
    return settings


def _check_writable(out_dir: Path) -> None:
    """Refuse an ``out_dir`` the search could not create or write into, before anything is written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError("out", str(out_dir), "is a file", "choose a directory")
    # the nearest folder that exists: the search creates the rest in it. Links are not resolved, so
    # that a broken one on the way (which mkdir cannot pass) is seen.
    existing = Path(os.path.abspath(out_dir))
    while not existing.exists():
        if existing.is_symlink():
            raise UserError("out", str(out_dir), f"runs through {existing}, a broken link", "choose another path")
        existing = existing.parent
    if not existing.is_dir():
        raise UserError("out", str(out_dir), f"lies under {existing}, a file", "choose a path under a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "it" if existing == Path(os.path.abspath(out_dir)) else existing
        raise UserError(
            "out",
            str(out_dir),
            f"cannot be written: {where} is not writable here (permissions, or a read-only file system)",
            "choose a directory you can write to",
        )
