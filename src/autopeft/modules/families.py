"""Where PEFT modules go in each model family: a table of module names, like HF PEFT's target-module
mappings, one :class:`Family` per group of ``transformers`` model types that share a layout.

A module kind names the *roles* it needs (:data:`ROLES`); the family says which module plays each role
in a layer, as a dotted path relative to that layer. The layers are the modules of the family's
:attr:`Family.stacks` (encoder layers, then decoder layers for an encoder-decoder). A path part may be a
negative index (``layer.-1`` is the last sub-layer: T5's feed-forward sub-layer is ``layer.1`` in the
encoder and ``layer.2`` in the decoder). A path may give alternatives separated by ``|``; the first that
exists is used (T5's feed-forward is ``DenseReluDense.wi`` or, gated, ``DenseReluDense.wi_0``).

A model type that is in no family is refused (:func:`family_for`): a module placed by guesswork would
train, report numbers and mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopeft.errors import UserError

#: What a module kind may need from a layer:
#:
#: - ``self_attention``: the self-attention module (prefix-tuning attaches its keys and values there;
#:   cross-attention never gets a prefix);
#: - ``query``, ``key``, ``value``: the projections of self-attention (LoRA, (IA)³); a family with fused
#:   projections names the fused module for each;
#: - ``attention_output``: the output projection of self-attention (the serial adapter follows it);
#: - ``ffn_input``: a module whose input is the feed-forward block's input (the parallel adapter reads it);
#: - ``ffn_up``: the feed-forward block's up projection (hidden size → intermediate size; a family with
#:   a fused gate/up projection names the fused module); a LoRA target of the ``lora`` space;
#: - ``ffn_gate``: the gate projection of a gated feed-forward block (Llama's ``gate_proj``, gated T5's
#:   ``wi_0``); absent where there is none or it is fused into ``ffn_up``; a LoRA target;
#: - ``ffn_output``: the feed-forward block's last projection (the parallel adapter adds to its output;
#:   (IA)³ rescales its input; a serial adapter placed "after the feed-forward" follows it).
#:
#: A layer may lack a role its family names (a T5 without a gated feed-forward has no ``wi_0``):
#: :meth:`autopeft.modules.sites.Sites.path` then gives None.
ROLES = (
    "self_attention",
    "query",
    "key",
    "value",
    "attention_output",
    "ffn_input",
    "ffn_up",
    "ffn_gate",
    "ffn_output",
)


@dataclass(frozen=True)
class Family:
    """The layout of one group of model types.

    Args:
        name: the family's name in messages and README's table.
        model_types: ``config.model_type`` values that have this layout.
        stacks: dotted paths, relative to the model's base model (``model.base_model``), of the lists of
            layers, in order (encoder, then decoder). Layer bits number the layers of all stacks in order.
        roles: ``{role: path relative to a layer}``; a role the family lacks is absent.
        notes: what differs from the other families, for ``autopeft space`` and README (fused
            projections, for example).
    """

    name: str
    model_types: tuple[str, ...]
    stacks: tuple[str, ...]
    roles: dict[str, str] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"family {self.name!r}: unknown roles {sorted(unknown)}; known: {ROLES}")


_BERT_LIKE = {
    "self_attention": "attention.self",
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "ffn_input": "intermediate.dense",
    "ffn_up": "intermediate.dense",
    "ffn_output": "output.dense",
}
_LLAMA_LIKE = {
    "self_attention": "self_attn",
    "query": "self_attn.q_proj",
    "key": "self_attn.k_proj",
    "value": "self_attn.v_proj",
    "attention_output": "self_attn.o_proj",
    "ffn_input": "mlp",
    # glm and glm4 fuse the gate and up projections into gate_up_proj
    "ffn_up": "mlp.up_proj|mlp.gate_up_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_output": "mlp.down_proj",
}


def _llama_with(**roles: str | None) -> dict[str, str]:
    """Llama's roles with ``roles`` changed; a role given as None is absent (no such module)."""
    merged: dict[str, str | None] = {**_LLAMA_LIKE, **roles}
    return {role: path for role, path in merged.items() if path is not None}


_BART_LIKE = {
    "self_attention": "self_attn",
    "query": "self_attn.q_proj",
    "key": "self_attn.k_proj",
    "value": "self_attn.v_proj",
    "attention_output": "self_attn.out_proj",
    "ffn_input": "fc1",
    "ffn_up": "fc1",
    "ffn_output": "fc2",
}

