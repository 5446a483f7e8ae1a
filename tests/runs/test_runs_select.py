"""Picking configurations of a search: Pareto indices, trial numbers, parameter budgets."""

from __future__ import annotations

import pytest

from autopeft.analysis import summarise
from autopeft.errors import UserError
from autopeft.runs import pick_from_search
from autopeft.study.search import open_results


def test_picks_by_index_trial_and_budget(cb_search):
    settings, results = open_results(cb_search)
    front = summarise(results, settings.objective_list).front
    everything = pick_from_search(cb_search)
    assert [m.name for m in everything] == [f"autopeft-p{i}" for i in range(len(front))]
    assert all(m.kind == "config" and "superglue/cb" in m.source for m in everything)
    first = next(r for r in results if r.ok)
    (by_trial,) = pick_from_search(cb_search, trials=[first.number])
    assert by_trial.name == f"autopeft-t{first.number}" and by_trial.config.to_dict() == first.config
    largest = front.trials[-1].params_pct
    (by_budget,) = pick_from_search(cb_search, budgets=[largest])
    best = max(front.trials, key=lambda t: (t.score, -t.params_pct))
    assert by_budget.name == f"autopeft-{largest:g}" and by_budget.config.to_dict() == best.config


def test_a_configuration_picked_twice_is_kept_once(cb_search):
    settings, results = open_results(cb_search)
    front = summarise(results, settings.objective_list).front
    picked = pick_from_search(cb_search, pareto=[0], trials=[front.trials[0].number])
    assert len(picked) == 1 and "also picked as" in picked[0].source


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"pareto": [99]}, "pareto"), ({"trials": [999]}, "trials"), ({"budgets": [1e-9]}, "budgets")],
)
def test_a_selector_that_selects_nothing_is_refused(cb_search, kwargs, field):
    with pytest.raises(UserError, match=field):
        pick_from_search(cb_search, **kwargs)
