"""The ``lora`` space: groups of layers sized from depth, the targets each family offers, the encoding,
its validity rule and exact size, saved spaces and configurations that reload, and the errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from tests.conftest import tiny_family_config
from transformers import LlamaConfig

from autopeft.errors import UserError
from autopeft.space import LoraSpace, PeftConfig, SearchSpace
from autopeft.space.lora_space import layer_groups, rank_choices

ALL = ("query", "key", "value", "attention_output", "ffn_up", "ffn_gate", "ffn_output")

#: (model type, targets offered): fused query/key/value offered once, as "query"; no gate where the
#: feed-forward has none (BERT, GPT-2, a T5 with ReLU) or fuses it with the up projection (Phi-3).
OFFERED = [
    ("llama", ALL),
    ("bert", ("query", "key", "value", "attention_output", "ffn_up", "ffn_output")),
    ("gpt2", ("query", "attention_output", "ffn_up", "ffn_output")),
    ("t5", ("query", "key", "value", "attention_output", "ffn_up", "ffn_output")),
    ("modernbert", ("query", "attention_output", "ffn_up", "ffn_output")),
    ("phi3", ("query", "attention_output", "ffn_up", "ffn_output")),
    ("nemotron", ("query", "key", "value", "attention_output", "ffn_up", "ffn_output")),
]


def lora_space(model_type: str, layers: int = 2, **kw) -> LoraSpace:
    space = SearchSpace.for_model_config("lora", tiny_family_config(model_type, layers=layers), **kw)
    assert isinstance(space, LoraSpace)
    return space


@pytest.mark.parametrize(("model_type", "targets"), OFFERED, ids=[m for m, _ in OFFERED])
def test_targets_offered_per_family(model_type, targets):
    assert lora_space(model_type).targets == targets


def test_a_gated_t5_offers_its_gate():
    config = tiny_family_config("t5")
    config.feed_forward_proj = "gated-gelu"
    config.is_gated_act, config.dense_act_fn = True, "gelu_new"
    assert SearchSpace.for_model_config("lora", config).targets == ALL


@pytest.mark.parametrize(
    ("stacks", "sizes"),
    [((6,), [1] * 6), ((32,), [4] * 8), ((12, 12), [3] * 8), ((2, 2), [1] * 4), ((5,), [1] * 5), ((10,), [2] * 5)],
)
def test_groups_of_ceil_l_over_8_layers_never_straddle_stacks(stacks, sizes):
    groups = layer_groups(stacks)
    assert [len(g) for g in groups] == sizes
    assert [i for g in groups for i in g] == list(range(sum(stacks)))  # every layer once, in order
    bounds = np.cumsum(stacks)[:-1]
    assert all(not (g[0] < b <= g[-1]) for g in groups for b in bounds)


def test_an_uneven_encoder_decoder_splits_each_stack_from_its_first_layer():
    # L = 9, g = 2: the encoder's 5 layers give groups of 2, 2, 1; the decoder's 4 give 2, 2
    assert layer_groups((5, 4)) == ((0, 1), (2, 3), (4,), (5, 6), (7, 8))


def test_a_32_layer_llm_has_8_groups_of_4_and_ranks_up_to_64():
    config = LlamaConfig(num_hidden_layers=32, hidden_size=4096, num_attention_heads=32, intermediate_size=11008)
    space = SearchSpace.for_model_config("lora", config)
    assert space.groups == tuple(tuple(range(i, i + 4)) for i in range(0, 32, 4))
    assert space.ranks == (0, 1, 2, 4, 8, 16, 32, 64)
    assert space.targets == ALL


@pytest.mark.parametrize(("hidden", "top"), [(4, 1), (7, 1), (32, 8), (384, 64), (100, 16)])
def test_rank_choices_are_powers_of_two_up_to_a_quarter_of_h(hidden, top):
    ranks = rank_choices(hidden)
    assert ranks[0] == 1 and ranks[-1] == top
    assert all(b == 2 * a for a, b in itertools.pairwise(ranks))


@pytest.mark.parametrize("model_type", ["llama", "bert", "t5", "gpt2"])
def test_encoding_round_trips_and_dimensions_are_in_order(model_type):
    space = lora_space(model_type, learning_rates=(1e-4, 1e-3))
    names = [d.name for d in space.dimensions]
    n_groups, n_targets = len(space.groups), len(space.targets)
    assert all(n.startswith("rank_") for n in names[:n_groups])
    assert names[n_groups : n_groups + n_targets] == [f"target_{t}" for t in space.targets]
    assert names[-2:] == ["alpha_scale", "learning_rate"]
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = space.sample(rng)
        vec = space.encode(config)
        assert vec.shape == (len(space.dimensions),)
        assert space.decode(vec) == config
        assert PeftConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
        options = config.options_of("lora")
        assert config.lora == max(options["ranks"])
        assert config.layers == tuple(r > 0 for r in options["ranks"])


@pytest.mark.parametrize("model_type", ["bert", "t5", "gpt2"])
def test_size_is_exact_and_validity_agrees_everywhere(model_type):
    # enumerate a small space's whole grid: decode, contains and valid_indices agree; size counts them
    space = lora_space(model_type, layers=1 if model_type == "t5" else 2)
    space = LoraSpace.from_dict({**space.to_dict(), "sizes": [1, 2], "alpha_scales": [1.0, 2.0]})
    grid = np.array(list(itertools.product(*(range(d.cardinality) for d in space.dimensions))))
    valid = space.valid_indices(grid)
    configs = [space.decode(row) for row in grid]
    assert [c.is_valid for c in configs] == list(valid)
    assert [space.contains(c) for c in configs] == list(valid)
    assert space.size == int(valid.sum()) == len({c.key() for c, v in zip(configs, valid, strict=True) if v})


def test_the_rule_of_validity():
    space = lora_space("llama")  # 2 groups, 7 targets, alpha
    rows = np.array([[0, 0, 1, *[0] * 6, 0], [1, 0, *[0] * 7, 2], [0, 3, 0, 0, 0, 0, 0, 1, 0, 3]])
    assert space.valid_indices(rows).tolist() == [False, False, True]


def test_a_space_and_its_configurations_reload():
    space = lora_space("t5", learning_rates=(3e-4,))
    assert SearchSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    assert space.to_dict()["layout"] == "lora"
    config = space.sample(np.random.default_rng(1))
    assert space.contains(PeftConfig.from_dict(json.loads(config.key())))


def test_the_other_spaces_keep_their_dicts_and_keys():
    old = PeftConfig(layers=(True, False), serial=12, lora=3)
    assert "options" not in old.to_dict()
    assert old.key() == json.dumps(
        {"layers": [True, False], "serial": 12, "parallel": 0, "prefix": 0, "lora": 3, "ia3": False}, sort_keys=True
    )
    paper = SearchSpace.named("paper", 2, 32)
    assert "layout" not in paper.to_dict() and type(SearchSpace.from_dict(paper.to_dict())) is SearchSpace


def test_describe_is_compact():
    config = PeftConfig(
        layers=(True, True, False, True),
        lora=16,
        options={"lora": {"ranks": [8, 8, 0, 16], "targets": ["ffn_up", "query", "value"], "alpha_scale": 2}},
    )
    assert config.describe() == "L[0,1,3] lora r=8,8,16 q/v/up alpha=2r"


OPTIONS = {"ranks": [8, 4], "targets": ["query"], "alpha_scale": 1.0}


def _config(ranks, targets=("query",), scale=1.0, lora=None):
    return PeftConfig(
        layers=tuple(r > 0 for r in ranks),
        lora=max(ranks) if lora is None else lora,
        options={"lora": {"ranks": ranks, "targets": targets, "alpha_scale": scale}},
    )


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (
            lambda: PeftConfig(layers=(True, True), lora=8, options={"lora": {**OPTIONS, "ranks": [8, 8, 8]}}),
            "options.lora.ranks",
        ),
        (lambda: _config([8, 3]), "options.lora.ranks"),  # 3 is no rank of the space
        (lambda: _config([8, 4], ("ffn_gate",)), "options.lora.targets"),  # BERT has no gate
        (lambda: _config([8, 4], ()), "options.lora.targets"),
        (lambda: _config([8, 4], scale=3.0), "options.lora.alpha_scale"),
        (lambda: PeftConfig(layers=(True, True), lora=8), "config"),  # the layer-bit form
    ],
)
def test_configurations_that_do_not_fit_are_refused_naming_the_field(make, field):
    space = lora_space("bert")
    with pytest.raises(UserError) as err:
        space.check(make())
    assert err.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"ranks": [8, -1], "targets": ["query"], "alpha_scale": 1}, "options.lora.ranks"),
        ({"ranks": [8, 4], "targets": ["mlp"], "alpha_scale": 1}, "options.lora.targets"),
        ({"ranks": [8, 4], "targets": ["query"], "alpha_scale": 0}, "options.lora.alpha_scale"),
        ({"ranks": [8, 4], "rank": 3}, "options.lora"),
        ({"ranks": [4, 4]}, "lora"),  # lora=8 is not the largest rank
    ],
)
def test_malformed_lora_options_are_refused(options, field):
    with pytest.raises(UserError) as err:
        PeftConfig(layers=(True, True), lora=8, options={"lora": options})
    assert err.value.field == field


def test_options_of_a_module_that_is_off_are_refused():
    with pytest.raises(UserError) as err:
        PeftConfig(layers=(True,), serial=3, options={"lora": {"ranks": [1]}})
    assert err.value.field == "options"


def test_a_grouped_layer_with_another_rank_is_refused():
    config = LlamaConfig(num_hidden_layers=16, hidden_size=64, num_attention_heads=4, intermediate_size=128)
    space = SearchSpace.for_model_config("lora", config)  # groups of 2
    with pytest.raises(UserError) as err:
        space.check(_config([8, 4] + [0] * 14))
    assert err.value.field == "options.lora.ranks"


def test_a_family_without_a_linear_target_is_refused(monkeypatch):
    import autopeft.modules.lora as lora

    monkeypatch.setattr(lora, "offered_targets", lambda sites: ())
    with pytest.raises(UserError) as err:
        lora_space("bert")
    assert err.value.field == "space" and "paper" in err.value.fix


def test_the_lora_space_is_not_a_layer_bit_space():
    with pytest.raises(UserError):
        SearchSpace.named("lora", 2, 32)


def test_layer_bits_that_disagree_with_the_ranks_are_refused():
    config = PeftConfig(layers=(True, False), lora=8, options={"lora": OPTIONS})
    with pytest.raises(UserError) as err:
        lora_space("bert").check(config)
    assert err.value.field == "layers"


def test_a_saved_space_of_an_unknown_layout_is_refused():
    with pytest.raises(UserError) as err:
        SearchSpace.from_dict({**lora_space("bert").to_dict(), "layout": "dora"})
    assert err.value.field == "space layout"
