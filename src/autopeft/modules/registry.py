"""The registry of PEFT module kinds: one entry per kind, in registration order.

The registration order is the order of a configuration's fields (its dict, ledgers, ``describe``,
reports) and of the baselines; the order of a space's dimensions is the space's own
(:attr:`~autopeft.space.SearchSpace.modules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from autopeft.modules.base import ModuleKind

_KINDS: dict[str, ModuleKind] = {}

#: Every registered module kind by name, in registration order (a read-only view that follows
#: :func:`register` and :func:`unregister`).
MODULES: Mapping[str, ModuleKind] = MappingProxyType(_KINDS)


def register(kind: ModuleKind) -> ModuleKind:
    """Add ``kind`` to the registry under ``kind.name`` and return it.

    Raises:
        ValueError: if a kind of that name is already registered.
    """
    if kind.name in _KINDS:
        raise ValueError(f"a module kind named {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> ModuleKind:
    """Remove the kind registered as ``name`` and return it (tests and plugins that clean up).

    Raises:
        KeyError: if no kind of that name is registered.
    """
    return _KINDS.pop(name)
