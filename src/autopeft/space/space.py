"""The search space: which PEFT modules, how large, in which layers.

A configuration (:class:`PeftConfig`) holds one insertion bit per transformer layer, shared by every
module (as in the AutoPEFT paper), and one value per registered module kind (:data:`autopeft.modules.MODULES`:
a size, 0 = off, or an on/off switch). A :class:`SearchSpace` is built from a model's own config (layer
count, hidden size) and the module kinds it searches; nothing here knows model names or module kinds by name.

Encoding (used by every optimiser): a configuration is a vector of ``len(space.dimensions)`` floats.

- one ``bit`` dimension per layer, value 0.0 (off) or 1.0 (on);
- one ``ordinal`` dimension per sized module, value = the index of the size in ``(0, 1, 3, ..., H)``
  (0 = off; sizes ascending, so neighbouring indices are neighbouring sizes);
- one ``bit`` dimension per on/off module ((IA)³), 0.0 or 1.0.

Dimensions come in this order: layers 0..L-1, then the modules in the order of ``space.modules``.

The ``lora`` space has a layout of its own (a rank per group of layers, target bits, an alpha scale):
:class:`autopeft.space.lora_space.LoraSpace`, a subclass with the same interface; the optimisers read
only ``dimensions``, ``encode``/``decode``, ``bounds``, ``valid_indices``, ``sample``, ``size`` and
``check``/``contains``, so they search either layout.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from autopeft.errors import UserError
from autopeft.modules import MODULES, size_scale

#: Named spaces: which modules they search.
SPACES: dict[str, tuple[str, ...]] = {
    "paper": ("serial", "parallel", "prefix"),
    "extended": ("serial", "parallel", "prefix", "lora", "ia3"),
    # its own layout (:class:`autopeft.space.lora_space.LoraSpace`): per-group ranks, targets, alpha
    "lora": ("lora",),
}
#: Named spaces with a layout of their own (their ``to_dict`` says ``"layout"``), by name.
LAYOUTS = ("lora",)


@dataclass(frozen=True, init=False, repr=False)
class PeftConfig:
    """One PEFT configuration: where modules go and how large they are.

    ``PeftConfig(layers=(True, False, True), serial=12, ia3=True)`` takes one keyword per registered
    module kind (:data:`autopeft.modules.MODULES`), each checked and normalised by its kind (a size to
    ``int``, a switch to ``bool``); kinds not given are off. A kind's value reads as an attribute,
    ``config.serial``. Configurations are immutable, and equal when their layers and the modules that
    are on are equal.

    Args:
        layers: one bit per transformer layer (index 0 = the layer nearest the embeddings); every
            module present goes into exactly the layers that are on.
        learning_rate: the peak learning rate this configuration trains with, when the search chooses it
            (``--search-lr``); None = the budget's.
        options: ``{kind name: {option: value}}``, for kinds that are on: what a kind's value alone does
            not say, checked by the kind (:meth:`~autopeft.modules.ModuleKind.check_options`). The
            ``lora`` space's configurations give ``{"lora": {"ranks": (one rank per layer, 0 = off),
            "targets": (roles), "alpha_scale": alpha / rank}}``, with ``lora`` = the largest rank and
            ``layers`` = the layers whose rank is not 0. Stored frozen (lists become tuples), so that
            configurations stay hashable; absent from :meth:`to_dict` and :meth:`key` when empty, so
            that the configurations of the other spaces keep the dicts and keys saved before it existed.
        **modules: ``kind name = value``: a size (0 = off) for a sized kind (a serial or parallel
            adapter's bottleneck, a prefix length, a LoRA rank), ``True``/``False`` for a switch ((IA)³).

    Raises:
        UserError: a value its kind refuses (naming the kind), or no layer bits.
        TypeError: a keyword that names no registered kind.
    """

    layers: tuple[bool, ...]
    # the modules that are on, as (name, value) in registration order: what equality and hashing compare
    _on: tuple[tuple[str, int | bool], ...]
    learning_rate: float | None
    # per-kind options beyond the value, frozen: ((kind, ((key, value), ...)), ...) in registration order
    _options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]

    def __init__(
        self,
        layers: Sequence[bool],
        learning_rate: float | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        **modules: Any,
    ) -> None:
        if not modules.keys() <= MODULES.keys():
            unknown = sorted(set(modules) - set(MODULES))
            raise TypeError(f"PeftConfig got unknown module kinds {unknown}; registered: {list(MODULES)}")
        on = []
        for name, kind in MODULES.items():
            value = kind.check(modules[name]) if name in modules else kind.off
            # a plain attribute as well: values are read at every encoding and key
            object.__setattr__(self, name, value)
            if value:
                on.append((name, value))
        object.__setattr__(self, "layers", tuple(bool(b) for b in layers))
        object.__setattr__(self, "_on", tuple(on))
        object.__setattr__(self, "learning_rate", _check_learning_rate(learning_rate))
        object.__setattr__(self, "_options", _check_options(options or {}, dict(on)))
        if not self.layers:
            raise UserError("layers", self.layers, "needs one bit per transformer layer", "give the bits")

    def __getattr__(self, name: str) -> Any:
        # called only when ordinary lookup fails: a kind registered after this configuration was made is off
        if name in MODULES:
            return MODULES[name].off
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        modules = "".join(f", {name}={value!r}" for name, value in self._on)
        lr = "" if self.learning_rate is None else f", learning_rate={self.learning_rate!r}"
        options = f", options={self.options!r}" if self._options else ""
        return f"{type(self).__name__}(layers={self.layers!r}{lr}{options}{modules})"

    @property
    def options(self) -> dict[str, dict[str, Any]]:
        """``{kind: {option: value}}`` as given (tuples for sequences); empty for most configurations."""
        return {name: dict(items) for name, items in self._options}

    def options_of(self, kind: str) -> dict[str, Any]:
        """The options of one kind (empty if none were given)."""
        return dict(dict(self._options).get(kind, ()))

    @property
    def active_layers(self) -> tuple[int, ...]:
        """Indices of the layers that are on."""
        return tuple(i for i, on in enumerate(self.layers) if on)

    @property
    def active_modules(self) -> tuple[str, ...]:
        """Names of the modules that are on, in registration order (:data:`autopeft.modules.MODULES`)."""
        return tuple(name for name, _ in self._on)

    @property
    def is_valid(self) -> bool:
        """At least one layer on and at least one module on."""
        return bool(self.active_layers) and bool(self.active_modules)

    def key(self) -> str:
        """A stable string identifying the configuration (for de-duplication)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """``{"layers": [bool, ...], <kind>: value, ...}`` in registration order: every kind that is on,
        and every kind listed when off (:attr:`~autopeft.modules.ModuleKind.listed_when_off`: the
        built-in kinds, as saved searches hold them), then ``learning_rate`` when the configuration has
        one (so that configurations without one keep the dicts and keys saved before it existed)."""
        values = {name: getattr(self, name) for name, kind in MODULES.items()}
        listed = {name: v for name, v in values.items() if v or MODULES[name].listed_when_off}
        lr = {} if self.learning_rate is None else {"learning_rate": self.learning_rate}
        options = {name: _thawed(dict(items)) for name, items in self._options}
        return {"layers": list(self.layers), **listed, **lr, **({"options": options} if options else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PeftConfig:
        unknown = set(data) - {"layers", "learning_rate", "options", *MODULES}
        if unknown:
            raise UserError(
                "config",
                sorted(unknown),
                "unknown configuration fields",
                f"use only {[*MODULES, 'layers', 'learning_rate', 'options']}",
            )
        layers = data.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise UserError("layers", layers, "must be a list of booleans, one per layer", "give the layer bits")
        return cls(**{**data, "layers": tuple(layers)})

    def describe(self) -> str:
        """Compact human form, e.g. ``L[3,4,5] parallel=96 prefix=3``."""
        parts = [f"L[{','.join(map(str, self.active_layers))}]"]
        options = self.options
        parts += [
            MODULES[name].describe_config(value, options[name], self.active_layers)
            if name in options
            else MODULES[name].describe(value)
            for name, value in self._on
        ]
        if self.learning_rate is not None:
            parts.append(f"lr={self.learning_rate:g}")
        return " ".join(parts)


def _frozen(value: Any) -> Any:
    """``value`` hashable: lists and tuples become tuples (recursively), dicts sorted item tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    return value


def _thawed(value: Any) -> Any:
    """The JSON form of a frozen option (tuples become lists)."""
    if isinstance(value, dict):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    return value


def _check_options(
    options: Mapping[str, Mapping[str, Any]], on: dict[str, int | bool]
) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """Options checked by their kinds and frozen, in registration order (see :class:`PeftConfig`)."""
    if not isinstance(options, Mapping):
        raise UserError("options", options, "must map module kinds to option dicts", 'e.g. {"lora": {...}}')
    for name, given in options.items():
        if name not in MODULES:
            raise UserError("options", name, "names no registered module kind", f"use one of {list(MODULES)}")
        if name not in on:
            raise UserError("options", name, "gives options for a module that is off", "turn it on or drop them")
        if not isinstance(given, Mapping):
            raise UserError(f"options.{name}", given, "must be a dict of options", "give {option: value}")
    return tuple(
        (name, _frozen(dict(MODULES[name].check_options(on[name], options[name]))))
        for name in MODULES
        if options.get(name)
    )


def _check_learning_rate(value: Any) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise UserError("learning_rate", value, "must be a positive number", "e.g. 3e-4, or leave it out")
    return float(value)


#: A searched learning rate's choices, as factors of the budget's learning rate: log-spaced about half a
#: decade apart, from a tenth of it to three times it (1e-4, 3e-4, 1e-3, 3e-3 around 1e-3, where PEFT
#: modules usually train well; the committed reproduction's parallel adapter and MAM did far better at
#: 3e-4 than at 1e-3).
LEARNING_RATE_FACTORS = (0.1, 0.3, 1.0, 3.0)


def learning_rate_choices(center: float) -> tuple[float, ...]:
    """The learning rates a ``--search-lr`` space offers around ``center``, ascending, each rounded to one
    significant digit (``1e-3`` gives ``(1e-4, 3e-4, 1e-3, 3e-3)``)."""
    return tuple(sorted({float(f"{center * f:.0e}") for f in LEARNING_RATE_FACTORS}))


DimensionKind = Literal["bit", "ordinal"]


@dataclass(frozen=True)
class Dimension:
    """One coordinate of the encoded space.

    Args:
        name: ``"layer_<i>"`` or a module name.
        kind: ``"bit"`` (values 0, 1) or ``"ordinal"`` (values 0..len(choices)-1, the index into choices).
        choices: the configuration values the coordinate takes, in encoding order.
    """

    name: str
    kind: DimensionKind
    choices: tuple[Any, ...]

    @property
    def cardinality(self) -> int:
        return len(self.choices)


@dataclass(frozen=True)
class SearchSpace:
    """A discrete PEFT search space for one model.

    Args:
        name: ``"paper"``, ``"extended"`` or a custom name.
        num_layers: transformer layers of the model (one insertion bit each).
        hidden_size: the model's hidden size H (sizes are derived from it).
        modules: the module kinds searched, names registered in :data:`autopeft.modules.MODULES`, in
            encoding order.
        sizes: the non-zero sizes of every sized module, ascending; default the scale its sized kinds
            share on a model of hidden size H (:meth:`~autopeft.modules.ModuleKind.scale`, for every
            built-in kind :func:`~autopeft.modules.size_scale` of H).
        learning_rates: the peak learning rates searched (a last, ordinal dimension ``learning_rate``),
            ascending; empty (the default) = none searched, every trial trains with the budget's.
    """

    name: str
    num_layers: int
    hidden_size: int
    modules: tuple[str, ...]
    sizes: tuple[int, ...] = field(default=())
    learning_rates: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.num_layers < 1:
            raise UserError("num_layers", self.num_layers, "the model has no transformer layers", "use another model")
        if not self.modules:
            raise UserError(
                "modules",
                self.modules,
                "a space with no module admits no valid configuration",
                f"search at least one of {list(MODULES)}",
            )
        for m in self.modules:
            if m not in MODULES:
                raise UserError("modules", m, "unknown module", f"use one of {list(MODULES)}")
        if len(set(self.modules)) != len(self.modules):
            raise UserError("modules", self.modules, "a module is listed twice", "list each module once")
        if not self.sizes:
            object.__setattr__(self, "sizes", self._shared_scale())
        if any(s < 1 for s in self.sizes) or list(self.sizes) != sorted(set(self.sizes)):
            raise UserError("sizes", self.sizes, "must be distinct positive integers, ascending", "fix sizes")
        rates = tuple(_check_learning_rate(r) for r in self.learning_rates)
        if list(rates) != sorted(set(rates)):
            raise UserError("learning_rates", self.learning_rates, "must be distinct, ascending", "sort them")
        object.__setattr__(self, "learning_rates", rates)

    def _shared_scale(self) -> tuple[int, ...]:
        """The one size scale of this space's sized kinds (:func:`size_scale` of H if it has none)."""
        kinds = [MODULES[m] for m in self.modules if MODULES[m].dimension == "size"]
        scales = {kind.scale(self.hidden_size) for kind in kinds} or {size_scale(self.hidden_size)}
        if len(scales) > 1:
            raise UserError("sizes", (), f"the modules {self.modules} declare different size scales", "give the sizes")
        return scales.pop()

    @classmethod
    def named(cls, name: str, num_layers: int, hidden_size: int) -> SearchSpace:
        """One of the named spaces (:data:`SPACES`) of layer bits and module sizes sized for a model (not a
        space of its own layout, :data:`LAYOUTS`: those read the model's modules, see :meth:`for_model_config`)."""
        if name not in SPACES:
            raise UserError("space", name, "unknown search space", f"use one of {sorted(SPACES)}")
        if name in LAYOUTS:
            raise UserError("space", name, "is sized from the model's modules", "use SearchSpace.for_model_config")
        return cls(name=name, num_layers=num_layers, hidden_size=hidden_size, modules=SPACES[name])

    @classmethod
    def for_model_config(cls, name: str, model_config: Any, learning_rates: Sequence[float] = ()) -> SearchSpace:
        """A named space sized from a ``transformers`` config: the layers of every stack (an
        encoder-decoder's encoder and decoder layers), its hidden size, and the named space's modules
        that can be placed in the model's family (:func:`autopeft.modules.families.unplaceable` says why
        one cannot).

        Raises:
            UserError: if the model type is in no family, or none of the space's modules can be placed.
        """
        from autopeft.modules.families import hidden_size, layer_count, unplaceable

        if name not in SPACES:
            raise UserError("space", name, "unknown search space", f"use one of {sorted(SPACES)}")
        if name in LAYOUTS:
            from autopeft.space.lora_space import LoraSpace

            return LoraSpace.for_model_config(name, model_config, learning_rates)
        missing = unplaceable(model_config)
        modules = tuple(m for m in SPACES[name] if m not in missing)
        if not modules:
            raise UserError(
                "space",
                name,
                f"none of its modules can be placed in a {model_config.model_type} model ({missing})",
                "use another space or model",
            )
        return cls(
            name=name,
            num_layers=layer_count(model_config),
            hidden_size=hidden_size(model_config),
            modules=modules,
            learning_rates=tuple(learning_rates),
        )

    # --- dimensions and encoding -------------------------------------------------------------

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        layers = [Dimension(f"layer_{i}", "bit", (False, True)) for i in range(self.num_layers)]
        modules = [
            Dimension(m, "ordinal" if MODULES[m].dimension == "size" else "bit", MODULES[m].choices(self.sizes))
            for m in self.modules
        ]
        rates = [Dimension("learning_rate", "ordinal", self.learning_rates)] if self.learning_rates else []
        return (*layers, *modules, *rates)

    @property
    def module_dimensions(self) -> slice:
        """Where the module dimensions lie in :attr:`dimensions` (after the layer bits, before the
        learning rate): a configuration is valid when a layer bit and a module dimension are non-zero."""
        return slice(self.num_layers, self.num_layers + len(self.modules))

    def valid_indices(self, idx: np.ndarray) -> np.ndarray:
        """Which rows of encoded indices (shape ``(n, len(dimensions))``, as :meth:`encode` gives) are
        valid configurations: some layer bit and some module dimension non-zero; shape ``(n,)``, bool.
        The optimisers filter candidate grids with it."""
        idx = np.asarray(idx).reshape(-1, len(self.dimensions))
        return idx[:, : self.num_layers].any(axis=1) & idx[:, self.module_dimensions].any(axis=1)

    @property
    def size(self) -> int:
        """Number of valid configurations."""
        module_combos = 1
        for m in self.modules:
            module_combos *= len(MODULES[m].choices(self.sizes))
        return (2**self.num_layers - 1) * (module_combos - 1) * max(1, len(self.learning_rates))

    def encode(self, config: PeftConfig) -> np.ndarray:
        """Configuration → vector, shape ``(len(self.dimensions),)``, float64 (see module docstring)."""
        self.check(config)
        values: list[float] = [float(b) for b in config.layers]
        values += [float(MODULES[m].choices(self.sizes).index(getattr(config, m))) for m in self.modules]
        if self.learning_rates:
            values.append(float(self.learning_rates.index(config.learning_rate)))
        return np.asarray(values, dtype=np.float64)

    def decode(self, vector: Sequence[float] | np.ndarray) -> PeftConfig:
        """Vector → configuration. Values are rounded to the nearest valid index and clipped."""
        vec = np.asarray(vector, dtype=np.float64).reshape(-1)
        dims = self.dimensions
        if vec.shape[0] != len(dims):
            raise ValueError(f"vector has {vec.shape[0]} entries; the space has {len(dims)} dimensions")
        idx = [int(np.clip(np.rint(v), 0, d.cardinality - 1)) for v, d in zip(vec, dims, strict=True)]
        layers = tuple(bool(i) for i in idx[: self.num_layers])
        kwargs = {d.name: d.choices[i] for d, i in zip(dims[self.num_layers :], idx[self.num_layers :], strict=True)}
        return PeftConfig(layers=layers, **kwargs)  # learning_rate, when searched, is one of the kwargs

    def bounds(self) -> np.ndarray:
        """Box bounds of the encoding, shape ``(2, d)``: row 0 lower, row 1 upper (inclusive)."""
        return np.array([[0.0] * len(self.dimensions), [d.cardinality - 1.0 for d in self.dimensions]])

    def check(self, config: PeftConfig) -> None:
        """Raise :class:`UserError` unless ``config`` belongs to this space and is valid."""
        if len(config.layers) != self.num_layers:
            raise UserError(
                "layers",
                len(config.layers),
                f"this space has {self.num_layers} layers",
                f"give {self.num_layers} layer bits",
            )
        for m, kind in MODULES.items():
            v = getattr(config, m)
            if m not in self.modules and v:
                raise UserError(m, v, f"module is not in the {self.name!r} space", f"search {self.modules}")
            if m in self.modules and v not in kind.choices(self.sizes):
                raise UserError(m, v, "size is not on this space's scale", f"use one of {self.sizes}")
        self._check_rate_of(config)
        if not config.is_valid:
            raise UserError(
                "config",
                config.describe(),
                "a configuration needs at least one layer and one module on",
                "turn on a layer and a module",
            )

    def _check_rate_of(self, config: PeftConfig) -> None:
        """Raise :class:`UserError` unless ``config`` has one of this space's learning rates, or none when
        the space does not search it."""
        if self.learning_rates and config.learning_rate not in self.learning_rates:
            raise UserError(
                "learning_rate", config.learning_rate, "is not among this space's", f"use one of {self.learning_rates}"
            )
        if not self.learning_rates and config.learning_rate is not None:
            raise UserError(
                "learning_rate", config.learning_rate, "this space does not search it", "leave it out of the config"
            )

    def contains(self, config: PeftConfig) -> bool:
        try:
            self.check(config)
        except UserError:
            return False
        return True

    def sample(self, rng: np.random.Generator) -> PeftConfig:
        """A valid configuration uniformly at random over valid configurations (rejection sampling)."""
        dims = self.dimensions
        while True:
            vec = [rng.integers(0, d.cardinality) for d in dims]
            config = self.decode(vec)
            if config.is_valid:
                return config

    def describe(self) -> list[dict[str, Any]]:
        """One row per dimension, for ``autopeft space``."""
        rows = []
        for d in self.dimensions:
            if d.name.startswith("layer_"):
                what = "insert modules in this layer"
            elif d.name == "learning_rate":
                what = "peak learning rate of the trial (--search-lr)"
            else:
                what = MODULES[d.name].description
            rows.append({"name": d.name, "kind": d.kind, "choices": list(d.choices), "meaning": what})
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "modules": list(self.modules),
            "sizes": list(self.sizes),
            # only when searched, so that spaces saved before it existed compare equal
            **({"learning_rates": list(self.learning_rates)} if self.learning_rates else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        """The space :meth:`to_dict` gave: a :class:`~autopeft.space.lora_space.LoraSpace` for the
        ``lora`` layout, else this class (spaces saved before layouts existed have none)."""
        layout = data.get("layout")
        if layout is not None:
            if layout not in LAYOUTS:
                raise UserError("space layout", layout, "unknown", f"use one of {LAYOUTS} (a newer autopeft?)")
            from autopeft.space.lora_space import LoraSpace

            return LoraSpace.from_dict(data)
        return cls(**cls._common_fields(data))

    @staticmethod
    def _common_fields(data: dict[str, Any]) -> dict[str, Any]:
        """The fields every layout saves (:meth:`to_dict`), read back."""
        return {
            "name": data["name"],
            "num_layers": int(data["num_layers"]),
            "hidden_size": int(data["hidden_size"]),
            "modules": tuple(data["modules"]),
            "sizes": tuple(data.get("sizes", ())),
            "learning_rates": tuple(data.get("learning_rates", ())),
        }
