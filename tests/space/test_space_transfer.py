"""Carrying a configuration into another space (warm start): relative depth, relative size, dropped
modules, learning rates, and configurations that cannot move."""

from __future__ import annotations

import numpy as np

from autopeft.space import PeftConfig, SearchSpace
from autopeft.space.transfer import transfer


def _space(name: str = "paper", layers: int = 6, hidden: int = 384, rates: tuple[float, ...] = ()) -> SearchSpace:
    space = SearchSpace.named(name, layers, hidden)
    return SearchSpace(space.name, layers, hidden, space.modules, learning_rates=rates)


def test_same_space_keeps_the_configuration():
    space = _space()
    config = PeftConfig(layers=(True, False, True, False, False, True), serial=24, prefix=3)
    assert transfer(config, space, space) == config


def test_deeper_model_reads_the_layer_at_the_same_relative_depth():
    config = PeftConfig(layers=(False, False, True), parallel=48)
    moved = transfer(config, _space(layers=3), _space(layers=5))
    # target layer j reads source layer round(j * 2 / 4): 0, 0(0.5 rounds to 0), 1, 2(1.5 rounds to 2), 2
    assert moved is not None and moved.layers == (False, False, False, True, True)


def test_shallower_model_and_single_layer():
    config = PeftConfig(layers=(False, False, False, False, False, True), serial=6)
    assert transfer(config, _space(layers=6), _space(layers=2)).layers == (False, True)
    assert transfer(config, _space(layers=6), _space(layers=1)).layers == (True,)


def test_sizes_keep_their_fraction_of_the_hidden_size():
    config = PeftConfig(layers=(True,) * 6, serial=24, parallel=384)  # H/16 and H on a 384-wide model
    moved = transfer(config, _space(hidden=384), _space(hidden=768))
    assert moved is not None and (moved.serial, moved.parallel) == (48, 768)


def test_modules_the_target_does_not_search_are_dropped():
    extended, paper = _space("extended"), _space("paper")
    config = PeftConfig(layers=(True,) * 6, serial=12, lora=8, ia3=True)
    moved = transfer(config, extended, paper)
    assert moved is not None and moved.active_modules == ("serial",)
    # nothing left: it does not transfer
    assert transfer(PeftConfig(layers=(True,) * 6, lora=8), extended, paper) is None


def test_learning_rates_move_to_the_nearest_choice_or_are_dropped():
    plain, searched = _space(), _space(rates=(1e-4, 3e-4, 1e-3, 3e-3))
    config = PeftConfig(layers=(True,) * 6, serial=12)
    assert transfer(config, plain, searched, default_lr=2e-3).learning_rate == 3e-3
    assert transfer(config, plain, searched) is None  # no rate to take
    with_rate = PeftConfig(layers=(True,) * 6, serial=12, learning_rate=3e-4)
    assert transfer(with_rate, searched, plain).learning_rate is None
    assert transfer(with_rate, searched, _space(rates=(1e-3, 1e-2))).learning_rate == 1e-3


def test_lora_layout_configurations_move_only_into_an_equal_space():
    from tests.conftest import tiny_family_config

    lora = SearchSpace.for_model_config("lora", tiny_family_config("llama", 2, 32))
    config = lora.sample(np.random.default_rng(0))
    assert transfer(config, lora, lora) == config
    assert transfer(config, lora, _space("extended", layers=2, hidden=32)) is None
