"""A module kind registered from outside the package reaches the space, the configuration, the build,
the parameter table, the descriptions and the report, with no other file touched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from autopeft.build import ParamTable, build_model
from autopeft.errors import UserError
from autopeft.modules import MODULES, ModuleKind, register, size_scale, unregister
from autopeft.render import format_config
from autopeft.space import Dimension, PeftConfig, SearchSpace

H, L = 32, 3  # the tiny models of tests/conftest.py


class FeedForwardSerialKind(ModuleKind):
    """A serial bottleneck adapter after the feed-forward sub-layer (where Pfeiffer et al. put it),
    beside the built-in serial adapter after attention."""

    def attach(self, target: Any, options: Any, layers: tuple[int, ...]) -> None:
        from autopeft.modules.bottleneck import Bottleneck, SerialWrapper

        for path in target.sites.paths("ffn_output", layers):
            adapter = Bottleneck(target.hidden_size, int(options["size"]))
            wrapper = SerialWrapper(target.sites.module(path), self.adapter_name, adapter)
            target.surgery.replace(target.model, path, wrapper)


class HalfScaleKind(FeedForwardSerialKind):
    """The same adapter on a scale of its own (sizes up to H/2): it cannot share a space's one scale."""

    def scale(self, hidden_size: int) -> tuple[int, ...]:
        return size_scale(hidden_size // 2)


@pytest.fixture
def toy() -> Iterator[ModuleKind]:
    kind = register(FeedForwardSerialKind("ffn_serial", "size", "serial adapter after the feed-forward sub-layer"))
    yield kind
    unregister(kind.name)


def _perturbed_forward_backward(model: Any, tokenizer: Any) -> None:
    # up-projections start at zero, which makes the down-projections' gradients exactly zero
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    texts = ["a good film", "a bad plot and a bad actor", "what", "the scenes were long", "never again"]
    model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.sum().backward()


def test_a_space_listing_the_kind_has_its_dimension(toy: ModuleKind) -> None:
    space = SearchSpace("toy", L, H, ("serial", toy.name))
    assert space.sizes == toy.scale(H)
    assert space.dimensions[-1] == Dimension(toy.name, "ordinal", (0, *space.sizes))
    assert space.describe()[-1]["meaning"] == toy.description
    assert space.size == (2**L - 1) * ((len(space.sizes) + 1) ** 2 - 1)
    config = PeftConfig(layers=(True, False, True), ffn_serial=space.sizes[2])
    vector = space.encode(config)
    assert vector[-1] == 3.0 and vector[-2] == 0.0
    assert space.decode(vector) == config
    assert space.contains(config)
    # a space that does not list it refuses a configuration that uses it
    with pytest.raises(UserError) as err:
        SearchSpace.named("paper", L, H).check(config)
    assert err.value.field == toy.name


def test_configurations_carry_describe_and_report_the_kind(toy: ModuleKind) -> None:
    config = PeftConfig(layers=(True, False, True), serial=3, ffn_serial=6)
    assert config.ffn_serial == 6 and config.serial == 3
    assert config.active_modules == ("serial", toy.name)
    assert config.describe() == "L[0,2] serial=3 ffn_serial=6"
    data = config.to_dict()
    assert list(data) == ["layers", *MODULES] and data[toy.name] == 6
    assert PeftConfig.from_dict(data) == config
    assert PeftConfig(layers=(True, False, True), serial=3).ffn_serial == 0
    # off, it is left out of the dict: saved configurations and their keys stay as they were
    assert toy.name not in PeftConfig(layers=(True, False, True), serial=3).to_dict()
    # the report's compact form is the configuration's own
    assert format_config(data) == config.describe()
    with pytest.raises(UserError) as err:
        PeftConfig(layers=(True,), ffn_serial=-2)
    assert err.value.field == toy.name


def test_the_build_adds_the_kind_in_its_layers_and_trains_it(toy: ModuleKind, tiny_bert, tokenizer) -> None:
    size = 4
    config = PeftConfig(layers=(True, False, True), serial=3, ffn_serial=size)
    built = build_model(tiny_bert.backbone, config, num_labels=2, seed=0)
    torch.manual_seed(0)
    _perturbed_forward_backward(built.model, tokenizer)
    params = {n: p for n, p in built.model.named_parameters() if f".autopeft_{toy.name}." in f".{n}."}
    assert {layer for layer in range(L) if any(f"layer.{layer}." in n for n in params)} == {0, 2}
    for name, p in params.items():
        assert p.requires_grad and p.grad is not None and p.grad.abs().sum() > 0, name
    # a bottleneck of exactly `size` in two layers: down (H*size + size) + up (size*H + H) each
    assert built.counts.per_module[toy.name] == 2 * (H * size + size + size * H + H)
    assert built.counts.per_module[toy.name] == sum(p.numel() for p in params.values())
    built.release()


def test_the_parameter_table_measures_the_kind(toy: ModuleKind, tiny_bert) -> None:
    space = SearchSpace("toy", L, H, (toy.name, "lora"), sizes=(2, 4))
    table = ParamTable.measure(tiny_bert.backbone, space)
    rng = np.random.default_rng(0)
    for _ in range(4):
        config = space.sample(rng)
        built = build_model(tiny_bert.backbone, config, num_labels=2, seed=0)
        built.release()
        assert table.params(config) == built.counts.peft


def test_a_configuration_made_before_the_kind_was_registered_has_it_off() -> None:
    config = PeftConfig(layers=(True, False), serial=3)
    key = config.key()
    kind = register(FeedForwardSerialKind("ffn_later", "size", "registered after the configuration"))
    try:
        assert config.ffn_later == 0
        assert config.key() == key
        assert config == PeftConfig(layers=(True, False), serial=3, ffn_later=0)
    finally:
        unregister(kind.name)


def test_kinds_with_different_scales_need_the_sizes_given(toy: ModuleKind) -> None:
    half = register(HalfScaleKind("ffn_half", "size", "a serial adapter on a half scale"))
    try:
        with pytest.raises(UserError) as err:
            SearchSpace("mixed", L, H, (toy.name, half.name))
        assert err.value.field == "sizes"
        assert SearchSpace("half", L, H, (half.name,)).sizes == size_scale(H // 2)
        assert SearchSpace("mixed", L, H, (toy.name, half.name), sizes=(1, 2)).sizes == (1, 2)
    finally:
        unregister(half.name)


def test_registering_twice_and_unregistering() -> None:
    kind = FeedForwardSerialKind("ffn_once", "size", "x")
    register(kind)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register(FeedForwardSerialKind("ffn_once", "switch", "y"))
    finally:
        assert unregister("ffn_once") is kind
    assert "ffn_once" not in MODULES
    with pytest.raises(TypeError, match="ffn_once"):
        PeftConfig(layers=(True,), ffn_once=3)
    with pytest.raises(UserError) as err:
        SearchSpace("gone", L, H, ("ffn_once",))
    assert err.value.field == "modules"


@pytest.mark.parametrize("name", ["layers", "_private", "not an identifier", ""])
def test_a_kind_needs_a_usable_name(name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        FeedForwardSerialKind(name, "size", "x")


def test_a_kind_needs_a_known_dimension() -> None:
    with pytest.raises(ValueError, match="dimension"):
        FeedForwardSerialKind("ffn_odd", "range", "x")  # type: ignore[arg-type]
