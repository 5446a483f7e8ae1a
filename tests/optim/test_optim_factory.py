"""``make_optimiser``: the ``--optimizer`` names."""

from __future__ import annotations

import pytest

from autopeft.errors import UserError
from autopeft.optim import OPTIMISERS, OptunaOptimiser, make_optimiser
from autopeft.space import SearchSpace

SPACE = SearchSpace.named("paper", 3, 16)


def test_names() -> None:
    assert set(OPTIMISERS) == {"saas", "saas-map", "gp", "random", "nsga2", "tpe"}
    assert OPTIMISERS[0] == "saas"  # the default
    assert len(set(OPTIMISERS)) == len(OPTIMISERS)


def test_init_trials_below_zero_is_a_user_error_naming_the_field() -> None:
    with pytest.raises(UserError) as err:
        make_optimiser("gp", SPACE, init_trials=-1)
    assert (err.value.field, err.value.value) == ("init_trials", -1)


@pytest.mark.parametrize("name", ["random", "nsga2", "tpe"])
def test_optuna_backed_names(name: str) -> None:
    opt = make_optimiser(name, SPACE, seed=3)
    assert isinstance(opt, OptunaOptimiser)
    assert opt.sampler_name == name
    assert opt.seed == 3


@pytest.mark.parametrize("name", ["bogus", "", "TPE", "nsga-ii", "SAAS"])
def test_unknown_name_is_a_user_error_naming_the_field(name: str) -> None:
    with pytest.raises(UserError) as err:
        make_optimiser(name, SPACE)
    assert err.value.field == "optimizer"
    assert err.value.value == name
    message = str(err.value)
    assert "optimizer" in message
    for known in OPTIMISERS:
        assert known in message
