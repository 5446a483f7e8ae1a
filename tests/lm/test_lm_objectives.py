"""A causal-LM search scored by loss: the objective ``loss`` (minimised) is derived from the settings,
kept by ``search.json``, given a reference point, and read with its direction wherever trials are ranked."""

from __future__ import annotations

import pytest

from autopeft.analysis import summarise
from autopeft.analysis.hypervolume import DEFAULT_LOSS_FACTOR, ReferencePoint, default_reference, hypervolume
from autopeft.errors import UserError
from autopeft.records.objectives import LOSS, PARAMS, SCORE, parse_objectives, score_objective
from autopeft.records.trial import TrialResult
from autopeft.study.settings import SearchSettings


def _trial(number: int, loss: float, pct: float) -> TrialResult:
    return TrialResult(config={}, status="complete", score=loss, metric="loss", params_pct=pct, number=number, seed=0)


def test_loss_is_minimised_and_may_lead_the_objectives():
    assert LOSS.direction == "minimize" and LOSS.attribute == "score"
    assert parse_objectives("loss,params,time")[0] is LOSS
    assert score_objective("loss") is LOSS and score_objective("accuracy") is SCORE
    with pytest.raises(UserError):
        parse_objectives("params,loss")


def test_the_loss_reference_is_twice_the_first_trials_loss_and_then_fixed():
    reference = ReferencePoint((LOSS, PARAMS))
    assert reference.value is None  # no default before a trial completes
    first = _trial(0, 3.0, 0.5)
    assert reference.observe([first, _trial(1, 1.0, 0.2)])
    assert reference.value.tolist() == [DEFAULT_LOSS_FACTOR * 3.0, 10.0]
    assert not reference.observe([_trial(2, 0.1, 0.1)])
    assert default_reference((LOSS, PARAMS), {"loss": 4.0}).tolist() == [4.0, 10.0]
    # a lower loss dominates more
    assert hypervolume([[1.0, 1.0]], ["minimize", "minimize"], [6.0, 10.0]) > hypervolume(
        [[2.0, 1.0]], ["minimize", "minimize"], [6.0, 10.0]
    )


def test_the_best_trial_and_the_front_rank_a_loss_from_low_to_high():
    trials = [_trial(0, 2.0, 0.1), _trial(1, 1.0, 0.5), _trial(2, 3.0, 0.5), _trial(3, 1.5, 0.1)]
    summary = summarise(trials, (LOSS, PARAMS))
    assert summary.best.number == 1
    assert [t.number for t in summary.front.trials] == [3, 1]


def test_settings_derive_the_loss_objective_and_keep_it_through_search_json():
    settings = SearchSettings(task="x.jsonl", task_kind="causal_lm", reference={"loss": 5.0})
    assert settings.objectives == ("loss", "params") and settings.objective_list[0] is LOSS
    assert SearchSettings.from_dict(settings.to_dict()) == settings
    by_match = SearchSettings(task="x.jsonl", task_kind="causal_lm", lm_score="exact_match")
    assert by_match.objectives == ("score", "params")
    assert SearchSettings(task="x.jsonl", task_kind="causal_lm", objectives="score,params,time").objectives == (
        "loss",
        "params",
        "time",
    )
    for bad in (
        {"lm_score": "exact_match"},  # not a causal-LM task
        {"objectives": ("loss", "params")},
        {"task_kind": "causal_lm", "lm_score": "bleu"},
        {"task_kind": "causal_lm", "lm_score": "exact_match", "objectives": ("loss", "params")},
    ):
        with pytest.raises(UserError):
            SearchSettings(task="x.jsonl", **bad)
