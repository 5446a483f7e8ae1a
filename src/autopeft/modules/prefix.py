"""Prefix-tuning (Li & Liang 2021): learned keys and values prepended in self-attention, sized by the
prefix length in tokens (built by :mod:`autopeft.modules.prefix_tuning`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autopeft.modules.base import ModuleKind, Preset
from autopeft.modules.registry import register

#: Width of the reparametrisation MLP while training (Li & Liang; the ``adapters`` library's default).
BOTTLENECK = 512


class PrefixKind(ModuleKind):
    """Prefix-tuning of the keys and values of self-attention; the value is the prefix length.

    Options: ``size`` (the prefix length), ``bottleneck`` (the reparametrisation's width, default 512),
    ``ejected`` (build the deployed form directly: loading a saved model).

    Trained through a reparametrisation MLP and deployed without it: the build layer counts both
    (training and deployed parameters).
    """

    def attach(self, target: Any, options: Mapping[str, Any], layers: tuple[int, ...]) -> None:
        from autopeft.modules.prefix_tuning import SLOT_ATTR, PrefixPool, Slot, register_attention
        from autopeft.modules.sites import out_features, weight_of

        sites, model, surgery = target.sites, target.model, target.surgery
        fused = sites.family.roles.get("key") == sites.family.roles.get("query")
        widths = [out_features(sites.module(p)) for p in sites.paths("key", layers)]
        if fused:
            widths = [_fused_kv_width(width, model.config, target.hidden_size) for width in widths]
        pool = PrefixPool(
            int(options["size"]),
            target.hidden_size,
            widths,
            bottleneck=int(options.get("bottleneck", BOTTLENECK)),
            ejected=bool(options.get("ejected", False)),
        )
        weight = weight_of(model)
        surgery.set_attr(model, self.adapter_name, pool.to(weight.device, weight.dtype))
        for index, path in enumerate(sites.paths("self_attention", layers)):
            surgery.set_attr(sites.module(path), SLOT_ATTR, Slot(pool, index))
        handle = model.register_forward_pre_hook(pool.clear)
        surgery.on_restore(handle.remove)
        original = model.config._attn_implementation
        model.set_attn_implementation(register_attention())
        surgery.on_restore(lambda: model.set_attn_implementation(original))

    def deployed_numel(self, target: Any, trainable: int) -> int:
        return getattr(target.model, self.adapter_name).deployed_numel()

    def describe_options(self, options: Mapping[str, Any], hidden_size: int | None) -> str:
        return f"prefix {options['size']}"

    def presets(self) -> tuple[Preset, ...]:
        return (Preset("prefix", "Prefix-tuning", "Li & Liang 2021", {"prefix": {"size": 30}}),)


def _fused_kv_width(fused: int, config: Any, hidden_size: int) -> int:
    """The width of the keys (= of the values) of a fused query-key-value projection with ``fused``
    outputs: what the queries (heads × head size) leave, halved. A third for multi-head attention
    (GPT-2), less with grouped (Phi-3) or multi-query (GPTBigCode) attention."""
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = int(config.num_attention_heads)
    head_size = getattr(config, "head_dim", None) or hidden_size // heads
    return (fused - heads * head_size) // 2


PREFIX = PrefixKind(
    name="prefix",
    dimension="size",
    description="prefix-tuning prefix length (keys and values of self-attention)",
    listed_when_off=True,  # every saved configuration dict lists it
    requires=("self_attention", "key"),
)

register(PREFIX)
