"""Drawing the report of full-fidelity runs: the paper's results table in Markdown, ``report.json``
and a score-vs-parameters plot.

It draws what :func:`autopeft.analysis.runs.summarise_runs` computed. Scores are stored as the
trainer records them (accuracy in [0, 1]) and shown ×100, as in the paper. :func:`write_report` reads
results ledgers and writes ``report.md``, ``report.json`` and ``report.png`` atomically
(:mod:`autopeft.records.io`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autopeft.analysis.pareto import pareto_mask
from autopeft.analysis.runs import CellSummary, MethodSummary, RunsReport, summarise_runs
from autopeft.errors import UserError
from autopeft.records.io import atomic_write_text
from autopeft.render.common import PathLike, log_x_axis, new_figure, save_figure
from autopeft.runs.ledger import RESULTS_FILE, RunRecord, read_records

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SCALE", "markdown_table", "plot_runs", "runs_figure", "write_report"]

#: Scores are shown multiplied by this (the paper's convention: accuracy 0.812 → 81.2).
SCALE = 100.0

_MISSING = "–"


# ---------------------------------------------------------------------------------------- markdown
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


def runs_figure(report: RunsReport) -> Figure:
    """Draw dev score ×100 (y, higher is better) against trainable parameters in percent (x, log
    scale, lower is cheaper).

    One panel per task, then one for the average (methods run on every task only). Baselines are
    labelled markers, one shape each; AutoPEFT configurations share a star marker and are joined by
    a line through their non-dominated points (their front); error bars are the sample std over
    seeds.

    Returns:
        The figure (up to three panels a row), not yet written.
    """
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
    fig = new_figure(4.2 * ncols, 3.4 * nrows + 0.6)
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
    return fig


def plot_runs(report: RunsReport, path: PathLike) -> Path:
    """Draw :func:`runs_figure` and write it to ``path`` atomically (format from the suffix, PNG by
    default). Returns the path written."""
    return save_figure(runs_figure(report), path)


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
    report = summarise_runs(_read_ledgers(dirs))
    out = Path(out_dir)
    atomic_write_text(out / "report.md", _report_markdown(report, dirs))
    atomic_write_text(out / "report.json", json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    plot_runs(report, out / "report.png")
    return report


def _read_ledgers(dirs: Sequence[Path]) -> list[RunRecord]:
    """Every run record of the ledgers in ``dirs`` (the last folder wins a key found in several).

    Raises:
        UserError: a folder has no ``results.jsonl``, or the folders hold no record at all.
    """
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
    return records


def _report_markdown(report: RunsReport, dirs: Sequence[Path]) -> str:
    """``report.md``: a title, where the runs came from, the table with its footnotes, the runs section
    and a link to ``report.png``."""
    return (
        "# Full-fidelity results\n\n"
        f"From {', '.join(str(d) for d in dirs)}. Dev-split scores ×100; higher is better. "
        "Params % = trainable parameters in percent of the backbone; lower is cheaper.\n\n"
        + markdown_table(report)
        + "\n"
        + _runs_section(report)
        + "\n![Dev score vs. trainable parameters](report.png)\n"
    )
