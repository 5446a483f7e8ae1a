"""The serial bottleneck adapter (Houlsby et al. 2019; Pfeiffer et al. 2021), sized by its bottleneck.

In the search space it follows the attention sub-layer's output projection (the place the committed
searches used, with the ``adapters`` library's ``mh_adapter``), not the feed-forward block (the paper's
place), so that searches stay comparable with the committed ones; the Houlsby and Pfeiffer presets place
it after the feed-forward block too. It wraps the projection: ``y + adapter(y)``, before the sub-layer's
residual connection and layer norm (Houlsby et al.'s place; the ``adapters`` library applies it after
a first layer norm, see ``bench/crosscheck/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autopeft.modules.base import ModuleKind, Preset, bottleneck_size
from autopeft.modules.registry import register

#: Where a serial adapter may go: after the attention sub-layer, after the feed-forward block.
PLACES = {"attention": "attention_output", "ffn": "ffn_output"}


class SerialKind(ModuleKind):
    """A bottleneck adapter in series; the value is its bottleneck size.

    Options: ``size`` (or ``reduction_factor``), ``places`` (default ``["attention"]``; any of
    ``"attention"``, ``"ffn"``).
    """

    def attach(self, target: Any, options: Mapping[str, Any], layers: tuple[int, ...]) -> None:
        from autopeft.modules.bottleneck import Bottleneck, SerialWrapper
        from autopeft.modules.sites import out_features, weight_of

        size = bottleneck_size(options, target.hidden_size)
        for place in options.get("places", ["attention"]):
            for path in target.sites.paths(PLACES[place], layers):
                module = target.sites.module(path)
                weight = weight_of(module)
                adapter = Bottleneck(out_features(module), size).to(weight.device, weight.dtype)
                target.surgery.replace(target.model, path, SerialWrapper(module, self.adapter_name, adapter))

    def describe_options(self, options: Mapping[str, Any], hidden_size: int | None) -> str:
        where = "+".join(options.get("places", ["attention"]))
        return f"serial adapter {_size_text(options, hidden_size)} after {where}"

    def presets(self) -> tuple[Preset, ...]:
        return (
            Preset(
                "houlsby",
                "Serial adapter (Houlsby)",
                "Houlsby et al. 2019; two per layer",
                {"serial": {"reduction_factor": 16, "places": ["attention", "ffn"]}},
            ),
            Preset(
                "pfeiffer",
                "Serial adapter (Pfeiffer)",
                "Pfeiffer et al. 2021; one per layer",
                {"serial": {"reduction_factor": 16, "places": ["ffn"]}},
            ),
        )


def _size_text(options: Mapping[str, Any], hidden_size: int | None) -> str:
    if "size" in options or hidden_size:
        return str(bottleneck_size(options, hidden_size or 0))
    return f"H/{float(options['reduction_factor']):g}"


SERIAL = SerialKind(
    name="serial",
    dimension="size",
    description="serial adapter bottleneck size (after the attention sub-layer)",
    listed_when_off=True,  # every saved configuration dict lists it
    requires=("attention_output",),
)

register(SERIAL)
