"""The search space as data, sized from the model's own config and assembled from the registered module
kinds (:mod:`autopeft.modules`)."""

from autopeft.space.space import (
    LEARNING_RATE_FACTORS,
    SPACES,
    Dimension,
    PeftConfig,
    SearchSpace,
    learning_rate_choices,
)

__all__ = ["LEARNING_RATE_FACTORS", "SPACES", "Dimension", "PeftConfig", "SearchSpace", "learning_rate_choices"]
