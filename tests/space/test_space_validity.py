"""Validity, membership checks, counting and sampling."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from autopeft.errors import UserError
from autopeft.modules import MODULES
from autopeft.space import PeftConfig, SearchSpace


def _brute_force_valid(space: SearchSpace) -> list[PeftConfig]:
    """Every valid member of ``space``, enumerated from PeftConfig values (not from the encoding)."""
    choices = [(0, *space.sizes) if MODULES[m].dimension == "size" else (False, True) for m in space.modules]
    out = []
    for layers in itertools.product((False, True), repeat=space.num_layers):
        for values in itertools.product(*choices):
            config = PeftConfig(layers=layers, **dict(zip(space.modules, values, strict=True)))  # type: ignore[arg-type]
            if space.contains(config):
                out.append(config)
    return out


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        (SearchSpace("tiny", 3, 2, ("serial", "parallel"), sizes=(1, 2)), 7 * 8),
        (SearchSpace("tiny", 3, 2, ("serial",), sizes=(1, 2)), 7 * 2),
        (SearchSpace("tiny", 2, 2, ("serial", "ia3"), sizes=(1, 2)), 3 * 5),
        (SearchSpace("tiny", 1, 1, ("ia3",)), 1),
        (SearchSpace.named("paper", 2, 4), 3 * (4**3 - 1)),
        (SearchSpace.named("extended", 2, 2), 3 * (3**4 * 2 - 1)),
    ],
)
def test_size_equals_brute_force_count(space: SearchSpace, expected: int) -> None:
    valid = _brute_force_valid(space)
    assert len(valid) == expected
    assert space.size == expected
    assert len({c.key() for c in valid}) == expected


def test_paper_space_size_for_bert_base() -> None:
    space = SearchSpace.named("paper", 12, 768)
    assert space.size == (2**12 - 1) * (11**3 - 1)


def test_validity_rules() -> None:
    assert PeftConfig(layers=(True, False), serial=3).is_valid
    assert PeftConfig(layers=(False, True), ia3=True).is_valid
    assert not PeftConfig(layers=(False, False), serial=3).is_valid, "no layer on"
    assert not PeftConfig(layers=(True, True)).is_valid, "no module on"
    assert not PeftConfig(layers=(False,)).is_valid


def test_check_accepts_a_valid_member() -> None:
    space = SearchSpace.named("paper", 3, 768)
    config = PeftConfig(layers=(True, False, True), parallel=96, prefix=3)
    space.check(config)
    assert space.contains(config)


def _check_error(space: SearchSpace, config: PeftConfig) -> UserError:
    with pytest.raises(UserError) as err:
        space.check(config)
    assert not space.contains(config)
    return err.value


def test_check_wrong_number_of_layer_bits() -> None:
    space = SearchSpace.named("paper", 3, 768)
    for n in (1, 2, 4, 12):
        err = _check_error(space, PeftConfig(layers=(True,) * n, serial=3))
        assert err.field == "layers"
        assert err.value == n
        assert "3" in str(err)


def test_check_size_not_on_the_scale() -> None:
    space = SearchSpace.named("paper", 2, 768)
    for module, value in (("serial", 5), ("parallel", 1000), ("prefix", 2)):
        err = _check_error(space, PeftConfig(layers=(True, True), **{module: value}))
        assert err.field == module
        assert err.value == value
        assert "scale" in str(err)


def test_check_module_not_in_the_space() -> None:
    space = SearchSpace.named("paper", 2, 768)
    err = _check_error(space, PeftConfig(layers=(True, True), serial=3, lora=8))
    assert err.field == "lora"
    assert "paper" in str(err)
    err = _check_error(space, PeftConfig(layers=(True, True), serial=3, ia3=True))
    assert err.field == "ia3"
    # a module outside the space that is off is fine
    assert space.contains(PeftConfig(layers=(True, True), serial=3, lora=0, ia3=False))


@pytest.mark.parametrize(
    "config",
    [PeftConfig(layers=(False, False), serial=3), PeftConfig(layers=(True, False))],
    ids=["no-layer", "no-module"],
)
def test_check_invalid_config(config: PeftConfig) -> None:
    err = _check_error(SearchSpace.named("paper", 2, 768), config)
    assert err.field == "config"
    assert "at least one layer and one module" in str(err)


def test_sample_returns_only_valid_members() -> None:
    rng = np.random.default_rng(0)
    for space in (
        SearchSpace.named("paper", 12, 768),
        SearchSpace.named("extended", 3, 16),
        SearchSpace("tiny", 1, 1, ("ia3",)),
        SearchSpace("tiny", 2, 16, ("serial",), sizes=(1,)),
    ):
        for _ in range(300):
            config = space.sample(rng)
            assert config.is_valid
            space.check(config)


def test_sample_is_deterministic_under_a_seed() -> None:
    space = SearchSpace.named("extended", 6, 64)
    a = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a == b
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    assert [space.sample(rng1) for _ in range(50)] == [space.sample(rng2) for _ in range(50)]
    rng3 = np.random.default_rng(6)
    rng1 = np.random.default_rng(5)
    assert [space.sample(rng1) for _ in range(50)] != [space.sample(rng3) for _ in range(50)]


def test_sample_is_uniform_over_a_tiny_space() -> None:
    space = SearchSpace("tiny", 3, 2, ("serial",), sizes=(1, 2))  # 7 layer masks x 2 sizes = 14 configs
    rng = np.random.default_rng(42)
    n = 2800
    counts = Counter(space.sample(rng).key() for _ in range(n))
    assert len(counts) == space.size
    expected = n / space.size
    for count in counts.values():
        assert abs(count - expected) < 0.3 * expected


def test_sample_layers_on_counts_follow_the_binomial_shape() -> None:
    """Uniform over valid configs ⇒ layer masks uniform over non-empty masks ⇒ P(k on) ∝ C(L, k)."""
    L = 6
    space = SearchSpace.named("paper", L, 16)
    rng = np.random.default_rng(3)
    n = 2520
    counts = Counter(sum(space.sample(rng).layers) for _ in range(n))
    assert 0 not in counts
    for k in range(1, L + 1):
        expected = n * math.comb(L, k) / (2**L - 1)
        assert abs(counts[k] - expected) < 0.25 * expected + 15, (k, counts[k], expected)
