"""PeftConfig: validation, JSON round trip, describe; SearchSpace construction errors."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

from autopeft.errors import UserError
from autopeft.modules import MODULES
from autopeft.space import PeftConfig, SearchSpace


@pytest.mark.parametrize("module", ["serial", "parallel", "prefix", "lora"])
@pytest.mark.parametrize("value", [-1, -768, 1.5, 0.5, "abc", "3", None, float("nan"), float("inf"), True])
def test_bad_sizes_are_user_errors_naming_the_field(module: str, value: object) -> None:
    with pytest.raises(UserError) as err:
        PeftConfig(layers=(True,), **{module: value})  # type: ignore[arg-type]
    assert err.value.field == module
    assert module in str(err.value)


def test_integral_values_are_normalised() -> None:
    config = PeftConfig(layers=(1, 0, 1), serial=12.0, parallel=np.int64(3), ia3=1)  # type: ignore[arg-type]
    assert config.layers == (True, False, True)
    assert config.serial == 12
    assert type(config.serial) is int
    assert type(config.parallel) is int
    assert config.ia3 is True


def test_empty_layers_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        PeftConfig(layers=(), serial=3)
    assert err.value.field == "layers"


def test_active_layers_and_modules() -> None:
    config = PeftConfig(layers=(False, True, True, False, True), prefix=3, serial=12, ia3=True)
    assert config.active_layers == (1, 2, 4)
    assert config.active_modules == ("serial", "prefix", "ia3")  # the order of MODULES


@pytest.mark.parametrize(
    "config",
    [
        PeftConfig(layers=(True, False, True), serial=12),
        PeftConfig(layers=(False, True), parallel=96, prefix=3),
        PeftConfig(layers=(True,) * 12, serial=1, parallel=768, prefix=384, lora=8, ia3=True),
        PeftConfig(layers=(False, False)),  # invalid configs still serialise
    ],
)
def test_json_round_trip(config: PeftConfig) -> None:
    text = json.dumps(config.to_dict())
    data = json.loads(text)
    assert set(data) == {"layers", *MODULES}
    assert isinstance(data["layers"], list)
    again = PeftConfig.from_dict(data)
    assert again == config
    assert again.key() == config.key()
    assert hash(again) == hash(config)


def test_pickle_and_copy_round_trip() -> None:
    """Executors send configurations to other processes; copies stay equal and immutable."""
    config = PeftConfig(layers=(True, False, True), serial=12, lora=8, ia3=True)
    for again in (pickle.loads(pickle.dumps(config)), copy.deepcopy(config), copy.copy(config)):
        assert again == config and hash(again) == hash(config) and again.key() == config.key()
        assert again.serial == 12 and again.parallel == 0 and again.ia3 is True
        with pytest.raises(AttributeError):
            again.lora = 4  # type: ignore[misc]


def test_repr_rebuilds_the_config() -> None:
    config = PeftConfig(layers=(True, False), parallel=96, ia3=True)
    assert eval(repr(config)) == config


def test_key_is_stable_and_distinguishes_configs() -> None:
    a = PeftConfig(layers=(True, False), serial=3)
    assert a.key() == PeftConfig(layers=[1, 0], serial=3.0).key()  # type: ignore[arg-type]
    assert a.key() != PeftConfig(layers=(False, True), serial=3).key()
    assert a.key() != PeftConfig(layers=(True, False), parallel=3).key()
    assert json.loads(a.key())["serial"] == 3


def test_from_dict_with_defaults() -> None:
    assert PeftConfig.from_dict({"layers": [True, False], "prefix": 6}) == PeftConfig(layers=(True, False), prefix=6)


def test_from_dict_with_an_unknown_field() -> None:
    with pytest.raises(UserError) as err:
        PeftConfig.from_dict({"layers": [True], "serial": 3, "adapter_size": 64, "bogus": 1})
    assert err.value.field == "config"
    assert err.value.value == ["adapter_size", "bogus"]
    assert "adapter_size" in str(err.value)


def test_from_dict_validates_values() -> None:
    with pytest.raises(UserError) as err:
        PeftConfig.from_dict({"layers": [True], "serial": -3})
    assert err.value.field == "serial"


@pytest.mark.parametrize(
    ("config", "text"),
    [
        (
            PeftConfig(layers=(False, False, False, True, True, True), parallel=96, prefix=3),
            "L[3,4,5] parallel=96 prefix=3",
        ),
        (PeftConfig(layers=(True, False), serial=1, ia3=True), "L[0] serial=1 ia3"),
        (PeftConfig(layers=(True, True), lora=8), "L[0,1] lora=8"),
        (PeftConfig(layers=(False, False)), "L[]"),
    ],
)
def test_describe(config: PeftConfig, text: str) -> None:
    assert config.describe() == text


def test_config_is_frozen() -> None:
    config = PeftConfig(layers=(True,), serial=3)
    with pytest.raises(AttributeError):
        config.serial = 6  # type: ignore[misc]


# --- SearchSpace construction -------------------------------------------------------------------


def test_space_with_no_modules_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        SearchSpace("empty", 2, 16, ())
    assert err.value.field == "modules"
    assert "admits no valid configuration" in str(err.value)


def test_space_with_an_unknown_module_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        SearchSpace("bad", 2, 16, ("serial", "compacter"))
    assert err.value.field == "modules"
    assert err.value.value == "compacter"


def test_space_with_a_duplicate_module_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        SearchSpace("dup", 2, 16, ("serial", "prefix", "serial"))
    assert err.value.field == "modules"
    assert "twice" in str(err.value)


@pytest.mark.parametrize("layers", [0, -1])
def test_space_without_layers_is_a_user_error(layers: int) -> None:
    with pytest.raises(UserError) as err:
        SearchSpace("none", layers, 16, ("serial",))
    assert err.value.field == "num_layers"


def test_space_without_a_valid_hidden_size_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        SearchSpace("none", 2, 0, ("serial",))
    assert err.value.field == "hidden_size"


def test_user_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        SearchSpace("empty", 2, 16, ())
