"""PEFT module kinds: one file per kind, each declaring once what the search space, the build, the
descriptions and the baselines need, and a registry they all read.

Built-in kinds, in registration order: ``serial`` (serial bottleneck adapter), ``parallel`` (parallel
adapter), ``prefix`` (prefix-tuning), ``lora`` (LoRA), ``ia3`` ((IA)³).

Adding a module kind takes three steps:

1. **Declare it** in a new file ``src/autopeft/modules/<name>.py``: a subclass of :class:`ModuleKind`
   whose :meth:`~ModuleKind.attach` puts the module into a model's layers, finding its places through
   the roles of the family table (:mod:`autopeft.modules.families`: ``attention_output``,
   ``ffn_output``, ...) and making every change through the target's surgery record (and, if the
   literature has presets of it, :meth:`~ModuleKind.presets`; a sized kind may override
   :meth:`~ModuleKind.scale`). Make one instance with its name, its dimension (``"size"``: 0 = off;
   ``"switch"``: on/off), a one-line description and the roles it ``requires``, and end the file with
   its registration line, ``register(MY_KIND)``. Read the contract in :class:`ModuleKind`'s docstring
   first (one count per layer, parameters named ``autopeft_<name>``, changes undone on release).
2. **Import the file** below, after the kinds it should follow: the import order is the registration
   order, which orders configuration fields (dicts, ledgers, descriptions) and the baselines. A new
   kind changes no saved configuration: configuration dicts list it only when it is on
   (:attr:`ModuleKind.listed_when_off` stays False; only the five original kinds set it).
3. **Search it and test it**: add its name to the named spaces that should search it
   (:data:`autopeft.space.SPACES`; a new name there changes no saved search, an existing space's
   modules do), and add a test in ``tests/modules/`` that builds a model with it and checks that its
   parameters receive gradients (``tests/modules/test_modules_toy_kind.py`` does this for a kind defined in
   the test).

Code outside the project can skip steps 2 and 3: importing its own file registers the kind, and a
:class:`~autopeft.space.SearchSpace` listing the name searches it.
"""

from autopeft.modules.base import DimensionType, ModuleKind, Preset, bottleneck_size, size_scale
from autopeft.modules.registry import MODULES, register, unregister

# The built-in kinds register themselves on import; this order is the registration order (see step 2).
from autopeft.modules.serial import SERIAL  # isort: skip
from autopeft.modules.parallel import PARALLEL  # isort: skip
from autopeft.modules.prefix import PREFIX  # isort: skip
from autopeft.modules.lora import LORA  # isort: skip
from autopeft.modules.ia3 import IA3  # isort: skip

__all__ = [
    "IA3",
    "LORA",
    "MODULES",
    "PARALLEL",
    "PREFIX",
    "SERIAL",
    "DimensionType",
    "ModuleKind",
    "Preset",
    "bottleneck_size",
    "register",
    "size_scale",
    "unregister",
]
