"""Configuration ⇄ vector encoding: layout, round trip, rounding and clipping, bounds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autopeft.errors import UserError
from autopeft.modules import MODULES
from autopeft.space import PeftConfig, SearchSpace


def _random_valid(space: SearchSpace, rng: np.random.Generator) -> PeftConfig:
    """A random valid config built directly (not through the encoding under test)."""
    while True:
        layers = tuple(bool(b) for b in rng.integers(0, 2, space.num_layers))
        modules: dict[str, object] = {}
        for m in space.modules:
            if MODULES[m].dimension == "size":
                i = int(rng.integers(0, len(space.sizes) + 1))
                modules[m] = 0 if i == 0 else space.sizes[i - 1]
            else:
                modules[m] = bool(rng.integers(0, 2))
        config = PeftConfig(layers=layers, **modules)  # type: ignore[arg-type]
        if config.is_valid:
            return config


SPACES_UNDER_TEST = [
    SearchSpace.named("paper", 12, 768),
    SearchSpace.named("paper", 6, 384),
    SearchSpace.named("extended", 4, 16),
    SearchSpace.named("extended", 1, 1),
    SearchSpace("custom", 3, 100, ("lora", "ia3")),
    SearchSpace("custom", 2, 16, ("ia3",)),
]
IDS = [f"{s.name}-L{s.num_layers}-H{s.hidden_size}-{'+'.join(s.modules)}" for s in SPACES_UNDER_TEST]


@pytest.mark.parametrize("space", SPACES_UNDER_TEST, ids=IDS)
def test_round_trip_many_random_configs(space: SearchSpace) -> None:
    rng = np.random.default_rng(1234)
    for _ in range(300):
        config = _random_valid(space, rng)
        vec = space.encode(config)
        assert vec.shape == (len(space.dimensions),)
        assert vec.dtype == np.float64
        assert space.decode(vec) == config
        assert space.decode(list(vec)) == config
        assert space.decode(vec.reshape(1, -1)) == config  # any shape with the right number of entries
        assert space.contains(config)


@pytest.mark.parametrize("space", SPACES_UNDER_TEST, ids=IDS)
def test_layout_matches_module_docstring(space: SearchSpace) -> None:
    """Layer bits first (0/1), then one entry per module: ordinal index (0 = off, i = sizes[i-1]) or a bit."""
    rng = np.random.default_rng(99)
    L = space.num_layers
    for _ in range(200):
        config = _random_valid(space, rng)
        vec = space.encode(config)
        assert list(vec[:L]) == [1.0 if b else 0.0 for b in config.layers]
        for j, m in enumerate(space.modules):
            value = getattr(config, m)
            code = vec[L + j]
            assert code == int(code)
            if MODULES[m].dimension == "size":
                if value == 0:
                    assert code == 0.0
                else:
                    assert code >= 1
                    assert space.sizes[int(code) - 1] == value
            else:
                assert code == (1.0 if value else 0.0)
        lower, upper = space.bounds()
        assert np.all(vec >= lower)
        assert np.all(vec <= upper)


def test_explicit_encoding_example() -> None:
    space = SearchSpace.named("paper", 4, 768)  # sizes (1, 3, 6, 12, 24, 48, 96, 192, 384, 768)
    config = PeftConfig(layers=(False, True, True, False), serial=0, parallel=96, prefix=1)
    np.testing.assert_array_equal(space.encode(config), [0, 1, 1, 0, 0, 7, 1])
    extended = SearchSpace.named("extended", 2, 768)
    config = PeftConfig(layers=(True, False), lora=768, ia3=True)
    np.testing.assert_array_equal(extended.encode(config), [1, 0, 0, 0, 0, 10, 1])


@pytest.mark.parametrize("space", SPACES_UNDER_TEST, ids=IDS)
def test_layout_is_layer_bits_then_one_ordinal_per_module(space: SearchSpace) -> None:
    """Entries 0..L-1 are the layers' bits; then one entry per module, in the space's order: 0 = off,
    i = the module's i-th size (1 = on for an on/off module)."""
    n_layers = space.num_layers
    for k, module in enumerate(space.modules):
        values = space.sizes if MODULES[module].dimension == "size" else (True,)
        for level, value in enumerate(values, start=1):
            layer = (k + level) % n_layers
            config = PeftConfig(layers=tuple(i == layer for i in range(n_layers)), **{module: value})
            expected = np.zeros(n_layers + len(space.modules))
            expected[layer], expected[n_layers + k] = 1, level
            np.testing.assert_array_equal(space.encode(config), expected)


