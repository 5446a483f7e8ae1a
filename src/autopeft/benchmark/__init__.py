"""The search-quality benchmark: optimisers compared on problems whose every answer is known.

See ``bench/search_quality.py`` for the command, :mod:`autopeft.benchmark.problems` for the problems and
:mod:`autopeft.benchmark.runner` for runs, summaries and plots.
"""

from autopeft.benchmark.problems import (
    SURROGATE_MODELS,
    Problem,
    SurrogateFit,
    SurrogateProblem,
    SyntheticProblem,
    TrialTable,
    cross_validate,
)
from autopeft.benchmark.runner import (
    VARIANTS,
    BenchmarkSummary,
    RunRecord,
    best_hypervolume,
    format_summary_table,
    plot_summary,
    run_all,
    run_one,
    summarise_runs,
    trials_to_reach,
)

__all__ = [
    "SURROGATE_MODELS",
    "VARIANTS",
    "BenchmarkSummary",
    "Problem",
    "RunRecord",
    "SurrogateFit",
    "SurrogateProblem",
    "SyntheticProblem",
    "TrialTable",
    "best_hypervolume",
    "cross_validate",
    "format_summary_table",
    "plot_summary",
    "run_all",
    "run_one",
    "summarise_runs",
    "trials_to_reach",
]
