"""autopeft: multi-objective search for parameter-efficient fine-tuning configurations.

The method of AutoPEFT (Zhou, Wan, Vulić, Korhonen, TACL 2024) as a library and a command-line tool.
"""

import os as _os
from typing import Any

# XLA's C++ logger reads this once, when JAX is imported (BoTorch imports it with its models): without it
# every compiled NUTS sampler loaded from the persistent cache prints "Assume version compatibility"
# between the search's progress lines. Warnings only; errors still show; the user's own setting wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.2.0"

#: The Python API (:mod:`autopeft.api`), loaded on first use so that ``import autopeft`` stays light.
_API = ("search", "load", "resume", "export", "SearchResult", "search_settings")

__all__ = ["Budget", "SearchSettings", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from autopeft import api

        return getattr(api, name)
    if name == "Budget":
        from autopeft.train.budget import Budget

        return Budget
    if name == "SearchSettings":
        from autopeft.study.settings import SearchSettings

        return SearchSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
