"""``make_optimiser``: the ``--optimizer`` names."""

from __future__ import annotations

import pytest

from autopeft.errors import UserError
from autopeft.optim import OPTIMISERS, OptunaOptimiser, make_optimiser
from autopeft.space import SearchSpace

REF = (0.0, 10.0)

SPACE = SearchSpace.named("paper", 3, 16)


@pytest.mark.parametrize("name", OPTIMISERS)
def test_every_listed_name_makes_an_optimiser_that_proposes(name: str) -> None:
    opt = make_optimiser(name, SPACE, seed=0, init_trials=2, reference=REF)
    proposals = opt.ask(2)
    assert len(proposals) == 2 and all(c.is_valid and SPACE.contains(c) for c in proposals)
    assert proposals[0].key() != proposals[1].key()


def test_init_trials_below_zero_is_a_user_error_naming_the_field() -> None:
    with pytest.raises(UserError) as err:
        make_optimiser("gp", SPACE, init_trials=-1, reference=REF)
    assert (err.value.field, err.value.value) == ("init_trials", -1)


@pytest.mark.parametrize("name", ["random", "nsga2", "tpe"])
def test_optuna_backed_names(name: str) -> None:
    opt = make_optimiser(name, SPACE, seed=3, reference=REF)
    assert isinstance(opt, OptunaOptimiser)
    assert opt.sampler_name == name
    assert opt.seed == 3


@pytest.mark.parametrize("name", ["bogus", "", "TPE", "nsga-ii", "SAAS"])
def test_unknown_name_is_a_user_error_naming_the_field(name: str) -> None:
    with pytest.raises(UserError) as err:
        make_optimiser(name, SPACE, reference=REF)
    assert err.value.field == "optimizer"
    assert err.value.value == name
    message = str(err.value)
    assert "optimizer" in message
    for known in OPTIMISERS:
        assert known in message
