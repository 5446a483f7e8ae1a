"""autopeft: multi-objective search for parameter-efficient fine-tuning configurations.

The method of AutoPEFT (Zhou, Wan, Vulić, Korhonen, TACL 2024) as a library and a command-line tool.
"""

import os as _os

# XLA's C++ logger reads this once, when JAX is imported (BoTorch imports it with its models): without it
# every compiled NUTS sampler loaded from the persistent cache prints "Assume version compatibility"
# between the search's progress lines. Warnings only; errors still show; the user's own setting wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
