"""Drawing the search-quality benchmark: its Markdown table and its hypervolume plot.

It draws what :func:`autopeft.benchmark.runner.summarise_benchmark` computed. Hypervolume is larger
for better fronts (score up, parameters down; see :mod:`autopeft.analysis.hypervolume`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from autopeft.render.common import PathLike, new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autopeft.benchmark.runner import BenchmarkSummary

__all__ = ["benchmark_figure", "benchmark_table", "plot_benchmark"]


def benchmark_table(summary: BenchmarkSummary) -> str:
    """A Markdown table, one row per variant: median HV at each checkpoint, trials to reach the target,
    median ask time (s), proposals drawn by the random fallback (of all proposals; "–" where not recorded);
    then the target and the best attainable HV, when known."""
    heads = [f"HV@{t}" for t in summary.checkpoints]
    lines = [
        "| variant | seeds | "
        + " | ".join(heads)
        + " | trials to random's final HV (median curve; per seed) | ask s | random fallbacks |",
        "|---|---|" + "---|" * len(heads) + "---|---|---|",
    ]
    for v in summary.variants:
        cells = [f"{v.at[t]:.4f}" if t in v.at else "–" for t in summary.checkpoints]
        per_seed = ",".join("–" if n is None else str(n) for n in v.seed_trials_to_target)
        reach = "–" if v.trials_to_target is None else str(v.trials_to_target)
        fallbacks = "–" if v.fallbacks is None else f"{v.fallbacks}/{v.proposals}"
        lines.append(
            f"| {v.variant} | {len(v.seeds)} | " + " | ".join(cells) + f" | {reach} ({per_seed}) | "
            f"{v.median_ask_seconds:.2f} | {fallbacks} |"
        )
    if summary.target is not None:
        lines.append("")
        lines.append(f"Target (random search's median HV at its last trial): {summary.target:.4f}.")
    if summary.best_hypervolume is not None and math.isfinite(summary.best_hypervolume):
        lines.append(f"Best attainable HV (true front of the whole space): {summary.best_hypervolume:.4f}.")
    return "\n".join(lines)


def benchmark_figure(summary: BenchmarkSummary, title: str = "") -> Figure:
    """Draw the median hypervolume (y) against trials (x), one line per variant with its interquartile
    band, and the target and the best attainable HV as horizontal lines.

    The y axis starts at the lowest lower quartile after the first tenth of the trials, so that the
    differences late in the search stay visible.

    Args:
        summary: the benchmark's summary.
        title: the axes' title; the problem's name when empty.

    Returns:
        The figure (7 × 4.5 inches), not yet written.
    """
    fig = new_figure(7.0, 4.5, layout=None)
    ax = fig.add_subplot()
    for v in summary.variants:
        x = np.arange(1, len(v.median) + 1)
        (line,) = ax.plot(x, v.median, label=f"{v.variant} ({len(v.seeds)} seeds)")
        ax.fill_between(x, v.q25, v.q75, color=line.get_color(), alpha=0.15)
    if summary.target is not None:
        ax.axhline(summary.target, color="grey", linestyle=":", label="random's final median")
    if summary.best_hypervolume is not None:
        ax.axhline(summary.best_hypervolume, color="black", linestyle="--", label="best attainable")
    values = [x for v in summary.variants for x in v.q25[len(v.q25) // 10 :]]
    if values:
        top = summary.best_hypervolume or max(max(v.q75) for v in summary.variants)
        ax.set_ylim(min(values), top + 0.02 * (top - min(values) + 1e-9))
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume (true scores)")
    ax.set_title(title or summary.problem)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_benchmark(summary: BenchmarkSummary, path: PathLike, title: str = "") -> Path:
    """Draw :func:`benchmark_figure` and write it to ``path`` atomically at 120 dpi (format from the
    suffix, PNG by default). Returns the path written."""
    return save_figure(benchmark_figure(summary, title), path, dpi=120)
