"""The serial bottleneck adapter (Houlsby et al. 2019; Pfeiffer et al. 2021), sized by its bottleneck.

In the search space it sits after the attention sub-layer (``adapters``' ``mh_adapter``), not after the
feed-forward block (the paper's place): ``adapters`` cannot run a serial and a parallel bottleneck
adapter at the same location. A ``ConfigUnion`` refuses them, and in a ``Stack("seq", "par")`` the
parallel adapter replaces the serial adapter's output by the sub-layer input, so the serial adapter
silently receives no gradient (verified with adapters 1.3.0; ``tests/build`` checks every module
receives gradients). Keeping the parallel adapter at the feed-forward block keeps He et al.'s parallel
adapter and the MAM adapter (prefix + parallel) inside the space.
"""

from __future__ import annotations

from typing import Any

from autopeft.modules.base import ModuleKind, Preset, reduction_factor
from autopeft.modules.registry import register


class SerialKind(ModuleKind):
    """A bottleneck adapter in series after the attention sub-layer; the value is its bottleneck size."""

    def adapters_config(self, value: int | bool, *, leave_out: list[int], hidden_size: int) -> Any:
        import adapters

        return adapters.SeqBnConfig(
            mh_adapter=True,
            output_adapter=False,
            reduction_factor=reduction_factor(hidden_size, int(value)),
            leave_out=leave_out,
        )

    def presets(self) -> tuple[Preset, ...]:
        import adapters

        return (
            Preset(
                "houlsby",
                "Serial adapter (Houlsby)",
                "Houlsby et al. 2019; two per layer",
                adapters.DoubleSeqBnConfig().to_dict(),
            ),
            Preset(
                "pfeiffer",
                "Serial adapter (Pfeiffer)",
                "Pfeiffer et al. 2021; one per layer",
                adapters.SeqBnConfig().to_dict(),
            ),
        )


SERIAL = SerialKind(
    name="serial",
    dimension="size",
    description="serial adapter bottleneck size (after the attention sub-layer)",
    listed_when_off=True,  # every saved configuration dict lists it
)

register(SERIAL)
