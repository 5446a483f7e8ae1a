"""Prefix-tuning on the current stack: learned keys and values prepended in self-attention, through an
attention function registered in ``transformers``' ``AttentionInterface``.

Every family listed in :mod:`.families` routes attention through that interface, which calls the
function once per attention module with the module itself. The function looks for the prefix slot that
the build set on the module (only self-attention modules get one; cross-attention never does), prepends
the slot's keys and values, widens the attention mask (and T5's position bias) by the prefix, and
hands over to ``transformers``' SDPA attention. Modules without a slot are computed exactly as SDPA
computes them.

While training, all prefixes come from one reparametrisation (Li & Liang 2021; the ``adapters``
library's default): an embedding of ``P`` positions, ``Linear(H, bottleneck)``, ``tanh``,
``Linear(bottleneck, sum over layers of 2 * kv width)``, computed once per forward pass and shared by
every example of the batch. Deployed, the MLP is ejected: only its output, ``P * layers * 2 * kv width``
numbers, is kept (:meth:`PrefixPool.eject`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: The name of the attention implementation registered in ``transformers``.
ATTENTION_NAME = "autopeft_prefix"
#: The attribute of an attention module that holds its prefix slot.
SLOT_ATTR = "_autopeft_prefix_slot"


class PrefixPool(nn.Module):
    """The prefixes of every layer that has one.

    Args:
        length: prefix length ``P`` (tokens).
        hidden_size: the model's hidden size (the width of the reparametrisation's embedding).
        kv_widths: per slot (layer with a prefix), the width of its keys (= of its values):
            key-value heads × head size.
        bottleneck: width of the reparametrisation MLP.
        ejected: build the deployed form directly (a plain parameter per slot's keys and values, no MLP),
            as a saved model is loaded.
    """

    def __init__(
        self, length: int, hidden_size: int, kv_widths: list[int], *, bottleneck: int = 512, ejected: bool = False
    ) -> None:
        super().__init__()
        self.length = length
        self.kv_widths = list(kv_widths)
        self.total = 2 * sum(self.kv_widths)
        if ejected:
            self.prefix = nn.Parameter(torch.zeros(length, self.total))
        else:
            self.embedding = nn.Embedding(length, hidden_size)
            self.mlp = nn.Sequential(nn.Linear(hidden_size, bottleneck), nn.Tanh(), nn.Linear(bottleneck, self.total))
        starts = [0]
        for width in self.kv_widths:
            starts.append(starts[-1] + 2 * width)
        self._starts = starts
        self._flat: torch.Tensor | None = None

    @property
    def ejected(self) -> bool:
        return "prefix" in self._parameters

    def deployed_numel(self) -> int:
        """Parameters once ejected: ``P * sum over slots of 2 * kv width``."""
        return self.length * self.total

    def clear(self, *_: Any) -> None:
        """Forget the prefixes of the last forward pass (a forward pre-hook of the root model)."""
        self._flat = None

    def flat(self) -> torch.Tensor:
        """Every slot's keys and values, ``(P, total)``, computed once per forward pass."""
        if self.ejected:
            return self.prefix
        if self._flat is None:
            self._flat = self.mlp(self.embedding.weight)
        return self._flat

    def keys_values(self, slot: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Slot ``slot``'s keys and values shaped like ``like`` ``(batch, kv heads, seq, head size)`` but
        with ``P`` positions: two ``(batch, kv heads, P, head size)`` tensors."""
        batch, heads, _, head_size = like.shape
        start, width = self._starts[slot], self.kv_widths[slot]
        kv = self.flat()[:, start : start + 2 * width].to(like.dtype)
        kv = kv.view(self.length, 2, heads, head_size).permute(1, 2, 0, 3)  # (2, heads, P, head size)
        return kv[0].expand(batch, -1, -1, -1), kv[1].expand(batch, -1, -1, -1)

    @torch.no_grad()
    def eject(self) -> None:
        """Replace the reparametrisation by the prefixes it produces (deployment)."""
        if self.ejected:
            return
        flat = self.mlp(self.embedding.weight).detach().clone()
        del self.embedding, self.mlp
        self.prefix = nn.Parameter(flat)
        self._flat = None


class Slot:
    """Where an attention module finds its prefix: the pool and the slot's index (a plain object, so
    that the pool is not registered twice as a submodule)."""

    def __init__(self, pool: PrefixPool, index: int) -> None:
        self.pool = pool
        self.index = index


def _widen_mask(mask: torch.Tensor | None, query: torch.Tensor, key: torch.Tensor, prefix: int, causal: bool):
    """The attention mask with ``prefix`` always-visible key positions in front."""
    batch, q_len, kv_len = query.shape[0], query.shape[2], key.shape[2]
    if mask is None:
        if not (causal and q_len > 1):
            return None
        # SDPA would have used its causal flag; with a prefix the pattern must be spelled out
        mask = torch.ones(q_len, kv_len, dtype=torch.bool, device=query.device).tril(kv_len - q_len)
        mask = mask[None, None].expand(batch, 1, q_len, kv_len)
    if mask.dtype == torch.bool:
        visible = torch.ones(*mask.shape[:-1], prefix, dtype=torch.bool, device=mask.device)
    else:  # an additive float mask
        visible = torch.zeros(*mask.shape[:-1], prefix, dtype=mask.dtype, device=mask.device)
    return torch.cat([visible, mask], dim=-1)


def prefix_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, Any]:
    """An ``AttentionInterface`` function: SDPA attention, with the module's prefix if it has a slot.

    Attention that SDPA cannot compute (Gemma 2's logit soft-capping) runs through the model's own
    eager attention function instead, with the mask made additive as eager attention expects.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    slot: Slot | None = getattr(module, SLOT_ATTR, None)
    if slot is not None:
        pk, pv = slot.pool.keys_values(slot.index, key)
        is_causal = kwargs.pop("is_causal", None)
        causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
        attention_mask = _widen_mask(attention_mask, query, key, slot.pool.length, bool(causal))
        bias = kwargs.get("position_bias")
        if bias is not None:  # T5's relative position bias, (1 or batch, heads, q, kv)
            zeros = torch.zeros(*bias.shape[:-1], slot.pool.length, dtype=bias.dtype, device=bias.device)
            kwargs["position_bias"] = torch.cat([zeros, bias], dim=-1)
        key = torch.cat([pk, key], dim=2)
        value = torch.cat([pv, value], dim=2)
    if kwargs.get("softcap") is not None:
        return _eager(module, query, key, value, attention_mask, **kwargs)
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _eager(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: Any, **kwargs: Any):
    """The eager attention function of ``module``'s own modelling file (every ``transformers`` model
    file defines ``eager_attention_forward`` with its family's particulars), given an additive mask."""
    import sys

    eager = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    if eager is None:
        raise NotImplementedError(f"{type(module).__name__} needs eager attention, which autopeft cannot find")
    if mask is not None and mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=query.dtype, device=mask.device).masked_fill(
            ~mask, torch.finfo(query.dtype).min
        )
    kwargs.pop("is_causal", None)
    return eager(module, query, key, value, mask, **kwargs)


def register_attention() -> str:
    """Register :func:`prefix_attention` (and SDPA's mask function under the same name) in
    ``transformers`` once; returns the implementation's name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, prefix_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
    return ATTENTION_NAME
