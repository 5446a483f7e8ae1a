"""The size scale derived from the hidden size, and how it sizes a space."""

from __future__ import annotations

import itertools

import pytest

from autopeft.errors import UserError
from autopeft.modules import size_scale
from autopeft.space import SearchSpace


def test_bert_base_scale_is_the_papers() -> None:
    assert size_scale(768) == (1, 3, 6, 12, 24, 48, 96, 192, 384, 768)


def test_minilm_scale() -> None:
    assert size_scale(384) == (1, 3, 6, 12, 24, 48, 96, 192, 384)


def test_hidden_size_one() -> None:
    assert size_scale(1) == (1,)


def test_hidden_size_two() -> None:
    assert size_scale(2) == (1, 2)


def test_odd_hidden_size_halves_with_integer_division() -> None:
    assert size_scale(100) == (1, 3, 6, 12, 25, 50, 100)
    assert size_scale(7) == (1, 3, 7)


@pytest.mark.parametrize("hidden", [1, 2, 3, 5, 16, 100, 127, 512, 768, 1000, 1024, 4096])
def test_scale_properties(hidden: int) -> None:
    scale = size_scale(hidden)
    assert scale[0] == 1
    assert scale[-1] == hidden
    assert list(scale) == sorted(set(scale)), "ascending and distinct"
    assert all(isinstance(s, int) for s in scale)
    assert 0 not in scale, "0 (off) is not part of the scale"
    # every size above 1 is the integer half of the next one up
    for lower, upper in itertools.pairwise(scale[1:]):
        assert lower == upper // 2


@pytest.mark.parametrize("hidden", [0, -1, -768])
def test_non_positive_hidden_size_is_a_user_error(hidden: int) -> None:
    with pytest.raises(UserError) as err:
        size_scale(hidden)
    assert err.value.field == "hidden_size"


def test_space_uses_the_scale_by_default() -> None:
    space = SearchSpace.named("paper", 12, 768)
    assert space.sizes == size_scale(768)
    for d in space.dimensions[12:]:
        assert d.choices == (0, *size_scale(768))


def test_space_with_explicit_sizes() -> None:
    space = SearchSpace("custom", 3, 768, ("serial",), sizes=(2, 8))
    assert space.sizes == (2, 8)
    assert space.dimensions[-1].choices == (0, 2, 8)


@pytest.mark.parametrize("sizes", [(0, 1), (-1, 2), (4, 2), (2, 2)])
def test_bad_explicit_sizes_are_a_user_error(sizes: tuple[int, ...]) -> None:
    with pytest.raises(UserError) as err:
        SearchSpace("custom", 3, 16, ("serial",), sizes=sizes)
    assert err.value.field == "sizes"
