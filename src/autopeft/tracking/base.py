"""What an experiment tracker is told about a search, and the trial values every backend logs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from autopeft.records.trial import TrialResult

#: How a search's process ended: every trial it was asked for ran (``finished``), it raised (``failed``),
#: or it was interrupted (Ctrl-C, a signal): ``autopeft resume DIR`` continues it.
SearchEnd = Literal["finished", "failed", "interrupted"]

#: A value a tracker can log as a parameter or hyperparameter.
ParamValue = str | int | float | bool | None


@dataclass(frozen=True)
class TrackedSearch:
    """The search a tracker logs, as the tracker sees it (plain values; no settings object).

    Args:
        out_dir: the search directory (absolute): where local stores go, and the search's identity in a
            tracker (a resumed search finds its runs by it).
        name: the search's name: its directory's name (an MLflow experiment's name by default).
        study_name: the study's name in its ledger (the parent run's name).
        title: the reports' title (model, task, optimiser, space).
        metric: the task's main metric (``accuracy``, ``matthews``, ...): what ``score`` measures.
        settings: the search's settings flattened to one level (``budget.epochs``), logged as parameters
            of the search.
    """

    out_dir: Path
    name: str
    study_name: str
    title: str
    metric: str
    settings: Mapping[str, ParamValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not Path(self.out_dir).is_absolute():
            raise ValueError(f"out_dir={self.out_dir!s}: must be absolute (it identifies the search)")
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        object.__setattr__(self, "settings", dict(self.settings))


class Tracker(ABC):
    """One experiment-tracking backend (MLflow, TensorBoard, ...), told of a search as it runs.

    Contract: :meth:`start` once, before anything else; then :meth:`log_trial` once per finished trial
    that :meth:`start` did not report as logged (a resumed search logs only the trials a tracker lacks),
    in the order they finished; then :meth:`finish` once. A tracker may raise from any of them: the
    search (:class:`~autopeft.tracking.fanout.Tracking`) warns once and goes on without that tracker.
    Implementations import their package inside these methods, so the core never needs it installed.
    """

    #: The name ``report_to`` gives this backend.
    name: ClassVar[str]

    @abstractmethod
    def start(self, search: TrackedSearch) -> set[int]:
        """Open (or reopen) the search's records in this tracker; returns the numbers of the trials it
        already holds (logged by an earlier process of the same search)."""

    @abstractmethod
    def log_trial(self, result: TrialResult, hypervolume: float | None) -> None:
        """Log one finished trial (complete, stopped early or failed) and the search's hypervolume once
        it was recorded (None while the reference point is not known)."""

    @abstractmethod
    def finish(self, files: Sequence[Path], end: SearchEnd) -> None:
        """Attach the search's report files (front, trials table, plots) and close the records."""

    @property
    def where(self) -> str:
        """Where this tracker writes, for the search's progress line (after :meth:`start`)."""
        return self.name


# -------------------------------------------------------------------------------- values to log
def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, ParamValue]:
    """``{"budget": {"epochs": 1.0}, "objectives": ["score", "params"]}`` →
    ``{"budget.epochs": 1.0, "objectives": "score,params"}``: nested mappings joined with dots, lists as
    comma-separated text (trackers take scalars only), other values kept."""
    out: dict[str, ParamValue] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(map(str, value))
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def config_params(result: TrialResult) -> dict[str, ParamValue]:
    """A trial's configuration as parameters, named as in the ledger's study: one value per module kind
    (``serial=12``, ``ia3=True``), one ``layer_<i>`` bit per layer, and ``layers``, the layers that are on
    (``"3,4,5"``), to read at a glance; a ``lora`` space configuration's options flattened
    (``lora_ranks="8,8,0"``, ``lora_targets="query,value"``, ``lora_alpha_scale=2.0``); plus the trial's seed."""
    params: dict[str, ParamValue] = {}
    for key, value in result.config.items():
        if key == "layers":
            params["layers"] = ",".join(str(i) for i, on in enumerate(value) if on)
            params.update({f"layer_{i}": bool(on) for i, on in enumerate(value)})
        elif key == "options":  # the lora space's per-kind options: lora_ranks="8,8,0", lora_alpha_scale=2.0
            for kind, options in value.items():
                for name, option in options.items():
                    flat = ",".join(map(str, option)) if isinstance(option, (list, tuple)) else option
                    params[f"{kind}_{name}"] = flat
        else:
            params[key] = value
    params["seed"] = result.seed
    return params


def trial_metrics(result: TrialResult) -> dict[str, float]:
    """A trial's final values: ``score`` (the main metric), every metric at the last evaluation as
    ``val/<name>``, the parameter counts and share (``params_pct``, percent of the backbone), times in
    seconds, throughput in tokens per second, peak memory in MiB; for a trial stopped early, its
    ``predicted_score`` and ``stopped_at`` (fraction of its steps). Values a trial lacks are left out."""
    values: dict[str, float | None] = {
        "score": result.score,
        **{f"val/{name}": value for name, value in result.metrics.items()},
        "params_pct": result.params_pct,
        "peft_params": result.peft_params,
        "peft_params_train": result.peft_params_train,
        "head_params": result.head_params,
        "backbone_params": result.backbone_params,
        "train_seconds": result.train_seconds,
        "eval_seconds": result.eval_seconds,
        "tokens_per_second": result.tokens_per_second,
        "peak_memory_mb": result.peak_memory_mb,
        "proposal_seconds": result.proposal_seconds,
        "predicted_score": result.predicted_score,
        "stopped_at": result.stopped_at,
    }
    return {name: float(value) for name, value in values.items() if value is not None}


def curve_points(result: TrialResult) -> list[tuple[str, int, float]]:
    """The learning curve as ``(name, step, value)``: every metric of every evaluation as
    ``curve/<name>`` at its optimiser step (the main metric alone for evaluations that kept no others)."""
    points = []
    for evaluation in result.curve:
        metrics = evaluation.metrics or {result.metric: evaluation.score}
        points += [(f"curve/{name}", evaluation.step, float(value)) for name, value in metrics.items()]
    return points


def last_step(result: TrialResult) -> int:
    """The optimiser step of the trial's last evaluation (0 when it has none): where final values go."""
    return result.curve[-1].step if result.curve else 0
