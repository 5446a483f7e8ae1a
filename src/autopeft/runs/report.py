"""The report of full-fidelity runs: the paper's results table and a score-vs-parameters plot.

Computing (:func:`summarise_runs`, numpy only) is kept apart from drawing (:func:`markdown_table`,
:func:`plot_runs`). :func:`write_report` reads results ledgers and writes ``report.md``,
``report.json`` and ``report.png`` atomically (:mod:`autopeft.records.io`).

Directions: the score (the task's dev metric) is maximised, the trainable-parameter share
(``params_pct``, percent of the backbone) is minimised. Scores are stored as the trainer records them
(accuracy in [0, 1]) and shown ×100, as in the paper.
"""

from __future__ import annotations

import io
import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autopeft.analysis.pareto import _json_number, pareto_mask
from autopeft.analysis.report import log_x_axis
from autopeft.errors import UserError
from autopeft.methods import BASELINES, Method
from autopeft.records.io import atomic_write_bytes, atomic_write_text
from autopeft.runs.ledger import RESULTS_FILE, RunRecord, read_records

__all__ = [
    "TASK_ORDER",
    "BudgetUse",
    "CellSummary",
    "MethodSummary",
    "Provenance",
    "RunsReport",
    "markdown_table",
    "plot_runs",
    "summarise_runs",
    "write_report",
]

PathLike = str | os.PathLike[str]

#: Column order of the table (the paper's); other tasks follow, sorted.
TASK_ORDER = (
    "glue/cola",
    "glue/sst2",
    "glue/mrpc",
    "glue/stsb",
    "glue/rte",
    "glue/wnli",
    "superglue/rte",
    "superglue/cb",
)

#: Scores are shown multiplied by this (the paper's convention: accuracy 0.812 → 81.2).
SCALE = 100.0

_MISSING = "–"


