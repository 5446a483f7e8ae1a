"""Named spaces sized from a model's own (in-memory) transformers config; no model names involved."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from transformers import BertConfig, GPT2Config, LlamaConfig, RobertaConfig, T5Config

from autopeft.errors import UserError
from autopeft.modules import MODULES, size_scale
from autopeft.space import LAYOUTS, SPACES, SearchSpace


def _configs() -> list[tuple[str, Any, int, int]]:
    """(label, config, layers, hidden): tiny configs in each architecture's own vocabulary."""
    return [
        ("bert", BertConfig(num_hidden_layers=3, hidden_size=32, num_attention_heads=4, intermediate_size=64), 3, 32),
        ("roberta", RobertaConfig(num_hidden_layers=5, hidden_size=48, num_attention_heads=4), 5, 48),
        ("gpt2", GPT2Config(n_layer=4, n_embd=40, n_head=4), 4, 40),
        # an encoder-decoder: the layer bits cover the encoder's 2 layers, then the decoder's 3
        ("t5", T5Config(num_layers=2, num_decoder_layers=3, d_model=24, num_heads=2, d_kv=12, d_ff=48), 5, 24),
        ("llama", LlamaConfig(num_hidden_layers=7, hidden_size=64, num_attention_heads=4), 7, 64),
    ]


@pytest.mark.parametrize(("label", "config", "layers", "hidden"), _configs(), ids=[c[0] for c in _configs()])
@pytest.mark.parametrize("space_name", sorted(set(SPACES) - set(LAYOUTS)))  # LAYOUTS: tests/space/test_space_lora.py
def test_space_sized_from_config(label: str, config: Any, layers: int, hidden: int, space_name: str) -> None:
    space = SearchSpace.for_model_config(space_name, config)
    assert space.name == space_name
    assert space.num_layers == layers
    assert space.hidden_size == hidden
    assert space.sizes == size_scale(hidden)
    assert space.modules == SPACES[space_name]
    assert len(space.dimensions) == layers + len(SPACES[space_name])
    assert [d.name for d in space.dimensions[:layers]] == [f"layer_{i}" for i in range(layers)]
    assert [d.name for d in space.dimensions[layers:]] == list(SPACES[space_name])


@pytest.mark.parametrize(("layers", "dims"), [(12, 15), (24, 27)])
def test_paper_dimension_counts(layers: int, dims: int) -> None:
    config = BertConfig(num_hidden_layers=layers, hidden_size=768)
    space = SearchSpace.for_model_config("paper", config)
    assert len(space.dimensions) == dims
    assert space.bounds().shape == (2, dims)


def test_bert_large_shape() -> None:
    config = RobertaConfig(num_hidden_layers=24, hidden_size=1024)
    space = SearchSpace.for_model_config("paper", config)
    assert len(space.dimensions) == 27
    assert space.sizes[-1] == 1024


def test_model_name_is_ignored() -> None:
    # a name that suggests 24 layers and hidden 1024 must not matter: only the config's numbers do
    config = BertConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, name_or_path="bert-large-uncased")
    space = SearchSpace.for_model_config("paper", config)
    assert (space.num_layers, space.hidden_size) == (2, 16)
    assert len(space.dimensions) == 5


def test_plain_object_with_a_known_type_and_the_standard_attributes_works() -> None:
    config = SimpleNamespace(model_type="llama", num_hidden_layers=3, hidden_size=8)
    space = SearchSpace.for_model_config("extended", config)
    assert space.num_layers == 3
    assert len(space.dimensions) == 3 + len(MODULES)


def test_a_model_type_autopeft_cannot_place_modules_in_is_refused_by_name() -> None:
    with pytest.raises(UserError) as err:
        SearchSpace.for_model_config("paper", SimpleNamespace(model_type="albert", num_hidden_layers=3, hidden_size=8))
    assert err.value.field == "model" and err.value.value == "albert" and "llama" in err.value.fix


@pytest.mark.parametrize(
    "config",
    [
        SimpleNamespace(model_type="bert"),
        SimpleNamespace(model_type="bert", num_hidden_layers=3),
        SimpleNamespace(model_type="bert", hidden_size=8),
        SimpleNamespace(model_type="bert", num_hidden_layers="3", hidden_size=8),
        SimpleNamespace(model_type="bert", num_hidden_layers=3, hidden_size=None),
    ],
)
def test_config_without_layers_or_hidden_size_is_a_user_error(config: Any) -> None:
    with pytest.raises(UserError) as err:
        SearchSpace.for_model_config("paper", config)
    assert err.value.field == "model"


def test_unknown_space_name_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        SearchSpace.for_model_config("nope", BertConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2))
    assert err.value.field == "space"
    with pytest.raises(UserError):
        SearchSpace.named("nope", 2, 16)


def test_extended_space_dimension_kinds() -> None:
    space = SearchSpace.named("extended", 2, 16)
    kinds = {d.name: d.kind for d in space.dimensions}
    assert kinds == {
        "layer_0": "bit",
        "layer_1": "bit",
        "serial": "ordinal",
        "parallel": "ordinal",
        "prefix": "ordinal",
        "lora": "ordinal",
        "ia3": "bit",
    }
    assert space.dimensions[-1].choices == (False, True)
