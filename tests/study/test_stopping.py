"""Early stopping: the rule on hand-computed curves, the trainer's stop, the ledger and the search."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from test_search import BUDGET as SEARCH_BUDGET
from test_search import _settings as search_settings

from autopeft.errors import UserError
from autopeft.optim import make_optimiser
from autopeft.records.trial import Evaluation, TrialResult
from autopeft.space import PeftConfig, SearchSpace
from autopeft.study.search import open_results, run_search
from autopeft.study.settings import SearchSettings
from autopeft.study.stopping import ParetoStopper, StopDecision
from autopeft.train.budget import Budget
from autopeft.train.data import prepare_data
from autopeft.train.trainer import run_trial

CONFIG = {"layers": [True, True, True], "serial": 0, "parallel": 8, "prefix": 0, "lora": 0, "ia3": False}


def _complete(curve: list[float], pct: float, steps=(10, 20, 30, 40)) -> TrialResult:
    evals = tuple(Evaluation(step, step / 40, score) for step, score in zip(steps, curve, strict=True))
    return TrialResult(
        config=CONFIG, status="complete", score=curve[-1], metric="accuracy", curve=evals, params_pct=pct
    )


def _partial(*scores: float) -> list[Evaluation]:
    return [Evaluation(10 * (i + 1), (i + 1) / 4, s) for i, s in enumerate(scores)]


def test_rule_on_hand_computed_curves():
    stopper = ParetoStopper(margin=0.02, min_trials=3)
    # gains from step 10 to the end: 0.10, 0.05, 0.20; median 0.10
    stopper.update([_complete([0.70, 0.75, 0.78, 0.80], 1.0), _complete([0.80, 0.82, 0.84, 0.85], 0.1)])
    assert stopper.decide(0.5, _partial(0.5), 40) is None  # two complete trials < min_trials
    stopper.update([_complete([0.60, 0.70, 0.75, 0.80], 2.0)])
    decision = stopper.decide(0.5, _partial(0.60), 40)
    assert decision.optimistic == pytest.approx(0.60 + 0.20 + 0.02)
    assert decision.predicted == pytest.approx(0.60 + 0.10)
    assert decision.blocking == pytest.approx(0.85) and decision.stop  # 0.85 at 0.1 % > 0.82
    # the same curve with fewer parameters than every complete trial: nothing blocks it
    assert not stopper.decide(0.05, _partial(0.60), 40).stop
    # a better partial score could still reach the front
    assert not stopper.decide(0.5, _partial(0.64), 40).stop
    # at step 20 the gains are 0.05, 0.03, 0.10: optimistic 0.70 + 0.10 + 0.02 = 0.82 < 0.85
    assert stopper.decide(0.5, _partial(0.60, 0.70), 40).stop


def test_a_trial_at_the_constant_prediction_plateau_is_not_judged_early():
    stopper = ParetoStopper(margin=0.02, min_trials=3, chance=0.55, plateau_until=0.5)
    stopper.update(
        [
            _complete([0.70, 0.75, 0.78, 0.80], 1.0),
            _complete([0.80, 0.82, 0.84, 0.85], 0.1),
            _complete([0.60, 0.70, 0.75, 0.80], 2.0),
        ]
    )
    # 0.56 <= 0.55 + 0.02 at step 10 of 40 (< half): it may not have started to learn yet
    early = stopper.decide(0.5, _partial(0.56), 40)
    assert early.plateau and not early.stop and early.blocking > early.optimistic
    # below chance is the plateau too (one class predicted more often than the data has it)
    assert not stopper.decide(0.5, _partial(0.40), 40).stop
    # still at the plateau at half of its steps: judged like any other curve
    late = stopper.decide(0.5, _partial(0.56, 0.56), 40)
    assert not late.plateau and late.stop
    # the same curve in a longer trial is still early
    assert stopper.decide(0.5, _partial(0.56, 0.56), 80).plateau
    # above the plateau from the start: judged at once (as without a guard)
    above = stopper.decide(0.5, _partial(0.58), 40)
    assert not above.plateau and above.stop
    # no chance level: no guard
    assert (
        ParetoStopper(
            margin=0.02, min_trials=3, _curves=stopper._curves, _finals=stopper._finals, _front=stopper._front
        )
        .decide(0.5, _partial(0.56), 40)
        .stop
    )


def test_nearest_bounds_a_curve_by_the_gains_of_similar_curves():
    stopper = ParetoStopper(margin=0.0, min_trials=2, nearest=2)
    stopper.update(
        [
            _complete([0.50, 0.55, 0.60, 0.85], 3.0),  # from the plateau: +0.35
            _complete([0.70, 0.75, 0.78, 0.80], 1.0),  # +0.10
            _complete([0.72, 0.74, 0.76, 0.79], 2.0),  # +0.07
            _complete([0.80, 0.82, 0.84, 0.86], 0.1),  # +0.06
        ]
    )
    # at 0.71 the two nearest curves (0.70, 0.72) gained at most 0.10: 0.81 < 0.86 at 0.1 %
    near = stopper.decide(0.5, _partial(0.71), 40)
    assert near.optimistic == pytest.approx(0.81) and near.stop
    assert near.predicted == pytest.approx(0.71 + 0.085)
    # all curves: the plateau's +0.35 bounds it, and it runs on
    everyone = ParetoStopper(margin=0.0, min_trials=2)
    everyone.update([])
    everyone._curves, everyone._finals, everyone._front = stopper._curves, stopper._finals, stopper._front
    assert not everyone.decide(0.5, _partial(0.71), 40).stop
    with pytest.raises(ValueError, match="nearest"):
        ParetoStopper(min_trials=5, nearest=3)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_plateau_until_is_checked(value):
    with pytest.raises(ValueError, match="plateau_until"):
        ParetoStopper(plateau_until=value)


def test_stopped_and_failed_trials_do_not_teach_the_rule():
    stopper = ParetoStopper(min_trials=1)
    failed = TrialResult(config=CONFIG, status="failed", score=None, metric="accuracy")
    stopped = dataclasses.replace(
        _complete([0.9, 0.9, 0.9, 0.9], 0.01), status="stopped", predicted_score=0.9, stopped_at=0.5
    )
    stopper.update([failed, stopped])
    assert stopper.decide(1.0, _partial(0.1), 40) is None


def test_a_stopped_result_is_validated():
    with pytest.raises(ValueError, match="stopped"):
        TrialResult(config=CONFIG, status="stopped", score=0.5, metric="accuracy")
    with pytest.raises(ValueError, match="stopped"):
        TrialResult(config=CONFIG, status="stopped", score=0.5, metric="accuracy", predicted_score=0.6, stopped_at=1.0)


def test_trainer_stops_when_told_and_keeps_the_partial_curve(tiny_bert, toy, tokenizer):
    budget = Budget(train_examples=160, val_examples=40, epochs=1, max_length=16, evals_per_epoch=4)
    data = prepare_data(toy, tokenizer, budget, 0)
    seen: list[int] = []

    def stop_at_second(curve, total):
        seen.append(total)
        return 0.77 if len(curve) == 2 else None

    result = run_trial(tiny_bert, data, PeftConfig.from_dict(CONFIG), budget, seed=0, should_stop=stop_at_second)
    assert result.stopped and not result.ok and len(result.curve) == 2
    assert result.score == result.curve[-1].score and result.predicted_score == 0.77
    assert result.stopped_at == pytest.approx(result.curve[-1].step / 10) and seen == [10, 10]
    assert result.train_seconds > 0 and result.peft_params > 0
    full = run_trial(tiny_bert, data, PeftConfig.from_dict(CONFIG), budget, seed=0, should_stop=lambda c, t: None)
    assert full.ok and [e.step for e in full.curve] == [2, 5, 8, 10]


def test_optimisers_are_told_the_predicted_score():
    space = SearchSpace("paper", 3, 32, ("serial", "parallel", "prefix"))
    optimiser = make_optimiser("random", space, seed=0, reference=(0.0, 10.0))
    stopped = dataclasses.replace(
        _complete([0.5, 0.6, 0.6, 0.6], 0.3), status="stopped", score=0.6, predicted_score=0.7, stopped_at=0.5
    )
    assert optimiser.objective_values(stopped) == [0.7, 0.3]
    optimiser.tell([stopped])  # accepted like any finished trial
    assert PeftConfig.from_dict(CONFIG).key() in optimiser._seen


_DECISION = StopDecision(step=0, score=0.0, optimistic=0.0, predicted=0.5, blocking=1.0, plateau=False, stop=True)


def _settings(toy_csv: Path, **kw) -> SearchSettings:
    """The settings of ``test_search`` with two evaluations per trial and early stopping on."""
    budget = dataclasses.replace(SEARCH_BUDGET, evals_per_epoch=2)
    return search_settings(toy_csv, **{"trials": 5, "budget": budget, "early_stop": True, **kw})


def test_search_records_stopped_trials_reports_and_resumes(tmp_path, toy_csv, tiny_bert, monkeypatch):
    """Wiring: with a rule that stops every trial once one has completed, the search records stopped
    trials in the ledger (Optuna PRUNED), keeps them out of the front, reports them and resumes."""

    def always(self, params_pct, curve, total_steps):
        return None if not self._finals else dataclasses.replace(_DECISION, score=curve[-1].score, step=curve[-1].step)

    monkeypatch.setattr(ParetoStopper, "decide", always)
    out = tmp_path / "s"
    lines: list[str] = []
    outcome = run_search(_settings(toy_csv), out, echo=lines.append, base=tiny_bert)
    statuses = [r.status for r in outcome.results]
    assert statuses[0] == "complete" and statuses[1:] == ["stopped"] * 4
    assert any("stopped at 50 %" in line for line in lines)
    _, results = open_results(out)
    assert [r.status for r in results] == statuses and all(r.predicted_score == 0.5 for r in results[1:])
    pareto = json.loads((out / "pareto.json").read_text())
    assert [t["number"] for t in pareto["trials"]] == [0]
    assert "stopped" in (out / "trials.csv").read_text()
    resumed = run_search(dataclasses.replace(_settings(toy_csv), trials=6), out, echo=lines.append, base=tiny_bert)
    assert len(resumed.results) == 6 and resumed.results[-1].stopped


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"budget": Budget(evals_per_epoch=1)}, "`evals_per_epoch=4`"),
        ({"objectives": ("score", "params", "time")}, "`objectives=score,params`"),
        ({"stop_margin": -1.0}, "stop_margin"),
    ],
)
def test_early_stopping_settings_are_checked(toy_csv, kw, needle):
    with pytest.raises(UserError, match=needle):
        _settings(toy_csv, **kw)


def test_replay_of_a_search_without_stopping_is_the_search_with_it(tmp_path, toy_csv, tiny_bert, monkeypatch):
    """For the random optimiser, replaying the rule over a recorded search makes the same decisions as
    running the search with early stopping, and charges each stopped trial what it had spent."""
    import autopeft.study.search as search_module
    from autopeft.study.settings import load_settings
    from autopeft.study.stopping import chance_level, replay
    from autopeft.train.data import carve_splits

    monkeypatch.setattr(search_module, "DEFAULT_MIN_TRIALS", 1)
    budget = dataclasses.replace(SEARCH_BUDGET, evals_per_epoch=4, probe_examples=20)
    kw = {"trials": 8, "budget": budget, "stop_margin": 0.0}
    off = run_search(search_settings(toy_csv, **kw), tmp_path / "off", echo=lambda _: None, base=tiny_bert)
    on = run_search(
        search_settings(toy_csv, early_stop=True, **kw), tmp_path / "on", echo=lambda _: None, base=tiny_bert
    )
    settings = load_settings(tmp_path / "off")
    task = settings.load_task()
    val = carve_splits(task, settings.budget, settings.seed)[1]
    chance = chance_level(task.spec, val.labels, budget.probe_examples)
    replayed = replay(off.results, ParetoStopper(margin=0.0, min_trials=1, chance=chance))

    def decisions(results):
        return [(r.status, r.stopped_at, r.score, r.predicted_score, len(r.curve)) for r in results]

    assert decisions(replayed) == decisions(on.results)
    assert any(r.stopped for r in replayed), "the toy search should stop at least one trial"
    for full, cut in zip(off.results, replayed, strict=True):
        if cut.stopped:
            assert cut.train_seconds < full.train_seconds and cut.eval_seconds < full.eval_seconds
            assert cut.curve == full.curve[: len(cut.curve)]
        else:
            assert cut == full
