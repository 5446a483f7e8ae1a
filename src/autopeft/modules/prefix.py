"""Prefix-tuning (Li & Liang 2021): learned keys and values prepended in self-attention, sized by the
prefix length in tokens."""

from __future__ import annotations

from typing import Any

from autopeft.modules.base import ModuleKind, Preset
from autopeft.modules.registry import register


class PrefixKind(ModuleKind):
    """Prefix-tuning of the keys and values of self-attention; the value is the prefix length.

    ``adapters`` trains the prefix through a reparametrisation MLP and deploys the ejected prefixes:
    the build layer counts both (training and deployed parameters).
    """

    def adapters_config(self, value: int | bool, *, leave_out: list[int], hidden_size: int) -> Any:
        import adapters

        return adapters.PrefixTuningConfig(prefix_length=int(value), leave_out=leave_out)

    def presets(self) -> tuple[Preset, ...]:
        import adapters

        return (Preset("prefix", "Prefix-tuning", "Li & Liang 2021", adapters.PrefixTuningConfig().to_dict()),)


PREFIX = PrefixKind(
    name="prefix",
    dimension="size",
    description="prefix-tuning prefix length (keys and values of self-attention)",
    listed_when_off=True,  # every saved configuration dict lists it
)

register(PREFIX)