@pytest.mark.parametrize("space", SPACES_UNDER_TEST, ids=IDS)
def test_bounds(space: SearchSpace) -> None:
    bounds = space.bounds()
    d = len(space.dimensions)
    assert bounds.shape == (2, d)
    np.testing.assert_array_equal(bounds[0], np.zeros(d))
    expected_upper = [1.0] * space.num_layers + [
        float(len(space.sizes)) if MODULES[m].dimension == "size" else 1.0 for m in space.modules
    ]
    np.testing.assert_array_equal(bounds[1], expected_upper)
    # the corners decode to the smallest and the largest configuration
    top = space.decode(bounds[1])
    assert all(top.layers)
    for m in space.modules:
        assert getattr(top, m) == (space.sizes[-1] if MODULES[m].dimension == "size" else True)
    assert not space.decode(bounds[0]).is_valid


def test_decode_rounds_to_the_nearest_index() -> None:
    space = SearchSpace.named("paper", 3, 768)
    config = space.decode([0.49, 0.51, 1.2, 0.4, 2.6, 9.49])
    assert config.layers == (False, True, True)
    assert (config.serial, config.parallel, config.prefix) == (0, space.sizes[2], space.sizes[8])


def test_decode_clips_out_of_range_values() -> None:
    space = SearchSpace.named("extended", 2, 16)  # sizes (1, 2, 4, 8, 16)
    config = space.decode([-5.0, 7.0, 100.0, -1.0, 5.4, 1e9, 3.0])
    assert config.layers == (False, True)
    assert config.serial == 16
    assert config.parallel == 0
    assert config.prefix == 16
    assert config.lora == 16
    assert config.ia3 is True


def test_decode_random_real_vectors_lands_on_the_grid() -> None:
    space = SearchSpace.named("extended", 5, 64)
    rng = np.random.default_rng(7)
    lower, upper = space.bounds()
    for _ in range(300):
        vec = rng.uniform(lower - 2, upper + 2)
        config = space.decode(vec)
        assert len(config.layers) == 5
        for m in space.modules:
            value = getattr(config, m)
            if MODULES[m].dimension == "size":
                assert value == 0 or value in space.sizes
        # re-encoding a valid decode gives the rounded, clipped vector
        if config.is_valid:
            np.testing.assert_array_equal(space.encode(config), np.clip(np.rint(vec), lower, upper))


def test_decode_does_not_validate() -> None:
    space = SearchSpace.named("paper", 2, 16)
    assert space.decode([0, 0, 3, 0, 0]).is_valid is False  # no layer on
    assert space.decode([1, 0, 0, 0, 0]).is_valid is False  # no module on


def test_decode_wrong_length_raises() -> None:
    space = SearchSpace.named("paper", 2, 16)
    with pytest.raises(ValueError, match="5 dimensions"):
        space.decode([1, 1, 1])


def test_encode_rejects_configs_outside_the_space() -> None:
    space = SearchSpace.named("paper", 2, 16)
    with pytest.raises(UserError):
        space.encode(PeftConfig(layers=(True, True, True), serial=16))
    with pytest.raises(UserError):
        space.encode(PeftConfig(layers=(True, True), lora=16))
    with pytest.raises(UserError):
        space.encode(PeftConfig(layers=(False, False), serial=16))


def test_space_dict_round_trip() -> None:
    for space in SPACES_UNDER_TEST:
        data = json.loads(json.dumps(space.to_dict()))
        again = SearchSpace.from_dict(data)
        assert again == space
        assert again.dimensions == space.dimensions


def test_space_from_dict_without_sizes_uses_the_scale() -> None:
    space = SearchSpace.from_dict({"name": "paper", "num_layers": 2, "hidden_size": 768, "modules": ["serial"]})
    assert space.sizes[-1] == 768


def test_space_describe_has_one_row_per_dimension() -> None:
    space = SearchSpace.named("extended", 3, 16)
    rows = space.describe()
    assert [r["name"] for r in rows] == [d.name for d in space.dimensions]
    assert rows[0]["kind"] == "bit"
    assert rows[0]["choices"] == [False, True]
    assert rows[3]["name"] == "serial"
    assert rows[3]["choices"] == [0, 1, 2, 4, 8, 16]
    assert rows[3]["meaning"] == MODULES["serial"].description
    assert all(isinstance(r["meaning"], str) and r["meaning"] for r in rows)
    json.dumps(rows)  # printable as JSON
