"""Fixtures of the trackers' tests: a search as trackers see it, and report files to attach."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopeft.tracking import TrackedSearch


@pytest.fixture
def tracked(tmp_path: Path) -> TrackedSearch:
    """A search in ``tmp_path/search`` as trackers see it."""
    out = tmp_path / "search"
    out.mkdir()
    return TrackedSearch(
        out_dir=out,
        name="search",
        study_name="search",
        title="tiny on toy (random, paper space)",
        metric="accuracy",
        settings={"model": "tiny", "trials": 3, "budget.epochs": 1.0, "reference": None},
    )


@pytest.fixture
def report_files(tracked: TrackedSearch) -> list[Path]:
    """A ``pareto.json`` and a ``pareto.png`` in the search directory, as the search's report writes them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    front = tracked.out_dir / "pareto.json"
    front.write_text('{"trials": [{"number": 0, "score": 0.7}]}\n')
    plot = tracked.out_dir / "pareto.png"
    fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
    ax.plot([0, 1], [0, 1])
    fig.savefig(plot)
    plt.close(fig)
    return [front, plot]
