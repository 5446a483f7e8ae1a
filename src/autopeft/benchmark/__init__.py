"""The search-quality benchmark: optimisers compared on problems whose every answer is known.

See ``bench/search_quality.py`` for the command, :mod:`autopeft.benchmark.problems` for the problems and
:mod:`autopeft.benchmark.runner` for runs and summaries; :mod:`autopeft.render.benchmark` draws them.
"""

from autopeft.benchmark.problems import (
    SURROGATE_MODELS,
    CollapseNoise,
    Problem,
    SurrogateFit,
    SurrogateProblem,
    SyntheticProblem,
    TableSpace,
    TabularProblem,
    TrialTable,
    cross_validate,
)
from autopeft.benchmark.runner import (
    VARIANTS,
    BenchmarkRun,
    BenchmarkSummary,
    best_hypervolume,
    run_all,
    run_one,
    summarise_benchmark,
    trials_to_reach,
)

__all__ = [
    "SURROGATE_MODELS",
    "VARIANTS",
    "BenchmarkRun",
    "BenchmarkSummary",
    "CollapseNoise",
    "Problem",
    "SurrogateFit",
    "SurrogateProblem",
    "SyntheticProblem",
    "TableSpace",
    "TabularProblem",
    "TrialTable",
    "best_hypervolume",
    "cross_validate",
    "run_all",
    "run_one",
    "summarise_benchmark",
    "trials_to_reach",
]
