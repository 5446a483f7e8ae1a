"""A searched learning rate (``--search-lr``): a last dimension of the space that configurations carry,
encode and describe, while configurations without one keep their saved form."""

from __future__ import annotations

import numpy as np
import pytest

from autopeft.errors import UserError
from autopeft.render import format_config
from autopeft.space import PeftConfig, SearchSpace, learning_rate_choices

RATES = learning_rate_choices(1e-3)


def test_choices_are_log_spaced_around_the_budgets_rate() -> None:
    assert RATES == (1e-4, 3e-4, 1e-3, 3e-3)
    assert learning_rate_choices(2e-5) == (2e-6, 6e-6, 2e-5, 6e-5)


def test_the_space_gains_one_ordinal_dimension_and_its_size_multiplies() -> None:
    plain = SearchSpace.named("paper", 3, 32)
    searched = SearchSpace("paper", 3, 32, plain.modules, learning_rates=RATES)
    assert searched.dimensions[:-1] == plain.dimensions
    assert searched.dimensions[-1].name == "learning_rate" and searched.dimensions[-1].choices == RATES
    assert searched.size == plain.size * len(RATES)
    assert searched.module_dimensions == slice(3, 6)
    assert SearchSpace.from_dict(searched.to_dict()) == searched
    assert "learning_rates" not in plain.to_dict()  # spaces saved before it existed compare equal


def test_configurations_round_trip_and_describe_their_rate() -> None:
    space = SearchSpace("extended", 3, 32, ("serial", "lora"), learning_rates=RATES)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        config = space.sample(rng)
        assert config.learning_rate in RATES
        assert space.decode(space.encode(config)) == config
        assert PeftConfig.from_dict(config.to_dict()) == config
        assert format_config(config.to_dict()) == config.describe()
        seen.add(config.learning_rate)
    assert seen == set(RATES)
    config = PeftConfig(layers=(True, False, True), serial=4, learning_rate=3e-4)
    assert config.describe() == "L[0,2] serial=4 lr=0.0003"
    assert config != PeftConfig(layers=(True, False, True), serial=4)


def test_a_configuration_without_a_rate_keeps_its_saved_dict() -> None:
    config = PeftConfig(layers=(True,), serial=3)
    assert "learning_rate" not in config.to_dict()


def test_rates_outside_the_space_are_refused_by_field() -> None:
    space = SearchSpace("paper", 2, 32, ("serial",), learning_rates=RATES)
    with pytest.raises(UserError) as err:
        space.check(PeftConfig(layers=(True, True), serial=4, learning_rate=5e-4))
    assert err.value.field == "learning_rate"
    with pytest.raises(UserError) as err:
        SearchSpace.named("paper", 2, 32).check(PeftConfig(layers=(True, True), serial=4, learning_rate=1e-3))
    assert err.value.field == "learning_rate"
    with pytest.raises(UserError) as err:
        PeftConfig(layers=(True,), serial=1, learning_rate=-1)
    assert err.value.field == "learning_rate"
