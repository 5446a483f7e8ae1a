"""(IA)³ (Liu et al. 2022): learned rescaling of keys, values and the feed-forward activations, on or
off."""

from __future__ import annotations

from typing import Any

from autopeft.modules.base import ModuleKind, Preset
from autopeft.modules.registry import register


class IA3Kind(ModuleKind):
    """(IA)³ rescaling vectors; a switch (it has no size)."""

    def adapters_config(self, value: int | bool, *, leave_out: list[int], hidden_size: int) -> Any:
        import adapters

        return adapters.IA3Config(leave_out=leave_out)

    def presets(self) -> tuple[Preset, ...]:
        import adapters

        return (Preset("ia3", "(IA)³", "Liu et al. 2022", adapters.IA3Config().to_dict()),)


IA3 = IA3Kind(
    name="ia3",
    dimension="switch",
    description="(IA)³ rescaling of keys, values and the feed-forward activations",
    listed_when_off=True,  # every saved configuration dict lists it
)

register(IA3)
