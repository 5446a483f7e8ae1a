"""LoRA (Hu et al. 2022): low-rank updates of the query and value projections, sized by the rank;
built by HF PEFT (``peft.LoraConfig``, injected in place), the format LLM users deploy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autopeft.modules.base import ModuleKind, Preset
from autopeft.modules.registry import register

#: The projections LoRA adapts by default (Hu et al.).
TARGETS = ("query", "value")


def inject_peft(target: Any, peft_config: Any, paths: list[str], adapter_name: str) -> None:
    """Inject an HF PEFT configuration into ``target.model`` at ``paths`` (full module paths), in place;
    the surgery puts the original modules back after the trial."""
    from peft import inject_adapter_in_model

    model = target.model
    target.surgery.keep(model, paths)
    inject_adapter_in_model(peft_config, model, adapter_name=adapter_name)
    # PEFT leaves its config on the model; the manifest of a saved run records ours instead, and a
    # second kind injected (LoRA, then (IA)³) would warn about it
    vars(model).pop("peft_config", None)


def fan_in_fan_out(target: Any, paths: list[str]) -> bool:
    """Whether the targeted layers store their weight transposed (GPT-2's ``Conv1D``), as PEFT must know."""
    return any(hasattr(target.sites.module(p), "nf") for p in paths)


class LoRAKind(ModuleKind):
    """LoRA; the value is the rank.

    Options: ``size`` (the rank), ``alpha`` (default the rank: scaling 1), ``targets`` (roles, default
    query and value).
    """

    def attach(self, target: Any, options: Mapping[str, Any], layers: tuple[int, ...]) -> None:
        from peft import LoraConfig

        rank = int(options["size"])
        roles = options.get("targets", TARGETS)
        paths = list(dict.fromkeys(p for role in roles for p in target.sites.paths(role, layers)))
        config = LoraConfig(
            r=rank,
            lora_alpha=float(options.get("alpha", rank)),
            lora_dropout=0.0,
            target_modules=paths,
            fan_in_fan_out=fan_in_fan_out(target, paths),
        )
        inject_peft(target, config, paths, self.adapter_name)

    def describe_options(self, options: Mapping[str, Any], hidden_size: int | None) -> str:
        return f"LoRA r={options['size']} on " + "/".join(options.get("targets", TARGETS))

    def presets(self) -> tuple[Preset, ...]:
        return (Preset("lora", "LoRA", "Hu et al. 2022", {"lora": {"size": 8, "alpha": 8}}),)


LORA = LoRAKind(
    name="lora",
    dimension="size",
    description="LoRA rank (query and value projections)",
    listed_when_off=True,  # every saved configuration dict lists it
    requires=TARGETS,
    first=True,
)

register(LORA)