# ------------------------------------------------------------------------------------ data objects
@dataclass(frozen=True)
class CellSummary:
    """The runs of one method on one task.

    Args:
        method: the method's name.
        task: the task's name.
        metric: the dev metric of the runs (``"accuracy"``, ``"matthews"``, ...); None when no run
            completed.
        scores: dev scores of the complete runs (higher is better; unscaled, e.g. accuracy in
            [0, 1]), ordered by seed, shape ``(n,)``.
        seeds: their seeds, aligned with ``scores``.
        n_failed: failed runs (counted, never averaged).
        params_pct: mean trainable PEFT parameters of the complete runs, percent of the backbone
            (lower is cheaper); None when no run completed.
        train_seconds: mean training wall time of the complete runs (s); None when no run completed.
    """

    method: str
    task: str
    metric: str | None
    scores: tuple[float, ...]
    seeds: tuple[int, ...]
    n_failed: int
    params_pct: float | None
    train_seconds: float | None

    @property
    def n(self) -> int:
        """Complete runs (seeds) averaged."""
        return len(self.scores)

    @property
    def mean(self) -> float | None:
        """Mean dev score (unscaled); None without a complete run."""
        return float(np.mean(self.scores)) if self.scores else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (``ddof=1``) of the dev score (unscaled); None with fewer than two
        runs, where it is undefined."""
        return float(np.std(self.scores, ddof=1)) if self.n > 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "task": self.task,
            "metric": self.metric,
            "n": self.n,
            "n_failed": self.n_failed,
            "mean": _json_number(self.mean),
            "std": _json_number(self.std),
            "scores": [_json_number(s) for s in self.scores],
            "seeds": list(self.seeds),
            "params_pct": _json_number(self.params_pct),
            "train_seconds": _json_number(self.train_seconds),
        }


@dataclass(frozen=True)
class Provenance:
    """One definition a method name was run with, and where it came from.

    A name usually has one definition; an AutoPEFT name such as ``autopeft-p0`` picked from one
    search per task has one per search.

    Args:
        description: what is trained (:meth:`autopeft.methods.Method.describe`).
        source: the method's ``source`` (a citation, or the search and trial it was picked from).
        source_task: the task the configuration was found on (:attr:`RunSpec.source_task`), or None.
        tasks: the tasks it was run on, in table order.
    """

    description: str
    source: str
    source_task: str | None
    tasks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "source": self.source,
            "source_task": self.source_task,
            "tasks": list(self.tasks),
        }


@dataclass(frozen=True)
class MethodSummary:
    """One row of the table.

    Args:
        name: the method's name.
        label: its display name.
        role: ``"baseline"`` or ``"autopeft"``.
        kind: ``"config"``, ``"adapters"`` or ``"full"``.
        provenance: its definitions and their sources (see :class:`Provenance`).
        params_pct: mean over its cells of their mean trainable parameters, percent of the backbone
            (lower is cheaper); None when no run completed.
        average: mean over the tasks it has results on of its per-task mean scores (unscaled; higher
            is better); None when it has none.
        n_tasks: tasks the average covers; an average over fewer tasks than the table's is not
            comparable with the others.
    """

    name: str
    label: str
    role: str
    kind: str
    provenance: tuple[Provenance, ...]
    params_pct: float | None
    average: float | None
    n_tasks: int

    @property
    def source_tasks(self) -> tuple[str, ...]:
        """Distinct tasks its configurations were found on (empty for baselines)."""
        return tuple(dict.fromkeys(p.source_task for p in self.provenance if p.source_task is not None))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "role": self.role,
            "kind": self.kind,
            "params_pct": _json_number(self.params_pct),
            "average": _json_number(self.average),
            "n_tasks": self.n_tasks,
            "source_tasks": list(self.source_tasks),
            "provenance": [p.to_dict() for p in self.provenance],
        }


@dataclass(frozen=True)
class BudgetUse:
    """A training budget (:attr:`RunSpec.budget`, before a method's own learning rate replaces the
    budget's) and where it was used.

    Args:
        budget: :meth:`autopeft.train.budget.Budget.to_dict`.
        tasks: the tasks run with it, in table order.
        n_runs: runs (complete and failed) with it.
    """

    budget: dict[str, Any]
    tasks: tuple[str, ...]
    n_runs: int

    def to_dict(self) -> dict[str, Any]:
        return {"budget": dict(self.budget), "tasks": list(self.tasks), "n_runs": self.n_runs}


@dataclass(frozen=True)
class RunsReport:
    """The results of full-fidelity runs, grouped by method (rows) and task (columns).

    Args:
        tasks: the columns, in table order (:data:`TASK_ORDER`, then others sorted).
        metrics: the dev metric of each task, aligned with ``tasks`` (several joined by ``/`` when
            the records disagree).
        methods: the rows: baselines in the order of :data:`autopeft.methods.BASELINES` (unknown
            names after, sorted), then AutoPEFT configurations by ``params_pct`` ascending.
        cells: one per (method, task) with at least one run, complete or failed.
        n_runs: records read (complete and failed).
        n_failed: failed records.
        seconds: training plus evaluation wall time summed over all records (s).
        models: distinct models run, sorted.
        budgets: distinct budgets and the tasks they were used on.
        mixed: (method, task) cells whose runs differ in more than the seed (model, effective budget,
            data seed or method definition), so their spread is not only that of the seed.
    """

    tasks: tuple[str, ...]
    metrics: tuple[str, ...]
    methods: tuple[MethodSummary, ...]
    cells: tuple[CellSummary, ...]
    n_runs: int
    n_failed: int
    seconds: float
    models: tuple[str, ...]
    budgets: tuple[BudgetUse, ...]
    mixed: tuple[tuple[str, str], ...] = ()

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    def cell(self, method: str, task: str) -> CellSummary | None:
        """The cell of ``method`` on ``task``, or None when it was not run there."""
        for cell in self.cells:
            if cell.method == method and cell.task == task:
                return cell
        return None

    def method(self, name: str) -> MethodSummary:
        """The row named ``name``.

        Raises:
            KeyError: no such row.
        """
        for row in self.methods:
            if row.name == name:
                return row
        raise KeyError(name)

    def metric(self, task: str) -> str:
        return self.metrics[self.tasks.index(task)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report (strict JSON: non-finite numbers become null; scores unscaled)."""
        return {
            "score_scale": "unscaled (the table shows scores x100)",
            "tasks": [{"task": t, "metric": m} for t, m in zip(self.tasks, self.metrics, strict=True)],
            "methods": [m.to_dict() for m in self.methods],
            "cells": [c.to_dict() for c in self.cells],
            "runs": {
                "n_runs": self.n_runs,
                "n_complete": self.n_runs - self.n_failed,
                "n_failed": self.n_failed,
                "seconds": _json_number(self.seconds),
                "models": list(self.models),
                "budgets": [b.to_dict() for b in self.budgets],
            },
            "mixed": [{"method": m, "task": t} for m, t in self.mixed],
        }


# --------------------------------------------------------------------------------------- computing
def _task_order(tasks: set[str]) -> tuple[str, ...]:
    known = [t for t in TASK_ORDER if t in tasks]
    return (*known, *sorted(tasks - set(TASK_ORDER)))


def _definition(record: RunRecord) -> str:
    """The method as run, labels and provenance text excluded (they do not change what is trained)."""
    method = record.spec.method.to_dict()
    method.pop("label")
    method.pop("source")
    return json.dumps(method, sort_keys=True)


def _setting(record: RunRecord) -> str:
    """Everything of a run but its seed and task: runs of one cell should agree on it."""
    payload = {
        "model": record.spec.model,
        "budget": record.spec.effective_budget.to_dict(),
        "data_seed": record.spec.data_seed,
        "method": _definition(record),
    }
    return json.dumps(payload, sort_keys=True)


def _cell(method: str, task: str, records: Sequence[RunRecord]) -> CellSummary:
    complete = sorted((r for r in records if r.result.ok), key=lambda r: (r.spec.seed, r.finished))
    metrics = list(dict.fromkeys(r.result.metric for r in complete))
    return CellSummary(
        method=method,
        task=task,
        metric="/".join(metrics) if metrics else None,
        scores=tuple(float(r.result.score) for r in complete if r.result.score is not None),
        seeds=tuple(r.spec.seed for r in complete),
        n_failed=len(records) - len(complete),
        params_pct=float(np.mean([r.result.params_pct for r in complete])) if complete else None,
        train_seconds=float(np.mean([r.result.train_seconds for r in complete])) if complete else None,
    )


def _row_order(rows: list[MethodSummary]) -> list[MethodSummary]:
    baseline_rank = {name: k for k, name in enumerate(BASELINES)}
    baselines = [r for r in rows if r.role == "baseline"]
    known = sorted((r for r in baselines if r.name in baseline_rank), key=lambda r: baseline_rank[r.name])
    unknown = sorted((r for r in baselines if r.name not in baseline_rank), key=lambda r: r.name)
    # A configuration that never completed has no size: it goes last rather than at an arbitrary place.
    found = sorted(
        (r for r in rows if r.role != "baseline"),
        key=lambda r: (r.params_pct is None, r.params_pct or 0.0, r.name),
    )
    return [*known, *unknown, *found]


def summarise_runs(records: Sequence[RunRecord]) -> RunsReport:
    """Group run records by (method, task) and summarise them for the table and the plot.

    Complete records give each cell's mean and sample std of the dev score (higher is better) and
    its mean trainable parameters in percent of the backbone (lower is cheaper); failed records are
    counted (``n_failed``) and never averaged. A method's average is over the tasks it has results
    on; :attr:`MethodSummary.n_tasks` says how many.

    Args:
        records: the runs (e.g. :func:`autopeft.runs.ledger.read_records`), complete and failed.

    Returns:
        The :class:`RunsReport`; rows and columns as described there.
    """
    records = list(records)
    tasks = _task_order({r.spec.task for r in records})
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    by_method: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault((record.spec.method.name, record.spec.task), []).append(record)
        by_method.setdefault(record.spec.method.name, []).append(record)

    cells = {key: _cell(key[0], key[1], group) for key, group in groups.items()}
    mixed = tuple(sorted(key for key, group in groups.items() if len({_setting(r) for r in group}) > 1))
    if mixed:
        warnings.warn(
            f"{len(mixed)} cells mix runs that differ in more than the seed (model, budget, data seed or "
            f"method definition): {[f'{m} on {t}' for m, t in mixed[:5]]}",
            UserWarning,
            stacklevel=2,
        )

    rows = []
    for name, group in by_method.items():
        first = group[0].spec
        method_cells = [cells[(name, t)] for t in tasks if (name, t) in cells]
        covered = [c for c in method_cells if c.mean is not None]
        sizes = [c.params_pct for c in covered if c.params_pct is not None]
        roles = {r.spec.role for r in group}
        # One entry per distinct definition and origin; the tasks each was run on are collected.
        origins: dict[tuple[str, str, str | None], tuple[Method, list[str]]] = {}
        for record in group:
            spec = record.spec
            key = (_definition(record), spec.method.source, spec.source_task)
            _, run_on = origins.setdefault(key, (spec.method, []))
            if spec.task not in run_on:
                run_on.append(spec.task)
        rows.append(
            MethodSummary(
                name=name,
                label=first.method.label,
                # A name run once as a search result counts as one everywhere: it belongs with the
                # AutoPEFT rows, not mixed into the baselines.
                role="autopeft" if "autopeft" in roles else "baseline",
                kind=first.method.kind,
                provenance=tuple(
                    Provenance(
                        description=method.describe(),
                        source=method.source,
                        source_task=source_task,
                        tasks=tuple(t for t in tasks if t in run_on),
                    )
                    for (_, _, source_task), (method, run_on) in origins.items()
                ),
                params_pct=float(np.mean(sizes)) if sizes else None,
                average=float(np.mean([c.mean for c in covered])) if covered else None,
                n_tasks=len(covered),
            )
        )
    rows = _row_order(rows)

    metrics = []
    for task in tasks:
        names = sorted({r.result.metric for r in records if r.spec.task == task and r.result.ok})
        metrics.append("/".join(names) if names else "?")

    budget_uses: dict[str, tuple[dict[str, Any], list[str], int]] = {}
    for record in records:
        budget = record.spec.budget.to_dict()
        key = json.dumps(budget, sort_keys=True)
        _, used_on, count = budget_uses.get(key, (budget, [], 0))
        if record.spec.task not in used_on:
            used_on.append(record.spec.task)
        budget_uses[key] = (budget, used_on, count + 1)

    order = {name: k for k, name in enumerate(r.name for r in rows)}
    return RunsReport(
        tasks=tasks,
        metrics=tuple(metrics),
        methods=tuple(rows),
        cells=tuple(
            sorted(cells.values(), key=lambda c: (order[c.method], tasks.index(c.task))),
        ),
        n_runs=len(records),
        n_failed=sum(1 for r in records if not r.result.ok),
        seconds=float(sum(r.result.train_seconds + r.result.eval_seconds for r in records)),
        models=tuple(sorted({r.spec.model for r in records})),
        budgets=tuple(
            BudgetUse(budget=b, tasks=tuple(t for t in tasks if t in used), n_runs=n)
            for b, used, n in budget_uses.values()
        ),
        mixed=mixed,
    )


# --------------------------------------------------------------------------------------- rendering
def _scaled(value: float | None) -> str:
    return _MISSING if value is None else f"{value * SCALE:.1f}"


def _pct(value: float | None) -> str:
    return _MISSING if value is None else f"{value:.3g}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _bold_rows(values: dict[str, float]) -> set[str]:
    """Names whose value is the best as displayed (rounded to 0.1 after scaling), so ties that look
    equal are bolded together."""
    if not values:
        return set()
    shown = {name: round(v * SCALE, 1) for name, v in values.items()}
    best = max(shown.values())
    return {name for name, v in shown.items() if v == best}


def _score_cell(cell: CellSummary | None, bold: bool) -> str:
    if cell is None or cell.mean is None:
        return _MISSING
    text = _scaled(cell.mean)
    if bold:
        text = f"**{text}**"
    if cell.std is not None:
        text += f" ± {_scaled(cell.std)}"
    return text


def _footnotes(report: RunsReport) -> list[str]:
    notes = ["Scores are dev-split metrics ×100 (mean ± sample std over seeds; no std with one seed)."]
    notes.append(
        "Metric per task: " + ", ".join(f"{t}: {m}" for t, m in zip(report.tasks, report.metrics, strict=True)) + "."
    )
    counts = [c.n for c in report.cells if c.n > 0]
    if counts:
        usual, _ = Counter(counts).most_common(1)[0]
        seeds = sorted({s for c in report.cells for s in c.seeds})
        text = f"Seeds per cell: {usual}"
        others = [f"{c.method} on {c.task}: {c.n}" for c in report.cells if c.n > 0 and c.n != usual]
        if others:
            text += " except " + "; ".join(others)
        notes.append(f"{text} (seeds used: {', '.join(map(str, seeds))}).")
    notes.append(
        "Params % = trainable PEFT parameters in percent of the backbone (task head excluded), mean over"
        " the tasks run; bold = best mean score of the column (the Avg. column: among methods run on every task)."
    )
    partial = [m for m in report.methods if m.average is not None and m.n_tasks < report.n_tasks]
    if partial:
        notes.append(
            "Avg. = mean of the per-task means over the tasks a method has results on; marked (k/N tasks) when "
            "it misses some, and then not comparable with the full averages."
        )
    failed = [c for c in report.cells if c.n_failed]
    if failed:
        notes.append(
            "Failed runs (counted, not averaged): "
            + "; ".join(f"{c.method} on {c.task}: {c.n_failed}" for c in failed)
            + "."
        )
    if report.mixed:
        notes.append(
            "Warning: these cells mix runs that differ in more than the seed (model, budget, data seed or "
            "method definition): " + "; ".join(f"{m} on {t}" for m, t in report.mixed) + "."
        )
    found = [m for m in report.methods if m.role == "autopeft"]
    if found:
        notes.append("AutoPEFT configurations:")
        for method in found:
            for p in method.provenance:
                where = f"found on {p.source_task}" if p.source_task else "source task not recorded"
                run_on = ", ".join(p.tasks)
                line = f"  - {method.name} ({_escape(method.label)}): `{p.description}`; {where}; run on {run_on}"
                if p.source:
                    line += f"; from {_escape(p.source)}"
                notes.append(line)
    return notes


def markdown_table(report: RunsReport) -> str:
    """The paper's results table in Markdown, followed by its footnotes.

    Rows are the methods with their trainable parameters (``Params %``, lower is cheaper); columns
    are the tasks, then ``Avg.``. A cell is the mean dev score ×100 ± its sample std ×100
    (``81.2 ± 0.4``; ``81.2`` with one seed; ``–`` when not run or every run failed); the best mean
    of each column is bold (higher is better). An average over fewer tasks than the table's is
    marked ``(k/N tasks)`` and never bolded. Footnotes give each task's metric, the seeds, failed
    runs and every AutoPEFT configuration with where it was found.
    """
    headers = ["Method", "Params %", *report.tasks, "Avg."]
    best = {
        task: _bold_rows({c.method: c.mean for c in report.cells if c.task == task and c.mean is not None})
        for task in report.tasks
    }
    best_average = _bold_rows(
        {m.name: m.average for m in report.methods if m.average is not None and m.n_tasks == report.n_tasks}
    )
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join([":---", "---:", *(["---:"] * (len(report.tasks) + 1))]) + "|",
    ]
    for method in report.methods:
        cells = [_score_cell(report.cell(method.name, task), method.name in best[task]) for task in report.tasks]
        average = _scaled(method.average)
        if method.average is not None:
            if method.name in best_average:
                average = f"**{average}**"
            if method.n_tasks < report.n_tasks:
                average += f" ({method.n_tasks}/{report.n_tasks} tasks)"
        row = [_escape(method.label), _pct(method.params_pct), *cells, average]
        lines.append("| " + " | ".join(row) + " |")
    notes = _footnotes(report)
    return "\n".join(lines) + "\n\n" + "\n".join(n if n.startswith("  - ") else f"- {n}" for n in notes) + "\n"


