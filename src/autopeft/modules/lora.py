"""LoRA (Hu et al. 2022): low-rank updates of the query and value projections, sized by the rank."""

from __future__ import annotations

from typing import Any

from autopeft.modules.base import ModuleKind, Preset
from autopeft.modules.registry import register


class LoRAKind(ModuleKind):
    """LoRA on the query and value projections; the value is the rank, with alpha = rank (scaling 1)."""

    def adapters_config(self, value: int | bool, *, leave_out: list[int], hidden_size: int) -> Any:
        import adapters

        return adapters.LoRAConfig(r=int(value), alpha=int(value), leave_out=leave_out)

    def presets(self) -> tuple[Preset, ...]:
        import adapters

        return (Preset("lora", "LoRA", "Hu et al. 2022", adapters.LoRAConfig().to_dict()),)


LORA = LoRAKind(
    name="lora",
    dimension="size",
    description="LoRA rank (query and value projections)",
    listed_when_off=True,  # every saved configuration dict lists it
)

register(LORA)
