"""Non-dominated sorting and the front/summary data objects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autopeft.analysis import ParetoFront, pareto_mask, summarise
from autopeft.records.objectives import PARAMS, SCORE, Objective


def test_mask_two_objectives_max_min() -> None:
    # (score up, params down)
    points = np.array(
        [
            [0.80, 0.5],  # front
            [0.78, 0.6],  # dominated by row 0
            [0.75, 0.05],  # front (fewest params)
            [0.84, 4.0],  # front (best score)
            [0.80, 0.7],  # dominated by row 0 (equal score, more params)
            [0.74, 0.05],  # dominated by row 2 (equal params, lower score)
        ]
    )
    mask = pareto_mask(points, ["maximize", "minimize"])
    assert mask.dtype == bool and mask.shape == (6,)
    assert mask.tolist() == [True, False, True, True, False, False]


def test_mask_direction_matters() -> None:
    points = np.array([[1.0, 1.0], [2.0, 2.0], [1.0, 2.0], [2.0, 1.0]])
    assert pareto_mask(points, ["minimize", "minimize"]).tolist() == [True, False, False, False]
    assert pareto_mask(points, ["maximize", "maximize"]).tolist() == [False, True, False, False]
    assert pareto_mask(points, ["maximize", "minimize"]).tolist() == [False, False, False, True]
    assert pareto_mask(points, ["minimize", "maximize"]).tolist() == [False, False, True, False]


def test_mask_three_objectives_mixed() -> None:
    # (maximize, minimize, maximize)
    points = [
        [1.0, 1.0, 1.0],  # front
        [1.0, 1.0, 0.5],  # dominated by row 0 (worse in the third only)
        [2.0, 3.0, 0.0],  # front (best first objective)
        [0.5, 0.5, 0.0],  # front (best second objective)
        [0.5, 2.0, 2.0],  # front (best third objective)
        [0.4, 2.0, 2.0],  # dominated by row 4
        [1.0, 1.0, 1.0],  # duplicate of row 0: kept
    ]
    mask = pareto_mask(np.array(points), ["maximize", "minimize", "maximize"])
    assert mask.tolist() == [True, False, True, True, True, False, True]


def test_mask_duplicates_all_kept_or_all_dropped() -> None:
    points = np.array([[0.9, 1.0], [0.9, 1.0], [0.9, 1.0], [0.5, 2.0], [0.5, 2.0]])
    assert pareto_mask(points, ["maximize", "minimize"]).tolist() == [True, True, True, False, False]


def test_mask_all_identical_and_single() -> None:
    assert pareto_mask(np.ones((4, 2)), ["maximize", "minimize"]).tolist() == [True] * 4
    assert pareto_mask(np.array([[0.3, 7.0]]), ["maximize", "minimize"]).tolist() == [True]


def test_mask_empty() -> None:
    mask = pareto_mask(np.zeros((0, 2)), ["maximize", "minimize"])
    assert mask.shape == (0,) and mask.dtype == bool


def test_mask_infinities() -> None:
    points = np.array([[np.inf, 5.0], [1.0, -np.inf], [0.0, 0.0]])
    assert pareto_mask(points, ["maximize", "minimize"]).tolist() == [True, True, False]


def test_mask_matches_brute_force_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    import autopeft.analysis.pareto as pareto

    rng = np.random.default_rng(0)
    points = rng.integers(0, 5, size=(60, 3)).astype(float)  # many ties and duplicates
    directions = ["maximize", "minimize", "minimize"]
    signs = np.array([-1.0, 1.0, 1.0])
    costs = points * signs
    expected = [
        not any((costs[j] <= costs[i]).all() and (costs[j] < costs[i]).any() for j in range(60)) for i in range(60)
    ]
    assert pareto_mask(points, directions).tolist() == expected
    monkeypatch.setattr(pareto, "_BLOCK_CELLS", 7)  # force many small blocks
    assert pareto_mask(points, directions).tolist() == expected


@pytest.mark.parametrize(
    ("points", "directions", "message"),
    [
        (np.zeros(3), ["maximize"], "expected"),
        (np.zeros((2, 2)), ["maximize"], "directions"),
        (np.zeros((2, 2)), ["maximize", "up"], "directions\\[1\\]"),
        (np.array([[1.0, np.nan]]), ["maximize", "minimize"], "NaN"),
    ],
)
def test_mask_rejects_bad_input(points: np.ndarray, directions: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pareto_mask(points, directions)  # type: ignore[arg-type]


def test_front_ignores_failed_and_sorts(study) -> None:
    front = ParetoFront.from_trials(study)
    assert front.numbers == (2, 0, 5, 3)
    assert [t.params_pct for t in front] == sorted(t.params_pct for t in front)
    assert all(t.ok for t in front)
    assert len(front) == 4
    assert front.objectives == (SCORE, PARAMS)
    np.testing.assert_allclose(front.values(), [[0.75, 0.05], [0.80, 0.5], [0.82, 1.0], [0.84, 4.0]])


def test_front_of_only_failed_or_nothing(make_trial) -> None:
    assert len(ParetoFront.from_trials([])) == 0
    assert len(ParetoFront.from_trials([make_trial(0, None), make_trial(1, None)])) == 0


def test_front_keeps_duplicates_in_number_order(make_trial) -> None:
    trials = [make_trial(3, 0.8, 1.0), make_trial(1, 0.8, 1.0), make_trial(2, 0.7, 1.0)]
    assert ParetoFront.from_trials(trials).numbers == (1, 3)


def test_front_other_objectives(make_trial) -> None:
    speed = Objective("speed", "tokens_per_second", "maximize", "tokens / s")
    trials = [
        make_trial(0, 0.8, 1.0, tokens_per_second=100.0),
        make_trial(1, 0.7, 2.0, tokens_per_second=300.0),
        make_trial(2, 0.6, 3.0, tokens_per_second=200.0),
    ]
    front = ParetoFront.from_trials(trials, objectives=(SCORE, speed))
    assert front.numbers == (0, 1)
    assert front.objectives == (SCORE, speed)


def test_front_to_dict(study) -> None:
    data = ParetoFront.from_trials(study).to_dict()
    json.dumps(data, allow_nan=False)  # JSON-ready
    assert [o["name"] for o in data["objectives"]] == ["score", "params"]
    assert [o["direction"] for o in data["objectives"]] == ["maximize", "minimize"]
    entries = data["trials"]
    assert [e["rank"] for e in entries] == [0, 1, 2, 3]
    assert [e["number"] for e in entries] == [2, 0, 5, 3]
    first = entries[0]
    assert set(first) == {
        "rank",
        "number",
        "config",
        "score",
        "metric",
        "metrics",
        "peft_params",
        "head_params",
        "backbone_params",
        "params_pct",
        "train_seconds",
    }
    assert first["config"]["prefix"] == 1
    assert first["score"] == 0.75 and first["metric"] == "accuracy"
    assert first["metrics"] == {"accuracy": 0.75, "f1": pytest.approx(0.74)}
    assert first["peft_params"] == 50 and first["head_params"] == 148_610
    assert first["backbone_params"] == 100_000
    assert first["params_pct"] == 0.05 and first["train_seconds"] == 12.5


def test_front_to_dict_non_finite_metric_is_null(make_trial) -> None:
    trial = make_trial(0, 0.5, 1.0, metrics={"accuracy": 0.5, "matthews": float("nan")})
    data = ParetoFront.from_trials([trial]).to_dict()
    assert data["trials"][0]["metrics"]["matthews"] is None
    json.dumps(data, allow_nan=False)


def test_summarise(study, make_trial) -> None:
    study = [*study, make_trial(7, None), make_trial(8, None, error="CUDA out of memory")]
    summary = summarise(study)
    assert (summary.n_total, summary.n_complete, summary.n_failed) == (9, 6, 3)
    assert summary.best is not None and summary.best.number == 3
    assert summary.best_score == 0.84
    assert summary.metric == "accuracy"
    assert summary.front.numbers == (2, 0, 5, 3)
    assert summary.failures == (("TrialError: loss is NaN at step 17", 2), ("CUDA out of memory", 1))
    assert summary.train_seconds == pytest.approx(9 * 12.5)
    assert [t.number for t in summary.complete] == [0, 1, 2, 3, 5, 6]
    json.dumps(summary.to_dict(), allow_nan=False)


def test_summarise_best_tie_prefers_fewer_params(make_trial) -> None:
    summary = summarise([make_trial(0, 0.9, 2.0), make_trial(1, 0.9, 1.0)])
    assert summary.best is not None and summary.best.number == 1


def test_summarise_nothing_complete(make_trial) -> None:
    summary = summarise([make_trial(0, None)])
    assert summary.best is None and summary.best_score is None and summary.metric is None
    assert len(summary.front) == 0
    assert summarise([]).n_total == 0