#: Every family autopeft places modules in, in README's order.
FAMILIES: tuple[Family, ...] = (
    Family(
        "BERT",
        (
            "bert",
            "roberta",
            "xlm-roberta",
            "camembert",
            "electra",
            "roberta-prelayernorm",
            "ernie",
            "xlm-roberta-xl",
            "data2vec-text",
            "roc_bert",
            "esm",
        ),
        ("encoder.layer",),
        _BERT_LIKE,
    ),
    Family(
        "DistilBERT",
        ("distilbert",),
        ("transformer.layer",),
        {
            "self_attention": "attention",
            "query": "attention.q_lin",
            "key": "attention.k_lin",
            "value": "attention.v_lin",
            "attention_output": "attention.out_lin",
            "ffn_input": "ffn",
            "ffn_up": "ffn.lin1",
            "ffn_output": "ffn.lin2",
        },
    ),
    Family(
        "ModernBERT",
        ("modernbert",),
        ("layers",),
        {
            "self_attention": "attn",
            "query": "attn.Wqkv",
            "key": "attn.Wqkv",
            "value": "attn.Wqkv",
            "attention_output": "attn.Wo",
            "ffn_input": "mlp",
            "ffn_up": "mlp.Wi",  # fused gate and up projections
            "ffn_output": "mlp.Wo",
        },
        notes="query, key and value are one fused projection: LoRA and (IA)³ act on all three",
    ),
    Family(
        "ModernBERT decoder",
        ("modernbert-decoder",),
        ("layers",),
        {
            "self_attention": "attn",
            "query": "attn.q_proj",
            "key": "attn.k_proj",
            "value": "attn.v_proj",
            "attention_output": "attn.Wo",
            "ffn_input": "mlp",
            "ffn_up": "mlp.Wi",  # fused gate and up projections
            "ffn_output": "mlp.Wo",
        },
    ),
    Family(
        "T5",
        ("t5", "mt5", "umt5"),
        ("encoder.block", "decoder.block"),
        {
            "self_attention": "layer.0.SelfAttention",
            "query": "layer.0.SelfAttention.q",
            "key": "layer.0.SelfAttention.k",
            "value": "layer.0.SelfAttention.v",
            "attention_output": "layer.0.SelfAttention.o",
            "ffn_input": "layer.-1.DenseReluDense",
            "ffn_up": "layer.-1.DenseReluDense.wi|layer.-1.DenseReluDense.wi_1",
            "ffn_gate": "layer.-1.DenseReluDense.wi_0",
            "ffn_output": "layer.-1.DenseReluDense.wo",
        },
        notes="encoder and decoder layers; the classification head reads the decoder at the last EOS",
    ),
    Family(
        "BART",
        ("bart", "mbart", "plbart"),
        ("encoder.layers", "decoder.layers"),
        _BART_LIKE,
        notes="encoder and decoder layers; the classification head reads the decoder at the last EOS",
    ),
    Family(
        "GPT-2",
        ("gpt2", "gpt_bigcode"),
        ("h",),
        {
            "self_attention": "attn",
            "query": "attn.c_attn",
            "key": "attn.c_attn",
            "value": "attn.c_attn",
            "attention_output": "attn.c_proj",
            "ffn_input": "mlp",
            "ffn_up": "mlp.c_fc",
            "ffn_output": "mlp.c_proj",
        },
        notes="query, key and value are one fused projection: LoRA and (IA)³ act on all three",
    ),
    Family(
        "OPT",
        ("opt",),
        ("decoder.layers",),
        _BART_LIKE,
    ),
    Family(
        "BioGPT",
        ("biogpt",),
        ("layers",),
        _BART_LIKE,
    ),
    Family(
        "GPT-NeoX",
        ("gpt_neox",),
        ("layers",),
        {
            "self_attention": "attention",
            "query": "attention.query_key_value",
            "key": "attention.query_key_value",
            "value": "attention.query_key_value",
            "attention_output": "attention.dense",
            "ffn_input": "mlp",
            "ffn_up": "mlp.dense_h_to_4h",
            "ffn_output": "mlp.dense_4h_to_h",
        },
        notes="query, key and value are one fused projection: LoRA and (IA)³ act on all three",
    ),
    Family(
        "Persimmon",
        ("persimmon",),
        ("layers",),
        {
            "self_attention": "self_attn",
            "query": "self_attn.query_key_value",
            "key": "self_attn.query_key_value",
            "value": "self_attn.query_key_value",
            "attention_output": "self_attn.dense",
            "ffn_input": "mlp",
            "ffn_up": "mlp.dense_h_to_4h",
            "ffn_output": "mlp.dense_4h_to_h",
        },
        notes="query, key and value are one fused projection: LoRA and (IA)³ act on all three",
    ),
    Family(
        "CTRL",
        ("ctrl",),
        ("h",),
        {
            "self_attention": "multi_head_attention",
            "query": "multi_head_attention.Wq",
            "key": "multi_head_attention.Wk",
            "value": "multi_head_attention.Wv",
            "attention_output": "multi_head_attention.dense",
            "ffn_input": "ffn",
            "ffn_up": "ffn.0",
            "ffn_output": "ffn.2",
        },
    ),
    Family(
        "Phi",
        ("phi",),
        ("layers",),
        _llama_with(attention_output="self_attn.dense", ffn_up="mlp.fc1", ffn_gate=None, ffn_output="mlp.fc2"),
    ),
    Family(
        "Phi-3",
        ("phi3",),
        ("layers",),
        _llama_with(
            query="self_attn.qkv_proj",
            key="self_attn.qkv_proj",
            value="self_attn.qkv_proj",
            ffn_up="mlp.gate_up_proj",  # fused gate and up projections
            ffn_gate=None,
        ),
        notes="query, key and value are one fused projection: LoRA and (IA)³ act on all three",
    ),
    Family(
        "StarCoder2",
        ("starcoder2",),
        ("layers",),
        _llama_with(ffn_up="mlp.c_fc", ffn_gate=None, ffn_output="mlp.c_proj"),
    ),
    Family(
        "Jina embeddings v3",
        ("jina_embeddings_v3",),
        ("layers",),
        _llama_with(ffn_up="mlp.fc1", ffn_gate=None, ffn_output="mlp.fc2"),
    ),
    Family(
        "Llama",
        (
            "llama",
            "mistral",
            "qwen2",
            "qwen3",
            "gemma",
            "gemma2",
            "olmo",
            "olmo2",
            "olmo3",
            "gemma3_text",
            "smollm3",
            "stablelm",
            "arcee",
            "helium",
            "exaone4",
            "hunyuan_v1_dense",
            "ministral",
            "ministral3",
            "nemotron",
            "seed_oss",
            "glm",
            "glm4",
            "doge",
            "eurobert",
            "ultrabert",
            "nomic_bert",
            "gte",
            "esmc",
        ),
        ("layers",),
        _LLAMA_LIKE,
    ),
)