def _runs_section(report: RunsReport) -> str:
    hours = report.seconds / 3600.0
    lines = [
        "## Runs",
        "",
        f"- Runs: {report.n_runs} ({report.n_runs - report.n_failed} complete, {report.n_failed} failed).",
        f"- Training + evaluation time, summed over runs: {report.seconds:.0f} s ({hours:.2f} h).",
        f"- Models: {', '.join(report.models)}.",
        "- Budgets (a method with its own learning rate, such as full fine-tuning, replaces the budget's):",
    ]
    for use in report.budgets:
        settings = ", ".join(f"{k}={v}" for k, v in use.budget.items())
        lines.append(f"  - {settings}: {', '.join(use.tasks)} ({use.n_runs} runs)")
    return "\n".join(lines) + "\n"


_BASELINE_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "h", "p", "8")
#: tab10 without red, which marks AutoPEFT.
_BASELINE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:gray")


def plot_runs(report: RunsReport, path: PathLike) -> Path:
    """Plot dev score ×100 (y, higher is better) against trainable parameters in percent (x, log
    scale, lower is cheaper) and write the figure atomically.

    One panel per task, then one for the average (methods run on every task only). Baselines are
    labelled markers, one shape each; AutoPEFT configurations share a star marker and are joined by
    a line through their non-dominated points (their front); error bars are the sample std over
    seeds. Drawn with matplotlib's Agg canvas (no display, no global backend change); the format
    follows the suffix (``.png`` by default).

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels: list[tuple[str, str, list[tuple[MethodSummary, float, float, float | None]]]] = []
    for task, metric in zip(report.tasks, report.metrics, strict=True):
        points = []
        for method in report.methods:
            cell = report.cell(method.name, task)
            if cell is not None and cell.mean is not None and cell.params_pct is not None:
                points.append((method, cell.params_pct, cell.mean, cell.std))
        panels.append((task, f"{metric} ×100", points))
    full = [m for m in report.methods if m.average is not None and m.params_pct is not None]
    full = [m for m in full if m.n_tasks == report.n_tasks]
    panels.append(
        (
            f"average of {report.n_tasks} tasks (methods run on all)",
            "mean score ×100",
            [(m, m.params_pct, m.average, None) for m in full],
        )
    )

    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle("Dev score vs. trainable parameters")
    # Fixed per method, so a baseline looks the same in every panel whichever others are missing there.
    baselines = [m.name for m in report.methods if m.role == "baseline"]
    markers = {name: _BASELINE_MARKERS[k % len(_BASELINE_MARKERS)] for k, name in enumerate(baselines)}
    colours = {name: _BASELINE_COLOURS[k % len(_BASELINE_COLOURS)] for k, name in enumerate(baselines)}
    handles: dict[str, Any] = {}
    for index, (title, ylabel, points) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("trainable params (% of backbone)", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        if not points:
            ax.text(0.5, 0.5, "no results", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        for method, x, y, std in points:
            if method.role != "baseline":
                continue
            bar = ax.errorbar(
                [x],
                [y * SCALE],
                yerr=None if std is None else [std * SCALE],
                fmt=markers[method.name],
                color=colours[method.name],
                markersize=6,
                capsize=2,
                label=method.label,
                zorder=3,
            )
            handles.setdefault(method.label, bar)
            ax.annotate(method.name, (x, y * SCALE), textcoords="offset points", xytext=(4, 3), fontsize=6)
        found = sorted((p for p in points if p[0].role != "baseline"), key=lambda p: p[1])
        if found:
            xs = np.array([p[1] for p in found])
            ys = np.array([p[2] * SCALE for p in found])
            errs = [0.0 if p[3] is None else p[3] * SCALE for p in found]
            stars = ax.errorbar(
                xs, ys, yerr=errs, fmt="*", color="tab:red", markersize=10, capsize=2, label="AutoPEFT", zorder=4
            )
            handles.setdefault("AutoPEFT", stars)
            front = pareto_mask(np.column_stack([ys, xs]), ["maximize", "minimize"])
            ax.plot(xs[front], ys[front], color="tab:red", linewidth=1.2, zorder=3)
            for method, x, y, _ in found:
                ax.annotate(
                    method.name.removeprefix("autopeft-"),
                    (x, y * SCALE),
                    textcoords="offset points",
                    xytext=(4, -9),
                    fontsize=6,
                    color="tab:red",
                )
        log_x_axis(ax, [p[1] for p in points])
        ax.grid(True, which="both", alpha=0.3)
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles.keys()),
            loc="outside lower center",
            ncol=min(5, len(handles)),
            fontsize=7,
        )

    target = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=target.suffix[1:].lower() or "png")
    return atomic_write_bytes(target, buffer.getvalue())


def write_report(dirs: Sequence[str | Path], out_dir: str | Path) -> RunsReport:
    """Read the results ledgers in ``dirs`` and write ``out_dir/report.md`` (the table, its footnotes
    and a summary of the runs), ``out_dir/report.json`` (:meth:`RunsReport.to_dict`) and
    ``out_dir/report.png`` (:func:`plot_runs`), each atomically.

    Where a run appears in several ledgers (same key), the last folder given wins.

    Returns:
        The report written.

    Raises:
        UserError: a folder has no ``results.jsonl``, or the folders hold no record at all.
    """
    dirs = [Path(d) for d in dirs]
    # A mistyped folder would otherwise vanish silently from a report built from the others.
    missing = [str(d) for d in dirs if not (d / RESULTS_FILE).is_file()]
    if missing or not dirs:
        raise UserError(
            "DIR",
            missing or [],
            f"holds no {RESULTS_FILE}",
            "give the --out folders of `autopeft retrain`, `transfer` or `baselines`",
        )
    records = read_records(list(dirs))
    if not records:
        raise UserError(
            "DIR",
            [str(d) for d in dirs],
            "hold no run records",
            "run `autopeft retrain`, `transfer` or `baselines` into them first",
        )
    report = summarise_runs(records)
    out = Path(out_dir)
    text = (
        "# Full-fidelity results\n\n"
        f"From {', '.join(str(d) for d in dirs)}. Dev-split scores ×100; higher is better. "
        "Params % = trainable parameters in percent of the backbone; lower is cheaper.\n\n"
        + markdown_table(report)
        + "\n"
        + _runs_section(report)
        + "\n![Dev score vs. trainable parameters](report.png)\n"
    )
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "report.json", json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    plot_runs(report, out / "report.png")
    return report
