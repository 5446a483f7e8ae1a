"""Drawing a search: plain-text tables, ``trials.csv``, ``pareto.json``, and the Pareto and hypervolume plots.

Nothing here computes dominance or hypervolume; it draws what :mod:`autopeft.analysis` computed.
Every file is written atomically (:mod:`autopeft.records.io`): a crash never leaves a half-written
report.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autopeft.analysis.pareto import ParetoFront, StudySummary, short_error
from autopeft.errors import UserError
from autopeft.modules import MODULES
from autopeft.records.io import atomic_write_text
from autopeft.records.objectives import PARAMS, SCORE, Objective
from autopeft.records.trial import TrialResult
from autopeft.render.common import PathLike, aligned_table, log_x_axis, new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "format_config",
    "format_summary",
    "hypervolume_figure",
    "pareto_figure",
    "pareto_table",
    "plot_hypervolume",
    "plot_pareto",
    "trials_table",
    "write_pareto_json",
    "write_trials_csv",
]


#: Fixed CSV columns; ``metric_<name>`` columns follow ``metric``, ``config_<key>`` columns come last.
_CSV_HEAD = ("number", "status", "score", "metric")
_CSV_MIDDLE = (
    "peft_params",
    "peft_params_train",
    "head_params",
    "backbone_params",
    "params_pct",
    "train_seconds",
    "eval_seconds",
    "tokens_per_second",
    "peak_memory_mb",
    "proposal_seconds",
    "seed",
    "error",
    "predicted_score",
    "stopped_at",
    "config",
)

_ERROR_WIDTH = 60


# --------------------------------------------------------------------------------------------- text
def format_config(config: dict[str, Any]) -> str:
    """A configuration in compact human form, e.g. ``L[0,1,2,5] serial=12 prefix=3 ia3``.

    ``layers`` (a list of on/off flags, one per layer) becomes the indices of the layers that are
    on. Modules that are off (0, False, None) are left out; a module switched on by a flag shows its
    name only, one with a size shows ``name=size``. The registered module kinds come first, in
    registration order (:data:`autopeft.modules.MODULES`, as :meth:`~autopeft.space.PeftConfig.describe`);
    other keys follow in sorted order, so configs with or without ``lora``/``ia3`` (or with new keys)
    all render.
    """
    if "options" in config:  # a lora-space configuration: its own compact form (per-layer ranks, targets)
        from autopeft.space import PeftConfig

        try:
            return PeftConfig.from_dict(config).describe()
        except (UserError, TypeError, ValueError):
            pass  # a configuration this version cannot read: the generic form below
    parts: list[str] = []
    if "layers" in config:
        layers = config["layers"]
        if isinstance(layers, (list, tuple)):
            on = [str(i) for i, flag in enumerate(layers) if flag]
            parts.append(f"L[{','.join(on)}]")
        else:
            parts.append(f"layers={layers}")
    keys = [k for k in MODULES if k in config]
    keys += sorted(k for k in config if k not in ("layers", "learning_rate") and k not in MODULES)
    modules = 0
    for key in keys:
        value = config[key]
        if value is None or value is False or (isinstance(value, (int, float)) and value == 0):
            continue
        modules += 1
        if value is True:
            parts.append(str(key))
        elif isinstance(value, (dict, list, tuple)):
            parts.append(f"{key}={json.dumps(value, sort_keys=True, separators=(',', ':'))}")
        elif isinstance(value, float):
            parts.append(f"{key}={value:g}")
        else:
            parts.append(f"{key}={value}")
    if modules == 0:
        parts.append("(no modules)")
    if isinstance(config.get("learning_rate"), (int, float)):
        parts.append(f"lr={config['learning_rate']:g}")  # as PeftConfig.describe
    return " ".join(parts)


def _fmt_float(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _score_header(trials: Iterable[TrialResult]) -> str:
    metrics = {t.metric for t in trials if t.ok}
    return f"score ({metrics.pop()})" if len(metrics) == 1 else "score"


def trials_table(trials: Iterable[TrialResult]) -> str:
    """Every trial as an aligned plain-text table, one row per trial, in the order given.

    Columns: ``#``, status, score, params %, PEFT params, train s, config. A failed row shows
    ``-`` for the score and parameter columns, and its (shortened) error after the config; a row
    stopped early shows its last score and, after the config, where it stopped and its prediction.
    """
    trials = list(trials)
    headers = ["#", "status", _score_header(trials), "params %", "PEFT params", "train s", "config"]
    rows = []
    for t in trials:
        config = format_config(t.config)
        if t.stopped:
            config = f"{config}  stopped at {100 * (t.stopped_at or 0):.0f} %, predicted {t.predicted_score:.4f}"
        if t.ok or t.stopped:
            rows.append(
                [
                    str(t.number),
                    t.status,
                    _fmt_float(t.score, ".4f"),
                    _fmt_float(t.params_pct, "#.4g"),
                    f"{t.peft_params:,}",
                    _fmt_float(t.train_seconds, ".1f"),
                    config,
                ]
            )
        else:
            error = short_error(t.error, _ERROR_WIDTH)
            rows.append(
                [
                    str(t.number),
                    t.status,
                    "-",
                    "-",
                    "-",
                    _fmt_float(t.train_seconds, ".1f"),
                    f"{config}  error: {error}",
                ]
            )
    table = aligned_table(headers, rows, right=[True, False, True, True, True, True, False])
    return table if rows else table + "\n(no trials)"


def pareto_table(front: ParetoFront) -> str:
    """The Pareto front as an aligned plain-text table, fewest parameters first.

    Columns: rank (0-based position in the front), ``#`` (trial number), score, params %,
    PEFT params, train s, config.
    """
    headers = ["rank", "#", _score_header(front.trials), "params %", "PEFT params", "train s", "config"]
    rows = [
        [
            str(rank),
            str(t.number),
            _fmt_float(t.score, ".4f"),
            _fmt_float(t.params_pct, "#.4g"),
            f"{t.peft_params:,}",
            _fmt_float(t.train_seconds, ".1f"),
            format_config(t.config),
        ]
        for rank, t in enumerate(front.trials)
    ]
    table = aligned_table(headers, rows, right=[True, True, True, True, True, True, False])
    return table if rows else table + "\n(empty front: no complete trials)"


def format_summary(summary: StudySummary) -> str:
    """A study summary as plain text: counts, the best trial, failures and the Pareto front."""
    lines = [
        f"trials: {summary.n_total} ({summary.n_complete} complete, {summary.n_failed} failed"
        + (f", {summary.n_stopped} stopped early" if summary.n_stopped else "")
        + "); "
        f"training time {summary.train_seconds:.1f} s"
    ]
    best = summary.best
    if best is None:
        lines.append("best: none (no complete trial)")
    else:
        lines.append(
            f"best {best.metric}: {best.score:.4f} (trial {best.number}, "
            f"{best.params_pct:#.4g}% params, {format_config(best.config)})"
        )
    if summary.failures:
        lines.append("failures:")
        lines.extend(f"  {count} x {error}" for error, count in summary.failures)
    lines.append(f"Pareto front ({len(summary.front)} trials):")
    lines.append(pareto_table(summary.front))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- files
def _csv_cell(value: Any) -> Any:
    """A CSV cell: None → empty, lists/dicts → compact JSON, other values as they are."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def write_trials_csv(trials: Iterable[TrialResult], path: PathLike) -> Path:
    """Write one CSV row per trial (in the order given), atomically.

    Columns: ``number, status, score, metric``, one ``metric_<name>`` per metric seen in any trial
    (sorted), ``peft_params, peft_params_train, head_params, backbone_params, params_pct,
    train_seconds, eval_seconds, tokens_per_second, peak_memory_mb, proposal_seconds, seed,
    error, predicted_score, stopped_at`` (the last two for trials stopped early), ``config`` (the
    whole configuration as JSON), then one ``config_<key>`` per configuration key seen in any trial
    (sorted; lists such as ``layers`` as JSON). Missing values are empty cells.

    Returns:
        The path written.
    """
    trials = list(trials)
    metric_names = sorted({name for t in trials for name in t.metrics})
    config_keys = sorted({str(key) for t in trials for key in t.config})
    header = [
        *_CSV_HEAD,
        *(f"metric_{name}" for name in metric_names),
        *_CSV_MIDDLE,
        *(f"config_{key}" for key in config_keys),
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for t in trials:
        row: list[Any] = [t.number, t.status, t.score, t.metric]
        row += [t.metrics.get(name) for name in metric_names]
        row += [getattr(t, column) for column in _CSV_MIDDLE[:-1]]
        row.append(t.config)
        row += [t.config.get(key) for key in config_keys]
        writer.writerow([_csv_cell(v) for v in row])
    return atomic_write_text(path, buffer.getvalue())


def write_pareto_json(front: ParetoFront, path: PathLike) -> Path:
    """Write :meth:`ParetoFront.to_dict` as indented strict JSON, atomically. Returns the path."""
    text = json.dumps(front.to_dict(), indent=2, sort_keys=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


# ----------------------------------------------------------------------------------------- plot
def _objective_label(objectives: Sequence[Objective], attribute: str, default: Objective) -> str:
    for objective in objectives:
        if objective.attribute == attribute:
            return objective.label
    return default.label


def pareto_figure(trials: Iterable[TrialResult], front: ParetoFront, title: str = "Pareto front") -> Figure:
    """Draw score (y) against params % (x, log scale) on one axes.

    All complete trials are drawn as points; the front's trials are highlighted, labelled with their
    trial numbers, and joined by a step line in order of params % (the attainment curve: each
    point's score holds until the next point). Failed and stopped trials are not plotted (their
    counts are noted). With no complete trial the figure says so. Axis labels come from the front's
    objectives (attributes ``score`` and ``params_pct``).

    Returns:
        The figure (7 × 4.8 inches), not yet written.
    """
    trials = list(trials)
    complete = [t for t in trials if t.ok]
    n_failed = sum(1 for t in trials if t.status == "failed")
    n_stopped = sum(1 for t in trials if t.stopped)
    y_label = _objective_label(front.objectives, "score", SCORE)
    metrics = {t.metric for t in complete}
    if len(metrics) == 1:
        y_label = f"{y_label} ({metrics.pop()})"
    x_label = _objective_label(front.objectives, "params_pct", PARAMS)

    fig = new_figure(7.0, 4.8)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)

    if not complete:
        ax.text(0.5, 0.5, "no complete trials", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        xs = [t.params_pct for t in complete]
        ys = [float(t.score) for t in complete if t.score is not None]
        others = [(x, y) for t, x, y in zip(complete, xs, ys, strict=True) if t not in front.trials]
        if others:
            ax.scatter(
                [p[0] for p in others],
                [p[1] for p in others],
                s=22,
                color="tab:gray",
                alpha=0.6,
                label="trials",
                zorder=2,
            )
        fx = [t.params_pct for t in front.trials]
        fy = [float(t.score) for t in front.trials if t.score is not None]
        if fx:
            ax.step(fx, fy, where="post", color="tab:red", linewidth=1.2, zorder=3)
            ax.scatter(fx, fy, s=46, color="tab:red", edgecolor="black", label="Pareto front", zorder=4)
            if len(fx) <= 30:
                for t, x, y in zip(front.trials, fx, fy, strict=True):
                    if t.number < 0:  # not run through a study: no number to show
                        continue
                    ax.annotate(f"#{t.number}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        log_x_axis(ax, xs)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    hidden = [f"{n} {what} trial{'s' if n != 1 else ''}" for n, what in ((n_failed, "failed"), (n_stopped, "stopped"))]
    hidden = [h for h, n in zip(hidden, (n_failed, n_stopped), strict=True) if n]
    if hidden:
        ax.text(
            0.01,
            0.99,
            " and ".join(hidden) + " not shown",
            ha="left",
            va="top",
            fontsize=8,
            transform=ax.transAxes,
        )
    return fig


def plot_pareto(
    trials: Iterable[TrialResult],
    front: ParetoFront,
    path: PathLike,
    title: str = "Pareto front",
) -> Path:
    """Draw :func:`pareto_figure` and write it to ``path`` atomically (format from the suffix, PNG
    by default). Returns the path written."""
    return save_figure(pareto_figure(trials, front, title), path)


def hypervolume_figure(
    trials: Sequence[TrialResult],
    curve: Sequence[float] | np.ndarray,
    title: str = "Hypervolume",
    reference_label: str = "",
) -> Figure:
    """Draw the hypervolume after each trial against the trial count and against cumulative trial time
    (training + evaluation, in minutes), side by side.

    Args:
        trials: the study's trials in the order they finished, shape ``(n,)``.
        curve: hypervolume after each of them, shape ``(n,)`` (see
            :func:`autopeft.analysis.hypervolume.hypervolume_curve`).
        title: figure title.
        reference_label: how the reference point is described in the y label.

    Returns:
        The figure (9 × 3.8 inches, two axes), not yet written.

    Raises:
        ValueError: ``curve`` does not have one value per trial.
    """
    values = np.asarray(curve, dtype=float)
    if values.shape != (len(trials),):
        raise ValueError(f"curve has shape {values.shape}; expected ({len(trials)},)")
    fig = new_figure(9.0, 3.8)
    fig.suptitle(title)
    minutes = np.cumsum([t.train_seconds + t.eval_seconds for t in trials]) / 60.0
    ylabel = "hypervolume" + (f" ({reference_label})" if reference_label else "")
    for ax, x, xlabel in (
        (fig.add_subplot(1, 2, 1), np.arange(1, len(trials) + 1), "trials"),
        (fig.add_subplot(1, 2, 2), minutes, "trial time (minutes, cumulative)"),
    ):
        if len(trials):
            ax.step(x, values, where="post", color="tab:blue")
            ax.scatter(x, values, s=10, color="tab:blue")
        else:
            ax.text(0.5, 0.5, "no trials", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    return fig


def plot_hypervolume(
    trials: Sequence[TrialResult],
    curve: Sequence[float] | np.ndarray,
    path: PathLike,
    title: str = "Hypervolume",
    reference_label: str = "",
) -> Path:
    """Draw :func:`hypervolume_figure` and write it to ``path`` atomically (format from the suffix,
    PNG by default). Returns the path written.

    Raises:
        ValueError: ``curve`` does not have one value per trial.
    """
    return save_figure(hypervolume_figure(trials, curve, title, reference_label), path)
