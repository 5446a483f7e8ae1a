"""The search space: which PEFT modules, how large, in which layers.

A configuration (:class:`PeftConfig`) holds one insertion bit per transformer layer, shared by every
module (as in the AutoPEFT paper), and one size per module (0 = off). A :class:`SearchSpace` is built
from a model's own config (layer count, hidden size); nothing here knows model names.

Encoding (used by every optimiser): a configuration is a vector of ``len(space.dimensions)`` floats.

- one ``bit`` dimension per layer, value 0.0 (off) or 1.0 (on);
- one ``ordinal`` dimension per sized module, value = the index of the size in ``(0, 1, 3, ..., H)``
  (0 = off; sizes ascending, so neighbouring indices are neighbouring sizes);
- one ``bit`` dimension per on/off module ((IA)³), 0.0 or 1.0.

Dimensions come in this order: layers 0..L-1, then the modules in the order of ``space.modules``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from autopeft.errors import UserError

ModuleKind = Literal["size", "switch"]


@dataclass(frozen=True)
class ModuleSpec:
    """One PEFT building block of the search space.

    Args:
        name: field name in :class:`PeftConfig` (``"serial"``, ``"parallel"``, ...).
        kind: ``"size"`` (an integer size, 0 = off) or ``"switch"`` (on/off).
        description: what the size means, for ``autopeft space``.
    """

    name: str
    kind: ModuleKind
    description: str


#: Every module the project knows, declared once. The build layer maps each name to the PEFT library.
MODULES: dict[str, ModuleSpec] = {
    m.name: m
    for m in (
        ModuleSpec("serial", "size", "serial adapter bottleneck size (after the attention sub-layer)"),
        ModuleSpec("parallel", "size", "parallel adapter bottleneck size (beside the feed-forward sub-layer)"),
        ModuleSpec("prefix", "size", "prefix-tuning prefix length (keys and values of self-attention)"),
        ModuleSpec("lora", "size", "LoRA rank (query and value projections)"),
        ModuleSpec("ia3", "switch", "(IA)³ rescaling of keys, values and the feed-forward activations"),
    )
}

#: Named spaces: which modules they search.
SPACES: dict[str, tuple[str, ...]] = {
    "paper": ("serial", "parallel", "prefix"),
    "extended": ("serial", "parallel", "prefix", "lora", "ia3"),
}


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


@dataclass(frozen=True)
class PeftConfig:
    """One PEFT configuration: where modules go and how large they are.

    Args:
        layers: one bit per transformer layer (index 0 = the layer nearest the embeddings); every
            module present goes into exactly the layers that are on.
        serial: serial adapter bottleneck size (0 = off).
        parallel: parallel adapter bottleneck size (0 = off).
        prefix: prefix length in tokens (0 = off).
        lora: LoRA rank (0 = off).
        ia3: (IA)³ on or off.
    """

    layers: tuple[bool, ...]
    serial: int = 0
    parallel: int = 0
    prefix: int = 0
    lora: int = 0
    ia3: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(bool(b) for b in self.layers))
        for name, spec in MODULES.items():
            value = getattr(self, name)
            if spec.kind == "size":
                try:
                    ok = not isinstance(value, bool) and int(value) == value and value >= 0
                except (TypeError, ValueError, OverflowError):
                    ok = False
                if not ok:
                    raise UserError(name, value, "must be a non-negative integer (0 = off)", "give a size")
                object.__setattr__(self, name, int(value))
            else:
                object.__setattr__(self, name, bool(value))
        if not self.layers:
            raise UserError("layers", self.layers, "needs one bit per transformer layer", "give the bits")

    @property
    def active_layers(self) -> tuple[int, ...]:
        """Indices of the layers that are on."""
        return tuple(i for i, on in enumerate(self.layers) if on)

    @property
    def active_modules(self) -> tuple[str, ...]:
        """Names of the modules that are on, in the order of :data:`MODULES`."""
        return tuple(name for name in MODULES if getattr(self, name))

    @property
    def is_valid(self) -> bool:
        """At least one layer on and at least one module on."""
        return bool(self.active_layers) and bool(self.active_modules)

    def key(self) -> str:
        """A stable string identifying the configuration (for de-duplication)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"] = list(self.layers)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PeftConfig:
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise UserError(
                "config", sorted(unknown), "unknown configuration fields", f"use only {[*MODULES, 'layers']}"
            )
        layers = data.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise UserError("layers", layers, "must be a list of booleans, one per layer", "give the layer bits")
        return cls(**{**data, "layers": tuple(layers)})

    def describe(self) -> str:
        """Compact human form, e.g. ``L[3,4,5] parallel=96 prefix=3``."""
        parts = [f"L[{','.join(map(str, self.active_layers))}]"]
        for name in self.active_modules:
            value = getattr(self, name)
            parts.append(name if isinstance(value, bool) else f"{name}={value}")
        return " ".join(parts)


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
        modules: the modules searched, names from :data:`MODULES`.
        sizes: the non-zero sizes of sized modules; default :func:`size_scale` of H.
    """

    name: str
    num_layers: int
    hidden_size: int
    modules: tuple[str, ...]
    sizes: tuple[int, ...] = field(default=())

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
            object.__setattr__(self, "sizes", size_scale(self.hidden_size))
        if any(s < 1 for s in self.sizes) or list(self.sizes) != sorted(set(self.sizes)):
            raise UserError("sizes", self.sizes, "must be distinct positive integers, ascending", "fix sizes")

    @classmethod
    def named(cls, name: str, num_layers: int, hidden_size: int) -> SearchSpace:
        """One of the named spaces (:data:`SPACES`) sized for a model."""
        if name not in SPACES:
            raise UserError("--space", name, "unknown search space", f"use one of {sorted(SPACES)}")
        return cls(name=name, num_layers=num_layers, hidden_size=hidden_size, modules=SPACES[name])

    @classmethod
    def for_model_config(cls, name: str, model_config: Any) -> SearchSpace:
        """A named space sized from a ``transformers`` config (``num_hidden_layers``, ``hidden_size``).

        ``transformers`` maps each architecture's own names (``n_layer``, ``d_model``, ...) onto these.
        """
        layers = getattr(model_config, "num_hidden_layers", None)
        hidden = getattr(model_config, "hidden_size", None)
        if not isinstance(layers, int) or not isinstance(hidden, int):
            raise UserError(
                "--model",
                type(model_config).__name__,
                "its config gives no integer num_hidden_layers/hidden_size",
                "use a transformer encoder or decoder model",
            )
        return cls.named(name, layers, hidden)

    # --- dimensions and encoding -------------------------------------------------------------

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        dims = [Dimension(f"layer_{i}", "bit", (False, True)) for i in range(self.num_layers)]
        for m in self.modules:
            if MODULES[m].kind == "size":
                dims.append(Dimension(m, "ordinal", (0, *self.sizes)))
            else:
                dims.append(Dimension(m, "bit", (False, True)))
        return tuple(dims)

    @property
    def size(self) -> int:
        """Number of valid configurations."""
        module_combos = 1
        for m in self.modules:
            module_combos *= len(self.sizes) + 1 if MODULES[m].kind == "size" else 2
        return (2**self.num_layers - 1) * (module_combos - 1)

    def encode(self, config: PeftConfig) -> np.ndarray:
        """Configuration → vector, shape ``(len(self.dimensions),)``, float64 (see module docstring)."""
        self.check(config)
        values: list[float] = [float(b) for b in config.layers]
        for m in self.modules:
            v = getattr(config, m)
            values.append(float(self.sizes.index(v) + 1) if MODULES[m].kind == "size" and v else float(v))
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
        return PeftConfig(layers=layers, **kwargs)

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
        for m in MODULES:
            v = getattr(config, m)
            if m not in self.modules and v:
                raise UserError(m, v, f"module is not in the {self.name!r} space", f"search {self.modules}")
            if m in self.modules and MODULES[m].kind == "size" and v and v not in self.sizes:
                raise UserError(m, v, "size is not on this space's scale", f"use one of {self.sizes}")
        if not config.is_valid:
            raise UserError(
                "config",
                config.describe(),
                "a configuration needs at least one layer and one module on",
                "turn on a layer and a module",
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
            what = "insert modules in this layer" if d.name.startswith("layer_") else MODULES[d.name].description
            rows.append({"name": d.name, "kind": d.kind, "choices": list(d.choices), "meaning": what})
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "modules": list(self.modules),
            "sizes": list(self.sizes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        return cls(
            name=data["name"],
            num_layers=int(data["num_layers"]),
            hidden_size=int(data["hidden_size"]),
            modules=tuple(data["modules"]),
            sizes=tuple(data.get("sizes", ())),
        )
