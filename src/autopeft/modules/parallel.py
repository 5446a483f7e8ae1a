"""The parallel bottleneck adapter (He et al. 2022), beside the feed-forward sub-layer, sized by its
bottleneck."""

from __future__ import annotations

from typing import Any

from autopeft.modules.base import ModuleKind, Preset, reduction_factor
from autopeft.modules.registry import register


class ParallelKind(ModuleKind):
    """A bottleneck adapter beside the feed-forward sub-layer (``adapters``' ``output_adapter``), as in
    He et al.; the value is its bottleneck size."""

    def adapters_config(self, value: int | bool, *, leave_out: list[int], hidden_size: int) -> Any:
        import adapters

        return adapters.ParBnConfig(reduction_factor=reduction_factor(hidden_size, int(value)), leave_out=leave_out)

    def presets(self) -> tuple[Preset, ...]:
        import adapters

        return (Preset("parallel", "Parallel adapter", "He et al. 2022", adapters.ParBnConfig().to_dict()),)


PARALLEL = ParallelKind(
    name="parallel",
    dimension="size",
    description="parallel adapter bottleneck size (beside the feed-forward sub-layer)",
    listed_when_off=True,  # every saved configuration dict lists it
)

register(PARALLEL)
