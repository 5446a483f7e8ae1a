"""The search space as data, sized from the model's own config and assembled from the registered module
kinds (:mod:`autopeft.modules`)."""

from autopeft.space.space import SPACES, Dimension, PeftConfig, SearchSpace

__all__ = ["SPACES", "Dimension", "PeftConfig", "SearchSpace"]
