"""The ledger reads itself: named objectives and real parameter values, with Optuna alone."""

from __future__ import annotations

import json

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial
from test_search import _settings

from autopeft.space import PeftConfig, SearchSpace
from autopeft.study.ledger import Ledger
from autopeft.study.search import run_search

SPACE = SearchSpace.named("extended", 3, 32)


def test_a_finished_search_reads_in_optuna_alone(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "s"
    outcome = run_search(_settings(toy_csv, trials=3, space="extended"), out, echo=lambda s: None, base=tiny_bert)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{out / 'study.db'}")
    assert study.metric_names == ["score (accuracy)", "params_pct"]
    for trial, result in zip(study.trials, outcome.results, strict=True):
        config = result.config
        assert trial.params == {
            **{f"layer_{i}": bool(on) for i, on in enumerate(config["layers"])},
            **{name: config[name] for name in SPACE.modules},
        }
        assert trial.values == [result.score, result.params_pct]


def test_a_study_written_with_indices_keeps_them(tmp_path):
    storage = f"sqlite:///{tmp_path / 'old.db'}"
    study = optuna.create_study(storage=storage, study_name="old", directions=["maximize", "minimize"])
    study.set_user_attr("space", json.dumps(SPACE.to_dict(), sort_keys=True))
    indices = {d.name: IntDistribution(0, d.cardinality - 1) for d in SPACE.dimensions}
    old = PeftConfig(layers=(True, False, True), serial=4)
    params = {d.name: int(v) for d, v in zip(SPACE.dimensions, SPACE.encode(old), strict=True)}
    study.add_trial(create_trial(state=TrialState.FAIL, params=params, distributions=indices))

    ledger = Ledger(storage, SPACE, study_name="old", metric="accuracy")
    new = PeftConfig(layers=(False, True, True), prefix=8, ia3=True)
    number = ledger.start(new)
    trial = ledger.study.trials[number]
    assert trial.params == {d.name: int(v) for d, v in zip(SPACE.dimensions, SPACE.encode(new), strict=True)}
    assert ledger.study.metric_names == ["score (accuracy)", "params_pct"]


def test_reading_a_ledger_writes_nothing(tmp_path):
    storage = f"sqlite:///{tmp_path / 'l.db'}"
    Ledger(storage, SPACE, study_name="l")  # made by a search that named no metric
    before = (tmp_path / "l.db").read_bytes()
    Ledger.load(storage, "l").results()
    assert (tmp_path / "l.db").read_bytes() == before
