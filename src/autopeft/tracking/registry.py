"""The tracking backends by name, and ``report_to`` read and checked (the Hugging Face ``Trainer``'s
convention: a comma-separated list of names, ``none`` for no tracking, ``all`` for every backend)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autopeft.errors import UserError
from autopeft.tracking.base import Tracker

#: How to install every backend's package.
INSTALL_HINT = "pip install 'autopeft[tracking]'"


@dataclass(frozen=True)
class Backend:
    """One tracking backend in the registry.

    Args:
        name: its ``report_to`` name.
        requires: the modules it imports (checked installed before a search writes anything).
        load: returns its :class:`Tracker` class; it imports the implementation only when called, so
            that the core never imports a tracker's package.
    """

    name: str
    requires: tuple[str, ...]
    load: Callable[[], type[Tracker]]

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"name={self.name!r}: a tracker's name is a lowercase word")
        if not self.requires:
            raise ValueError(f"{self.name}: name the modules it needs, so a missing one is reported early")


def _mlflow() -> type[Tracker]:
    from autopeft.tracking.mlflow_tracker import MlflowTracker

    return MlflowTracker


def _tensorboard() -> type[Tracker]:
    from autopeft.tracking.tensorboard_tracker import TensorBoardTracker

    return TensorBoardTracker


#: Every tracking backend by name, in the order ``report_to=all`` uses.
TRACKERS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("mlflow", ("mlflow",), _mlflow),
        # torch's SummaryWriter writes the event files; it needs the tensorboard package
        Backend("tensorboard", ("tensorboard",), _tensorboard),
    )
}


def _fix() -> str:
    return (
        f"give one or more of {list(TRACKERS)}, comma-separated (e.g. `report_to=mlflow,tensorboard`), "
        "or `report_to=none`"
    )


def parse_report_to(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``report_to`` as backend names: ``"mlflow,tensorboard"``, ``["mlflow"]``, ``"all"`` (every
    backend), ``"none"``, ``""`` or None (no tracking). Names are case-insensitive; repeats are dropped.

    Raises:
        UserError: an unknown name, or ``none`` together with names.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        parts = list(value)
    else:
        raise UserError("report_to", value, "must be text or a list of tracker names", _fix())
    names = [p.strip().lower() for p in parts if p.strip()]
    shown = ",".join(names) if not isinstance(value, str) else value
    if "none" in names:
        if len(names) > 1:
            raise UserError("report_to", shown, "`none` turns tracking off and takes no other name", _fix())
        return ()
    if "all" in names:
        names = [n for n in names if n != "all"] + list(TRACKERS)
    for name in names:
        if name not in TRACKERS:
            raise UserError("report_to", shown, f"{name!r} is not a tracker this package knows", _fix())
    return tuple(dict.fromkeys(names))


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module left half-imported
        return False


def check_installed(names: Sequence[str]) -> None:
    """Refuse (:class:`UserError`) a tracker whose package is not installed, before anything is written.

    Only the packages are looked for (nothing is imported): importing MLflow takes seconds.
    """
    for name in names:
        missing = [m for m in TRACKERS[name].requires if not _installed(m)]
        if missing:
            raise UserError(
                "report_to",
                ",".join(names),
                f"{name} needs the {missing[0]} package, which is not installed",
                f"{INSTALL_HINT} (or pip install {missing[0]}), or leave {name} out",
            )


def make_trackers(names: Sequence[str]) -> list[Tracker]:
    """One new tracker per name (their packages are imported only when they start)."""
    return [TRACKERS[name].load()() for name in names]
