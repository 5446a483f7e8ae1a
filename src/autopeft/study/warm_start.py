"""Warm start from earlier searches (``warm_start``): their Pareto configurations become the first trials
of a new search, carried into its space by :func:`autopeft.space.transfer.transfer`.

The configurations are read from the earlier searches once, when the new search starts, and kept in
``warm_start.json`` in its directory; a resumed search reads them from there, so the earlier searches
may have moved or gone by then. The optimiser proposes them first (:class:`~autopeft.optim.warm_start.WarmStart`)
and then goes on as usual, fitted on them as on any trial.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopeft.errors import UserError
from autopeft.records.io import atomic_write_text
from autopeft.space import PeftConfig, SearchSpace
from autopeft.space.transfer import transfer

#: The file in a search directory that holds its warm-start configurations.
WARM_START_FILE = "warm_start.json"


@dataclass(frozen=True)
class WarmStartPlan:
    """The warm-start configurations of a search.

    Args:
        sources: the earlier search directories, as given.
        configs: their Pareto configurations carried into this search's space, distinct, in the order
            they run: the sources' fronts interleaved (each front from its fewest parameters up).
        left_out: front members that did not transfer (see :func:`~autopeft.space.transfer.transfer`)
            or repeated one already taken.
    """

    sources: tuple[str, ...]
    configs: tuple[PeftConfig, ...]
    left_out: int

    def to_dict(self) -> dict[str, Any]:
        configs = [c.to_dict() for c in self.configs]
        return {"sources": list(self.sources), "configs": configs, "left_out": self.left_out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WarmStartPlan:
        configs = tuple(PeftConfig.from_dict(c) for c in data["configs"])
        return cls(sources=tuple(data["sources"]), configs=configs, left_out=int(data["left_out"]))


def _front(folder: Path) -> tuple[SearchSpace, list[PeftConfig], float]:
    """The space, the Pareto configurations (fewest parameters first) and the budget's learning rate of
    the search in ``folder``.

    Raises:
        UserError: (field ``warm_start``) ``folder`` holds no search, or one whose ledger cannot be read.
    """
    from autopeft.analysis.pareto import ParetoFront
    from autopeft.study.ledger import STUDY_NAME, Ledger
    from autopeft.study.settings import check_ledger_is_there, default_storage, load_settings

    try:
        settings = load_settings(folder)
        check_ledger_is_there(settings, folder)
    except UserError as exc:
        raise UserError(
            "warm_start", str(folder), f"is not a search to start from: {exc.problem}", "give earlier `out` directories"
        ) from None
    storage = settings.storage or default_storage(folder)
    ledger = Ledger.load(storage, settings.study_name or STUDY_NAME, settings.objective_list)
    front = ParetoFront.from_trials(ledger.results(), settings.objective_list)
    return ledger.space, [PeftConfig.from_dict(t.config) for t in front], settings.budget.learning_rate


def plan(sources: Sequence[str], space: SearchSpace) -> WarmStartPlan:
    """Read the fronts of the searches in ``sources`` and carry them into ``space`` (nothing is written).

    Raises:
        UserError: a source is not a search directory.
    """
    fronts = []
    for source in sources:
        source_space, configs, lr = _front(Path(source))
        fronts.append([transfer(c, source_space, space, default_lr=lr) for c in configs])
    chosen: dict[str, PeftConfig] = {}
    offered = 0
    for position in range(max((len(f) for f in fronts), default=0)):
        for front in fronts:
            if position < len(front):
                offered += 1
                config = front[position]
                if config is not None:
                    chosen.setdefault(config.key(), config)
    return WarmStartPlan(sources=tuple(sources), configs=tuple(chosen.values()), left_out=offered - len(chosen))


def save(plan: WarmStartPlan, out_dir: Path) -> None:
    atomic_write_text(out_dir / WARM_START_FILE, json.dumps(plan.to_dict(), indent=1) + "\n")


def load(out_dir: Path) -> WarmStartPlan | None:
    """The plan a search in ``out_dir`` saved when it started, or None if it saved none."""
    path = out_dir / WARM_START_FILE
    if not path.is_file():
        return None
    return WarmStartPlan.from_dict(json.loads(path.read_text()))
