"""(IA)³ (Liu et al. 2022): learned rescaling of keys, values and the feed-forward activations, on or
off; built by HF PEFT (``peft.IA3Config``, injected in place)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autopeft.modules.base import ModuleKind, Preset
from autopeft.modules.lora import fan_in_fan_out, inject_peft
from autopeft.modules.registry import register

#: What (IA)³ rescales (Liu et al.): the keys' and values' outputs, and the input of the feed-forward
#: block's output projection (the activations after the nonlinearity).
TARGETS = ("key", "value", "ffn_output")


class IA3Kind(ModuleKind):
    """(IA)³ rescaling vectors; a switch (it has no size). Options: ``targets`` (roles)."""

    def attach(self, target: Any, options: Mapping[str, Any], layers: tuple[int, ...]) -> None:
        from peft import IA3Config

        roles = options.get("targets", TARGETS)
        paths = list(dict.fromkeys(p for role in roles for p in target.sites.paths(role, layers)))
        feedforward = target.sites.paths("ffn_output", layers) if "ffn_output" in roles else []
        config = IA3Config(
            target_modules=paths, feedforward_modules=feedforward, fan_in_fan_out=fan_in_fan_out(target, paths)
        )
        inject_peft(target, config, paths, self.adapter_name)

    def describe_options(self, options: Mapping[str, Any], hidden_size: int | None) -> str:
        words = {"ffn_output": "ffn activations"}
        return "(IA)³ on " + "/".join(words.get(t, t) for t in options.get("targets", TARGETS))

    def presets(self) -> tuple[Preset, ...]:
        return (Preset("ia3", "(IA)³", "Liu et al. 2022", {"ia3": {}}),)


IA3 = IA3Kind(
    name="ia3",
    dimension="switch",
    description="(IA)³ rescaling of keys, values and the feed-forward activations",
    listed_when_off=True,  # every saved configuration dict lists it
    requires=TARGETS,
    first=True,
)

register(IA3)
