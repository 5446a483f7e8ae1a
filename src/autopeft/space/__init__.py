"""The search space as data, sized from the model's own config and assembled from the registered module
kinds (:mod:`autopeft.modules`)."""

from autopeft.space.space import (
    LAYOUTS,
    LEARNING_RATE_FACTORS,
    SPACES,
    Dimension,
    PeftConfig,
    SearchSpace,
    learning_rate_choices,
)

from autopeft.space.lora_space import LoraSpace  # isort: skip

__all__ = [
    "LAYOUTS",
    "LEARNING_RATE_FACTORS",
    "SPACES",
    "Dimension",
    "LoraSpace",
    "PeftConfig",
    "SearchSpace",
    "learning_rate_choices",
]
