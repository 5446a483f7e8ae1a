"""The parallel bottleneck adapter (He et al. 2022), beside the feed-forward block, sized by its
bottleneck: ``ffn(u) + 4 * up(relu(down(u)))`` with ``u`` the block's input (He et al.'s scaling 4 and
initialisation, as the ``adapters`` library's ``ParBnConfig``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autopeft.modules.base import ModuleKind, Preset, bottleneck_size
from autopeft.modules.registry import register
from autopeft.modules.serial import _size_text

#: He et al.'s scaling of the parallel adapter's output.
SCALING = 4.0


class ParallelKind(ModuleKind):
    """A bottleneck adapter beside the feed-forward block; the value is its bottleneck size.

    Options: ``size`` (or ``reduction_factor``), ``scaling`` (default 4).
    """

    def attach(self, target: Any, options: Mapping[str, Any], layers: tuple[int, ...]) -> None:
        from autopeft.modules.bottleneck import Bottleneck, ParallelWrapper
        from autopeft.modules.sites import out_features, weight_of

        size = bottleneck_size(options, target.hidden_size)
        scaling = float(options.get("scaling", SCALING))
        sites = target.sites
        for block_path, out_path in zip(
            sites.paths("ffn_input", layers), sites.paths("ffn_output", layers), strict=True
        ):
            module = sites.module(out_path)
            weight = weight_of(module)
            adapter = Bottleneck(target.hidden_size, size, out_features(module), scaling=scaling, init="lora")
            wrapper = ParallelWrapper(module, self.adapter_name, adapter.to(weight.device, weight.dtype))
            target.surgery.replace(target.model, out_path, wrapper)
            handle = sites.module(block_path).register_forward_pre_hook(wrapper.capture, with_kwargs=True)
            target.surgery.on_restore(handle.remove)

    def describe_options(self, options: Mapping[str, Any], hidden_size: int | None) -> str:
        return f"parallel adapter {_size_text(options, hidden_size)} beside ffn"

    def presets(self) -> tuple[Preset, ...]:
        return (Preset("parallel", "Parallel adapter", "He et al. 2022", {"parallel": {"reduction_factor": 2}}),)


PARALLEL = ParallelKind(
    name="parallel",
    dimension="size",
    description="parallel adapter bottleneck size (beside the feed-forward sub-layer)",
    listed_when_off=True,  # every saved configuration dict lists it
    requires=("ffn_input", "ffn_output"),
)

register(PARALLEL)
