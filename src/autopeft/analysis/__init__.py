"""Analysis of a study: non-dominated sorting, summaries, and reports drawn from them.

Computing (:mod:`autopeft.analysis.pareto`, numpy only) is kept apart from drawing
(:mod:`autopeft.analysis.report`: tables, CSV, JSON, matplotlib plot). Files are written atomically
with :mod:`autopeft.records.io`.
"""

from autopeft.analysis.pareto import ParetoFront, StudySummary, objective_values, pareto_mask, summarise
from autopeft.analysis.report import (
    format_config,
    format_summary,
    pareto_table,
    plot_hypervolume,
    plot_pareto,
    trials_table,
    write_pareto_json,
    write_trials_csv,
)

__all__ = [
    "ParetoFront",
    "StudySummary",
    "format_config",
    "format_summary",
    "objective_values",
    "pareto_mask",
    "pareto_table",
    "plot_hypervolume",
    "plot_pareto",
    "summarise",
    "trials_table",
    "write_pareto_json",
    "write_trials_csv",
]
