"""Hypervolume: hand-computed cases, an independent exact check, and the curve over a study."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from autopeft.analysis.hypervolume import (
    DEFAULT_PARAMS_PCT_REFERENCE,
    DEFAULT_SCORE_REFERENCE,
    default_reference,
    hypervolume,
    hypervolume_curve,
)
from autopeft.records.objectives import DEFAULT_OBJECTIVES, PARAMS, SCORE, Objective

MAX2 = ["maximize", "maximize"]
SP = ["maximize", "minimize"]  # (score, params %)


def test_two_objectives_staircase() -> None:
    # rectangles [0,1]x[0,3], [0,2]x[0,2], [0,3]x[0,1]: union = 3 + 2 + 1
    assert hypervolume([[1, 3], [2, 2], [3, 1]], MAX2, [0, 0]) == pytest.approx(6.0)
    assert hypervolume([[1, 3]], MAX2, [0, 0]) == pytest.approx(3.0)
    assert hypervolume([[1, 3]], MAX2, [0.5, 1]) == pytest.approx(0.5 * 2)


def test_mixed_directions_dominated_and_outside_points() -> None:
    ref = [0.5, 10.0]
    front = [[0.8, 2.0], [0.9, 6.0], [0.7, 1.0]]
    # gains over the reference: (0.3, 8), (0.4, 4), (0.2, 9) -> 0.4*4 + 0.3*(8-4) + 0.2*(9-8)
    assert hypervolume(front, SP, ref) == pytest.approx(3.0)
    extra = [
        [0.75, 3.0],  # dominated by (0.8, 2.0)
        [0.8, 2.0],  # a repeat
        [0.4, 0.5],  # score below the reference
        [0.95, 12.0],  # params above the reference
        [0.5, 0.1],  # on the reference's score: zero width
        [0.99, 10.0],  # on the reference's params: zero height
    ]
    assert hypervolume(front + extra, SP, ref) == pytest.approx(3.0)
    assert hypervolume(extra[2:], SP, ref) == 0.0


def test_three_objectives() -> None:
    m3 = ["maximize"] * 3
    assert hypervolume([[1, 1, 1]], m3, [0, 0, 0]) == pytest.approx(1.0)
    # three boxes of volume 2 overlapping pairwise and all together in the unit cube: 6 - 3 + 1
    assert hypervolume([[2, 1, 1], [1, 2, 1], [1, 1, 2]], m3, [0, 0, 0]) == pytest.approx(4.0)
    # the same with the third objective minimised against a reference of 5 (3 -> gain 2, 4 -> gain 1)
    mixed = ["maximize", "maximize", "minimize"]
    assert hypervolume([[2, 1, 4], [1, 2, 4], [1, 1, 3]], mixed, [0, 0, 5]) == pytest.approx(4.0)
    # a point outside the box in the third objective changes nothing
    assert hypervolume([[2, 1, 4], [1, 2, 4], [1, 1, 3], [9, 9, 6]], mixed, [0, 0, 5]) == pytest.approx(4.0)


def _grid_volume(gains: np.ndarray) -> float:
    """Exact union volume of boxes [0, g] by coordinate compression (independent of BoTorch)."""
    m = gains.shape[1]
    axes = [np.unique(np.concatenate([[0.0], gains[:, k]])) for k in range(m)]
    total = 0.0
    for cell in itertools.product(*(range(1, len(a)) for a in axes)):
        upper = np.array([axes[k][c] for k, c in enumerate(cell)])
        if (gains >= upper).all(axis=1).any():
            total += float(np.prod([axes[k][c] - axes[k][c - 1] for k, c in enumerate(cell)]))
    return total


@pytest.mark.parametrize("m", [2, 3])
def test_agrees_with_an_independent_exact_computation(m: int) -> None:
    rng = np.random.default_rng(m)
    directions = ["maximize", "minimize", "maximize"][:m]
    ref = np.array([0.2, 0.8, 0.1])[:m]
    signs = np.array([1.0 if d == "maximize" else -1.0 for d in directions])
    for _ in range(5):
        points = rng.uniform(0, 1, size=(12, m))
        gains = points * signs - ref * signs
        expected = _grid_volume(gains[(gains > 0).all(axis=1)]) if (gains > 0).all(axis=1).any() else 0.0
        assert hypervolume(points, directions, ref) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_empty_single_objective_and_infinite() -> None:
    assert hypervolume(np.zeros((0, 2)), SP, [0, 10]) == 0.0
    assert hypervolume([], SP, [0, 10]) == 0.0
    assert hypervolume([[0.7], [0.9], [0.2]], ["maximize"], [0.5]) == pytest.approx(0.4)
    assert hypervolume([[3.0], [7.0]], ["minimize"], [5.0]) == pytest.approx(2.0)
    assert hypervolume([[math.inf, 1.0]], SP, [0, 10]) == math.inf
    assert hypervolume([[-math.inf, 1.0]], SP, [0, 10]) == 0.0


@pytest.mark.parametrize(
    ("points", "directions", "ref"),
    [
        ([[1.0, math.nan]], SP, [0, 10]),  # NaN
        ([[1.0, 2.0]], ["maximize"], [0]),  # column count
        ([[1.0, 2.0]], ["maximize", "up"], [0, 0]),  # direction
        ([[1.0, 2.0]], SP, [0, math.inf]),  # reference not finite
        ([[1.0, 2.0]], SP, [0]),  # reference length
        ([1.0, 2.0], SP, [0, 10]),  # 1-D points
    ],
)
def test_bad_input_is_refused(points, directions, ref) -> None:
    with pytest.raises(ValueError):
        hypervolume(points, directions, ref)


def test_default_reference() -> None:
    assert DEFAULT_SCORE_REFERENCE == 0.0
    assert DEFAULT_PARAMS_PCT_REFERENCE == 10.0
    assert default_reference().tolist() == [0.0, 10.0]
    assert default_reference(DEFAULT_OBJECTIVES, {"score": 0.5}).tolist() == [0.5, 10.0]
    assert default_reference(DEFAULT_OBJECTIVES, {"params_pct": 2.0}).tolist() == [0.0, 2.0]
    assert default_reference((PARAMS, SCORE)).tolist() == [10.0, 0.0]
    other = Objective("latency", "train_seconds", "minimize", "seconds")
    with pytest.raises(ValueError, match="latency"):
        default_reference((SCORE, other))
    assert default_reference((SCORE, other), {"latency": 60}).tolist() == [0.0, 60.0]


def test_curve_over_a_study(study) -> None:
    # trials: 0 (0.80, 0.50), 1 (0.78, 0.60) dominated, 2 (0.75, 0.05), 3 (0.84, 4.0), 4 failed,
    # 5 (0.82, 1.0), 6 (0.82, 2.0) dominated; reference (0, 10); areas summed by score, best first
    expected = [
        0.8 * 9.5,
        0.8 * 9.5,
        0.8 * 9.5 + 0.75 * 0.45,
        0.84 * 6 + 0.8 * 3.5 + 0.75 * 0.45,
        0.84 * 6 + 0.8 * 3.5 + 0.75 * 0.45,
        0.84 * 6 + 0.82 * 3 + 0.8 * 0.5 + 0.75 * 0.45,
        0.84 * 6 + 0.82 * 3 + 0.8 * 0.5 + 0.75 * 0.45,
    ]
    curve = hypervolume_curve(study)
    assert curve.shape == (7,)
    np.testing.assert_allclose(curve, expected)
    assert (np.diff(curve) >= 0).all()
    # the last value is the hypervolume of every complete trial
    points = [[t.score, t.params_pct] for t in study if t.ok]
    assert curve[-1] == pytest.approx(hypervolume(points, SP, [0, 10]))
    # an explicit reference, and a trial outside it
    np.testing.assert_allclose(hypervolume_curve(study[:1], reference=[0.7, 1.0]), [0.1 * 0.5])
    np.testing.assert_allclose(hypervolume_curve(study[3:4], reference=[0.7, 1.0]), [0.0])


def test_curve_edge_cases(make_trial) -> None:
    assert hypervolume_curve([]).shape == (0,)
    failed = [make_trial(0, None), make_trial(1, None)]
    np.testing.assert_array_equal(hypervolume_curve(failed), [0.0, 0.0])
    trials = [make_trial(0, None), make_trial(1, 0.5, 5.0), make_trial(2, None)]
    np.testing.assert_allclose(hypervolume_curve(trials), [0.0, 2.5, 2.5])
    np.testing.assert_allclose(hypervolume_curve(trials, objectives=(SCORE,)), [0.0, 0.5, 0.5])
