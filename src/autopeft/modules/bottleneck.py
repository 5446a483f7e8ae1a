"""Bottleneck adapters (the serial and parallel adapters' building block) and the wrappers that put them
around a model's own modules, the way HF PEFT wraps a linear layer for LoRA (the wrapped module is kept
as ``base_layer``, unchanged)."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

#: ``"bert"``: both projections normal(0, 0.02), zero biases (Houlsby et al.; the ``adapters`` library's
#: default for serial adapters); ``"lora"``: the down-projection as ``nn.Linear`` initialises it (Kaiming
#: uniform), the up-projection zero, so the adapter starts as the identity (He et al.'s parallel adapter;
#: the ``adapters`` library's ``mam_adapter`` initialisation).
Init = Literal["bert", "lora"]


class Bottleneck(nn.Module):
    """``scaling * up(relu(down(x)))``: ``(..., in_features) -> (..., out_features)`` through ``size``
    units (``out_features`` defaults to ``in_features``)."""

    def __init__(
        self, in_features: int, size: int, out_features: int | None = None, *, scaling: float = 1.0, init: Init = "bert"
    ) -> None:
        super().__init__()
        self.down = nn.Linear(in_features, size)
        self.up = nn.Linear(size, out_features or in_features)
        self.scaling = scaling
        with torch.no_grad():
            if init == "bert":
                for linear in (self.down, self.up):
                    linear.weight.normal_(0.0, 0.02)
                    linear.bias.zero_()
            else:
                nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
                self.down.bias.zero_()
                self.up.weight.zero_()
                self.up.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaling * self.up(torch.relu(self.down(x)))


class _Wrapper(nn.Module):
    """A wrapper that still looks like the layer it wraps to code that reads its weights (T5 checks
    ``wo.weight.dtype``), as HF PEFT's wrapped layers do."""

    base_layer: nn.Module

    @property
    def weight(self) -> torch.Tensor:
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return getattr(self.base_layer, "bias", None)


class SerialWrapper(_Wrapper):
    """``y = base_layer(x); y + adapter(y)``: a bottleneck adapter in series after a projection, before
    the sub-layer's residual connection and normalisation (Houlsby et al.'s place)."""

    def __init__(self, base_layer: nn.Module, adapter_name: str, adapter: Bottleneck) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.adapter_name = adapter_name
        self.add_module(adapter_name, adapter)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        y = self.base_layer(*args, **kwargs)
        return y + getattr(self, self.adapter_name)(y)


class ParallelWrapper(_Wrapper):
    """``base_layer(x) + adapter(u)``, with ``u`` the input of the feed-forward block (captured by a hook
    on the block's first module, :meth:`capture`): He et al.'s parallel adapter beside the feed-forward
    block, added to the block's output projection."""

    def __init__(self, base_layer: nn.Module, adapter_name: str, adapter: Bottleneck) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.adapter_name = adapter_name
        self.add_module(adapter_name, adapter)
        self._block_input: torch.Tensor | None = None

    def capture(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """A forward pre-hook (``with_kwargs=True``) for the block's first module: keeps its input."""
        self._block_input = args[0] if args else next(iter(kwargs.values()))

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        u, self._block_input = self._block_input, None  # never hold an activation past its use
        if u is None:
            raise RuntimeError("the parallel adapter's block input was not captured (is its hook on the block?)")
        return self.base_layer(*args, **kwargs) + getattr(self, self.adapter_name)(u)
