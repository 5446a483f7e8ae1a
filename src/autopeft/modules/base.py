"""What a PEFT module kind declares: its dimension of the search space, its sizes, how it is built and
described, and its literature presets.

A module kind is a :class:`ModuleKind` instance, registered once (:func:`autopeft.modules.register`).
Everything else reads the registry: a configuration (:class:`~autopeft.space.PeftConfig`) holds one
value per registered kind, a search space (:class:`~autopeft.space.SearchSpace`) has one dimension per
kind it searches, the build layer asks each kind that is on to attach itself to the model
(:meth:`ModuleKind.attach`), and the baselines include each kind's presets.

Nothing here imports torch or a PEFT library at import time: kinds import them inside
:meth:`ModuleKind.attach`, so that the space and the optimisers load without torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from autopeft.errors import UserError

if TYPE_CHECKING:
    from autopeft.modules.sites import Target

#: ``"size"``: a non-negative integer, 0 = off (a bottleneck size, a prefix length, a rank);
#: ``"switch"``: on or off (a bool).
DimensionType = Literal["size", "switch"]


def size_scale(hidden_size: int) -> tuple[int, ...]:
    """Sizes derived from the hidden size: ``H, H/2, H/4, ...`` (integer halving) down to 1, ascending.

    For H = 768 this is (1, 3, 6, 12, 24, 48, 96, 192, 384, 768), the paper's scale; for H = 384,
    (1, 3, 6, 12, 24, 48, 96, 192, 384). 0 (off) is not included.
    """
    if hidden_size < 1:
        raise UserError("hidden_size", hidden_size, "must be a positive integer", "check the model's config")
    sizes = []
    s = int(hidden_size)
    while s > 1:
        sizes.append(s)
        s //= 2
    sizes.append(1)
    return tuple(sorted(set(sizes)))


def bottleneck_size(options: Mapping[str, Any], hidden_size: int) -> int:
    """The bottleneck size an options dict gives on a model of hidden size ``hidden_size``: its ``size``,
    or ``int(hidden_size // reduction_factor)`` (presets from the literature give sizes as reduction
    factors of the hidden size, as the ``adapters`` library does, so that they scale with the model)."""
    if "size" in options:
        return int(options["size"])
    return int(hidden_size // float(options["reduction_factor"]))


@dataclass(frozen=True)
class Preset:
    """A configuration of one module kind from the literature: a baseline of ``autopeft baselines``.

    Args:
        name: identifier in results, run keys and ``--methods`` (letters, digits, ``-``, ``_``, ``.``).
        label: display name in reports.
        source: the citation, and what is special about it (for example ``"two per layer"``).
        modules: ``{module kind: options}`` (see :meth:`ModuleKind.options`), in every layer; bottleneck
            sizes may be given as a ``reduction_factor`` of the hidden size, so that they scale with the model.
    """

    name: str
    label: str
    source: str
    modules: dict[str, dict[str, Any]]


#: Names a module kind cannot take: the other keys of a configuration dict.
_RESERVED = ("layers", "learning_rate", "options")


@dataclass(frozen=True)
class ModuleKind(ABC):
    """One kind of PEFT module (serial adapter, LoRA, ...), declared once.

    A subclass implements :meth:`attach` (and, if the kind has any, :meth:`presets`); one instance of it
    is registered under :attr:`name`.

    Contract:

    - a value of the kind is ``0``/``False`` (off) or a positive size / ``True`` (on), checked by
      :meth:`check`; :meth:`options` turns it into the options dict :meth:`attach` reads (presets give
      options dicts directly);
    - the module goes into every layer it is given and no other, and its deployed parameter count is the
      same in each layer it occupies (the parameter table multiplies one layer's count by the layers on);
    - every parameter it adds has ``autopeft_<name>`` (:attr:`adapter_name`) as one component of its
      parameter name, and every one of them receives a gradient when the model trains;
    - every change it makes to the model goes through the target's :class:`~autopeft.modules.sites.Surgery`,
      so that the backbone is restored exactly after the trial.

    Args:
        name: the kind's identifier: the keyword of :class:`~autopeft.space.PeftConfig` and its key in
            configuration dicts, ledgers and reports, and the suffix of the built adapter's name. A Python
            identifier not starting with ``_``, other than ``layers`` and the names of
            :class:`~autopeft.space.PeftConfig`'s own methods and properties.
        dimension: ``"size"`` or ``"switch"`` (see :data:`DimensionType`).
        description: what the value means, one line for ``autopeft space``.
        listed_when_off: whether a configuration's dict (ledgers, ``pareto.json``, run keys) lists the
            kind when it is off. True only for the five kinds the project started with, which saved
            dicts always list; a kind added later is listed only when on, so that registering it
            changes no saved configuration and no de-duplication or run key.
        requires: see the attribute.
        first: see the attribute.
    """

    name: str
    dimension: DimensionType
    description: str
    listed_when_off: bool = False
    #: Roles of :data:`autopeft.modules.families.ROLES` the kind needs in every layer it goes into; a
    #: model whose family lacks one does not offer the kind.
    requires: tuple[str, ...] = ()
    #: Attached before the kinds that wrap modules: HF PEFT kinds replace the plain linear layers they
    #: target, so they must find them unwrapped.
    first: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_") or self.name in _RESERVED:
            raise ValueError(f"module kind name {self.name!r} must be an identifier, not one of {_RESERVED} or private")
        if self.dimension not in ("size", "switch"):
            raise ValueError(f"module kind {self.name!r}: dimension must be 'size' or 'switch', not {self.dimension!r}")

    @property
    def off(self) -> int | bool:
        """The value that leaves the module out: ``0`` for a size, ``False`` for a switch."""
        return 0 if self.dimension == "size" else False

    def scale(self, hidden_size: int) -> tuple[int, ...]:
        """The non-zero sizes a sized kind takes on a model of hidden size ``hidden_size``, ascending
        (default :func:`size_scale`). A space whose sized kinds share one scale uses it by default."""
        return size_scale(hidden_size)

    def choices(self, sizes: tuple[int, ...]) -> tuple[int | bool, ...]:
        """The values of this kind's dimension in a space whose sized kinds take ``sizes``, in encoding
        order, off first: ``(0, *sizes)`` for a size, ``(False, True)`` for a switch."""
        return (0, *sizes) if self.dimension == "size" else (False, True)

    def check(self, value: Any) -> int | bool:
        """``value`` normalised to ``int`` (a size) or ``bool`` (a switch).

        Raises:
            UserError: naming this kind, if a size is not a non-negative integer.
        """
        if self.dimension == "switch":
            return bool(value)
        try:
            ok = not isinstance(value, bool) and int(value) == value and value >= 0
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise UserError(self.name, value, "must be a non-negative integer (0 = off)", "give a size")
        return int(value)

    def describe(self, value: int | bool) -> str:
        """A value that is on in compact form: ``serial=12`` for a size, ``ia3`` for a switch."""
        return self.name if self.dimension == "switch" else f"{self.name}={value}"

    def check_options(self, value: int | bool, options: Mapping[str, Any]) -> dict[str, Any]:
        """A configuration's options of this kind (:attr:`~autopeft.space.PeftConfig.options`) checked
        against its value and normalised; by default any options are taken as given.

        Raises:
            UserError: naming the option, the value and the fix, for options the kind refuses.
        """
        return dict(options)

    def describe_config(self, value: int | bool, options: Mapping[str, Any], layers: tuple[int, ...]) -> str:
        """A value that is on with its configuration's options, compactly (``layers``: the layers on);
        by default as :meth:`describe`."""
        return self.describe(value)

    @property
    def adapter_name(self) -> str:
        """The name component of every parameter this kind adds (``autopeft_<name>``)."""
        return f"autopeft_{self.name}"

    def options(self, value: int | bool) -> dict[str, Any]:
        """The options dict of a searched value that is on: ``{"size": value}`` for a sized kind, ``{}`` for
        a switch. Presets give options with more keys (placements, scales), which :meth:`attach` reads."""
        return {"size": int(value)} if self.dimension == "size" else {}

    @abstractmethod
    def attach(self, target: Target, options: Mapping[str, Any], layers: tuple[int, ...]) -> None:
        """Add this kind's modules to ``target.model`` in ``layers``, every change through ``target.surgery``.

        Args:
            target: the model, its sites (layers, roles) and its surgery record.
            options: the kind's options (:meth:`options`, or a preset's).
            layers: the layer bits that are on (indices into ``target.sites.layers``, ascending).
        """

    def deployed_numel(self, target: Target, trainable: int) -> int:
        """Parameters of this kind as deployed, given ``trainable`` (its trainable parameters while
        training). The same by default; prefix-tuning ejects its reparametrisation."""
        return trainable

    def describe_options(self, options: Mapping[str, Any], hidden_size: int | None) -> str:
        """What the module trains, in a few words (``"serial adapter 24 after attention"``); bottleneck
        sizes resolved on a model of hidden size ``hidden_size`` (``H/16`` style when None)."""
        return self.describe(options.get("size", True)) if options else self.name

    def presets(self) -> tuple[Preset, ...]:
        """This kind's configurations from the literature, in report order (none by default)."""
        return ()
