"""Places in a model: its layers, the module that plays each role in a layer (:mod:`.families`), and the
record of every change a build makes, so that the backbone is put back exactly as it was.

Trials do not copy the backbone (for a 7B model a copy doubles memory): a build changes the loaded
model in place, through a :class:`Surgery`, and the trial ends with :meth:`Surgery.restore`, which
undoes every change in reverse order. ``tests/build`` checks that the backbone is bit-identical after a
trial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from autopeft.modules.families import Family

_MISSING = object()


def _child(parent: nn.Module, name: str) -> nn.Module | None:
    try:
        index = int(name)
    except ValueError:
        child = getattr(parent, name, None)
        return child if isinstance(child, nn.Module) else None
    try:
        return parent[index]  # a ModuleList or Sequential, negative indices included
    except (TypeError, IndexError):
        return None


def get_module(root: nn.Module, path: str) -> nn.Module | None:
    """The module at dotted ``path`` under ``root`` (``""`` is ``root``), or None if there is none."""
    module: nn.Module | None = root
    for part in path.split(".") if path else ():
        module = _child(module, part) if module is not None else None
    return module


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition(".")
    return parent, name


class Surgery:
    """Every change a build makes to a model, undone by :meth:`restore` in reverse order."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def replace(self, root: nn.Module, path: str, new: nn.Module) -> nn.Module:
        """Put ``new`` at ``path`` under ``root``; returns the module it replaced."""
        parent_path, name = _split(path)
        parent = get_module(root, parent_path)
        old = get_module(root, path)
        if parent is None or old is None:
            raise KeyError(f"no module at {path!r}")
        self._put(parent, name, new)
        self._undo.append(lambda: self._put(parent, name, old))
        return old

    @staticmethod
    def _put(parent: nn.Module, name: str, module: nn.Module) -> None:
        try:
            parent[int(name)] = module
        except ValueError:
            setattr(parent, name, module)

    def set_attr(self, obj: Any, name: str, value: Any) -> None:
        """``setattr(obj, name, value)``, undone by putting back the old value (or deleting it)."""
        old = obj.__dict__.get(name, _MISSING)
        if old is _MISSING and isinstance(obj, nn.Module):
            old = obj._modules.get(name, obj._parameters.get(name, _MISSING))
        setattr(obj, name, value)

        def undo() -> None:
            if old is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)

        self._undo.append(undo)

    def keep(self, root: nn.Module, paths: Iterable[str]) -> None:
        """Remember the modules at ``paths`` so that :meth:`restore` puts them back, whatever replaces
        them meanwhile (HF PEFT wraps modules in place)."""
        for path in dict.fromkeys(paths):
            parent_path, name = _split(path)
            parent, module = get_module(root, parent_path), get_module(root, path)
            if parent is None or module is None:
                raise KeyError(f"no module at {path!r}")
            self._undo.append(lambda parent=parent, name=name, module=module: self._put(parent, name, module))

    def on_restore(self, undo: Callable[[], None]) -> None:
        """Call ``undo`` when restoring (a hook handle's ``remove``, for example)."""
        self._undo.append(undo)

    def restore(self) -> None:
        """Undo every change, last first. Safe to call twice."""
        while self._undo:
            self._undo.pop()()


@dataclass(frozen=True)
class Layer:
    """One transformer layer.

    Args:
        index: its layer bit (0-based, counting the layers of every stack in order).
        stack: which stack it is in (0 = encoder or the only stack, 1 = decoder).
        path: its dotted path from the root model.
    """

    index: int
    stack: int
    path: str


class Sites:
    """The layers of a model and the module of each role in them, resolved through its family.

    Args:
        model: the root model (a ``...ForSequenceClassification``).
        family: its layout.
    """

    def __init__(self, model: nn.Module, family: Family) -> None:
        self.model = model
        self.family = family
        base = getattr(model, "base_model", model)
        self.base_path = next(name for name, module in model.named_modules() if module is base)
        layers: list[Layer] = []
        for stack, stack_path in enumerate(family.stacks):
            full = ".".join(p for p in (self.base_path, stack_path) if p)
            container = get_module(model, full)
            if container is None:
                raise ValueError(f"family {family.name}: the model has no layer list at {full!r}")
            for i in range(len(container)):
                layers.append(Layer(index=len(layers), stack=stack, path=f"{full}.{i}"))
        self.layers: tuple[Layer, ...] = tuple(layers)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def path(self, layer: int, role: str) -> str | None:
        """The full dotted path of ``role``'s module in layer ``layer`` (negative indices resolved), or
        None if the family has no such role or the layer lacks it."""
        relative = self.family.roles.get(role)
        if relative is None:
            return None
        root = self.layers[layer].path
        for option in relative.split("|"):
            resolved = self._resolve(root, option)
            if resolved is not None:
                return resolved
        return None

    def _resolve(self, root: str, relative: str) -> str | None:
        module = get_module(self.model, root)
        parts = [root]
        for part in relative.split("."):
            module = _child(module, part) if module is not None else None
            if module is None:
                return None
            parts.append(str(int(part) % len(_parent_list(self.model, parts))) if _is_int(part) else part)
        return ".".join(parts)

    def module(self, path: str) -> nn.Module:
        module = get_module(self.model, path)
        if module is None:
            raise KeyError(f"no module at {path!r}")
        return module

    def paths(self, role: str, layers: Iterable[int]) -> list[str]:
        """The paths of ``role`` in ``layers``.

        Raises:
            KeyError: if a layer lacks the role.
        """
        out = []
        for layer in layers:
            path = self.path(layer, role)
            if path is None:
                raise KeyError(f"layer {layer} has no {role} module in family {self.family.name}")
            out.append(path)
        return out

    def lacking(self, role: str) -> tuple[int, ...]:
        """The layers that have no module for ``role`` (all of them if the family lacks the role)."""
        return tuple(layer.index for layer in self.layers if self.path(layer.index, role) is None)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _parent_list(root: nn.Module, parts: list[str]) -> Any:
    return get_module(root, ".".join(parts))


@dataclass
class Target:
    """What a module kind attaches to (:meth:`~autopeft.modules.ModuleKind.attach`).

    Args:
        model: the root model (changed in place).
        sites: its layers and the module of each role.
        surgery: the record every change goes through.
        hidden_size: the model's hidden size H.
    """

    model: nn.Module
    sites: Sites
    surgery: Surgery
    hidden_size: int


def out_features(module: nn.Module) -> int:
    """Output width of a linear layer: ``nn.Linear``, GPT-2's ``Conv1D`` (``nf``), or an HF PEFT wrapper
    of either (its ``base_layer``)."""
    while hasattr(module, "base_layer"):
        module = module.base_layer
    if isinstance(module, nn.Linear):
        return module.out_features
    if hasattr(module, "nf"):
        return int(module.nf)
    raise TypeError(f"{type(module).__name__} is not a linear layer")


def weight_of(module: nn.Module) -> Any:
    """A parameter of ``module`` (for its device and dtype)."""
    return next(module.parameters())
