"""bench/collapse_rate.py: collapses, the rate over configurations that learn, the pooled within-seed sd."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
from scipy.stats import binomtest

from autopeft.benchmark import CollapseNoise

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module():
    spec = importlib.util.spec_from_file_location("collapse_rate", BENCH / "collapse_rate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_rate_and_within_sd_by_hand() -> None:
    m = _module()
    shares = {(400, 0): 0.5575, (400, 1): 0.5575, (400, 2): 0.5575}
    runs = [
        # learns with two seeds, collapses with the third (0.57 is within the margin of 0.5575)
        *(m.Run("a.json", "A", s, x, 400, 0) for s, x in ((0, 0.80), (1, 0.82), (2, 0.57))),
        # never learns: not counted
        *(m.Run("a.json", "B", s, x, 400, 0) for s, x in ((0, 0.56), (1, 0.5575))),
        *(m.Run("a.json", "C", s, x, 400, 0) for s, x in ((0, 0.70), (1, 0.74))),
        # each seed on its own validation slice: counts for the rate, not for the within-seed sd
        *(m.Run("b.json", "D", s, x, 400, s) for s, x in ((1, 0.80), (2, 0.85))),
    ]
    out = m.analyse(runs, shares, margin=0.02)
    assert (out["collapses"], out["n_runs"], out["n_configs"]) == (1, 7, 3)
    assert out["rate"] == pytest.approx(1 / 7)
    assert out["within_df"] == 2
    assert out["within_sd"] == pytest.approx(math.sqrt((2 * 0.01**2 + 2 * 0.02**2) / 2))
    exact = binomtest(1, 7).proportion_ci(confidence_level=0.95, method="exact")
    assert out["ci95"] == pytest.approx([exact.low, exact.high])
    assert out["lowest_learned_score"] == 0.70
    assert out["highest_collapsed_above_majority"] == pytest.approx(0.57 - 0.5575)


def test_the_committed_measurement_loads_as_a_noise_model() -> None:
    noise = CollapseNoise.load(BENCH / "results" / "collapse_rate.json")
    assert 0 < noise.rate < 1 and 0 < noise.within_sd < 0.1 and 0 < noise.level < 1