def family_for(model_type: str) -> Family:
    """The family of ``config.model_type``.

    Raises:
        UserError: naming the model type and the supported ones, if no family has it.
    """
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    supported = sorted(t for f in FAMILIES for t in f.model_types)
    raise UserError(
        "model",
        model_type,
        "is a model type autopeft does not know where to place PEFT modules in",
        f"use a model of a supported type: {', '.join(supported)}",
    )


def _text_config(model_config: Any) -> Any:
    return model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config


def hidden_size(model_config: Any) -> int:
    """The hidden size H of a ``transformers`` config (``hidden_size``, or ``d_model``, ``n_embd``, ``dim``).

    Raises:
        UserError: if the config gives none.
    """
    config = _text_config(model_config)
    for name in ("hidden_size", "d_model", "n_embd", "dim"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise UserError("model", getattr(config, "model_type", "?"), "its config gives no hidden size", "use another model")


def stack_sizes(model_config: Any) -> tuple[int, ...]:
    """Layers per stack, in layer-bit order: ``(encoder, decoder)`` for an encoder-decoder, else one."""
    config = _text_config(model_config)
    if getattr(config, "is_encoder_decoder", False):
        encoder = _first_int(config, "encoder_layers", "num_layers", "num_hidden_layers")
        decoder = _first_int(config, "decoder_layers", "num_decoder_layers")
        if encoder is not None and decoder is not None:
            return (encoder, decoder)
    return (layer_count(model_config),)


def _first_int(config: Any, *names: str) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def layer_count(model_config: Any) -> int:
    """Transformer layers of every stack: an encoder-decoder's encoder and decoder layers together (the
    layer bits number them in that order), else ``num_hidden_layers``.

    Raises:
        UserError: if the config gives no integer layer count.
    """
    config = _text_config(model_config)

    def first(*names: str) -> int | None:
        for name in names:
            value = getattr(config, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    if getattr(config, "is_encoder_decoder", False):
        encoder = first("encoder_layers", "num_layers", "num_hidden_layers")
        decoder = first("decoder_layers", "num_decoder_layers")
        if encoder is not None and decoder is not None:
            return encoder + decoder
    layers = first("num_hidden_layers")
    if layers is None:
        raise UserError(
            "model", getattr(config, "model_type", "?"), "its config gives no layer count", "use another model"
        )
    return layers


def unplaceable(model_config: Any) -> dict[str, str]:
    """``{module kind: why it cannot be placed}`` for the registered kinds that this model's family
    lacks a role for (reads the config only); every other kind can be placed.

    Raises:
        UserError: if the model type is in no family.
    """
    from autopeft.modules.registry import MODULES

    family = family_for(getattr(model_config, "model_type", "?"))
    out: dict[str, str] = {}
    for name, kind in MODULES.items():
        missing = [role for role in kind.requires if role not in family.roles]
        if missing:
            out[name] = f"{family.name} layers have no {', '.join(missing)} module"
    return out
