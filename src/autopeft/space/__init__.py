"""The search space as data, sized from the model's own config."""

from autopeft.space.space import (
    MODULES,
    SPACES,
    Dimension,
    ModuleSpec,
    PeftConfig,
    SearchSpace,
    size_scale,
)

__all__ = ["MODULES", "SPACES", "Dimension", "ModuleSpec", "PeftConfig", "SearchSpace", "size_scale"]
