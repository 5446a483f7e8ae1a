"""Rendering: every table, CSV, JSON and plot, drawn from the data objects of :mod:`autopeft.analysis`
(and of :mod:`autopeft.benchmark`). Nothing here computes a front or a summary.

:mod:`autopeft.render.search` draws a search (text tables, ``trials.csv``, ``pareto.json``, Pareto and
hypervolume plots), :mod:`autopeft.render.runs` the report of full-fidelity runs (``report.md``,
``report.json``, ``report.png``), :mod:`autopeft.render.benchmark` the search-quality benchmark;
:mod:`autopeft.render.common` holds what they share. Each plot has a ``*_figure`` function that draws
and returns the figure and a ``plot_*`` function that writes it. Every file is written atomically
(:mod:`autopeft.records.io`).
"""

from autopeft.render.benchmark import benchmark_figure, benchmark_table, plot_benchmark
from autopeft.render.runs import markdown_table, plot_runs, runs_figure, write_report
from autopeft.render.search import (
    format_config,
    format_summary,
    hypervolume_figure,
    pareto_figure,
    pareto_table,
    plot_hypervolume,
    plot_pareto,
    trials_table,
    write_pareto_json,
    write_trials_csv,
)

__all__ = [
    "benchmark_figure",
    "benchmark_table",
    "format_config",
    "format_summary",
    "hypervolume_figure",
    "markdown_table",
    "pareto_figure",
    "pareto_table",
    "plot_benchmark",
    "plot_hypervolume",
    "plot_pareto",
    "plot_runs",
    "runs_figure",
    "trials_table",
    "write_pareto_json",
    "write_report",
    "write_trials_csv",
]
