"""autopeft: multi-objective search for parameter-efficient fine-tuning configurations.

The method of AutoPEFT (Zhou, Wan, Vulić, Korhonen, TACL 2024) as a library and a command-line tool.
"""

__version__ = "0.1.0"
