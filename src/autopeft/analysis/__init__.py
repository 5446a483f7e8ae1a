"""Analysis: what searches and runs found, computed as data objects (numpy; no drawing, no files).

:mod:`autopeft.analysis.pareto` (non-dominated sorting, the front and a study's summary),
:mod:`autopeft.analysis.hypervolume` (hypervolume and its curve over a search) and
:mod:`autopeft.analysis.runs` (the summary of full-fidelity runs). :mod:`autopeft.render` draws them.
"""

from autopeft.analysis.pareto import ParetoFront, StudySummary, objective_values, pareto_mask, summarise
from autopeft.analysis.runs import RunsReport, summarise_runs

__all__ = [
    "ParetoFront",
    "RunsReport",
    "StudySummary",
    "objective_values",
    "pareto_mask",
    "summarise",
    "summarise_runs",
]
