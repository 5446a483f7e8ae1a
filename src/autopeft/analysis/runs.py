"""The summary of full-fidelity runs: each method's mean score per task and its trainable parameters.

Data objects only (numpy; no drawing, no files): :mod:`autopeft.render.runs` draws them as the
paper's results table, ``report.json`` and a plot.

Directions: the score (the task's dev metric) is maximised, the trainable-parameter share
(``params_pct``, percent of the backbone) is minimised. Scores stay as the trainer records them
(accuracy in [0, 1]).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from autopeft.analysis.pareto import json_number
from autopeft.methods import BASELINES, Method

if TYPE_CHECKING:
    from autopeft.runs.ledger import RunRecord

__all__ = [
    "TASK_ORDER",
    "BudgetUse",
    "CellSummary",
    "MethodSummary",
    "Provenance",
    "RunsReport",
    "summarise_runs",
]

#: Column order of the table (the paper's); other tasks follow, sorted.
TASK_ORDER = (
    "glue/cola",
    "glue/sst2",
    "glue/mrpc",
    "glue/stsb",
    "glue/rte",
    "glue/wnli",
    "superglue/rte",
    "superglue/cb",
)


# ------------------------------------------------------------------------------------ data objects
@dataclass(frozen=True)
class CellSummary:
    """The runs of one method on one task.

    Args:
        method: the method's name.
        task: the task's name.
        metric: the dev metric of the runs (``"accuracy"``, ``"matthews"``, ...); None when no run
            completed.
        scores: dev scores of the complete runs (higher is better; unscaled, e.g. accuracy in
            [0, 1]), ordered by seed, shape ``(n,)``.
        seeds: their seeds, aligned with ``scores``.
        n_failed: failed runs (counted, never averaged).
        params_pct: mean trainable PEFT parameters of the complete runs, percent of the backbone
            (lower is cheaper); None when no run completed.
        train_seconds: mean training wall time of the complete runs (s); None when no run completed.
    """

    method: str
    task: str
    metric: str | None
    scores: tuple[float, ...]
    seeds: tuple[int, ...]
    n_failed: int
    params_pct: float | None
    train_seconds: float | None

    @property
    def n(self) -> int:
        """Complete runs (seeds) averaged."""
        return len(self.scores)

    @property
    def mean(self) -> float | None:
        """Mean dev score (unscaled); None without a complete run."""
        return float(np.mean(self.scores)) if self.scores else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (``ddof=1``) of the dev score (unscaled); None with fewer than two
        runs, where it is undefined."""
        return float(np.std(self.scores, ddof=1)) if self.n > 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "task": self.task,
            "metric": self.metric,
            "n": self.n,
            "n_failed": self.n_failed,
            "mean": json_number(self.mean),
            "std": json_number(self.std),
            "scores": [json_number(s) for s in self.scores],
            "seeds": list(self.seeds),
            "params_pct": json_number(self.params_pct),
            "train_seconds": json_number(self.train_seconds),
        }


@dataclass(frozen=True)
class Provenance:
    """One definition a method name was run with, and where it came from.

    A name usually has one definition; an AutoPEFT name such as ``autopeft-p0`` picked from one
    search per task has one per search.

    Args:
        description: what is trained (:meth:`autopeft.methods.Method.describe`).
        source: the method's ``source`` (a citation, or the search and trial it was picked from).
        source_task: the task the configuration was found on (:attr:`RunSpec.source_task`), or None.
        tasks: the tasks it was run on, in table order.
    """

    description: str
    source: str
    source_task: str | None
    tasks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "source": self.source,
            "source_task": self.source_task,
            "tasks": list(self.tasks),
        }


@dataclass(frozen=True)
class MethodSummary:
    """One row of the table.

    Args:
        name: the method's name.
        label: its display name.
        role: ``"baseline"`` or ``"autopeft"``.
        kind: ``"config"``, ``"adapters"`` or ``"full"``.
        provenance: its definitions and their sources (see :class:`Provenance`).
        params_pct: mean over its cells of their mean trainable parameters, percent of the backbone
            (lower is cheaper); None when no run completed.
        average: mean over the tasks it has results on of its per-task mean scores (unscaled; higher
            is better); None when it has none.
        n_tasks: tasks the average covers; an average over fewer tasks than the table's is not
            comparable with the others.
    """

    name: str
    label: str
    role: str
    kind: str
    provenance: tuple[Provenance, ...]
    params_pct: float | None
    average: float | None
    n_tasks: int

    @property
    def source_tasks(self) -> tuple[str, ...]:
        """Distinct tasks its configurations were found on (empty for baselines)."""
        return tuple(dict.fromkeys(p.source_task for p in self.provenance if p.source_task is not None))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "role": self.role,
            "kind": self.kind,
            "params_pct": json_number(self.params_pct),
            "average": json_number(self.average),
            "n_tasks": self.n_tasks,
            "source_tasks": list(self.source_tasks),
            "provenance": [p.to_dict() for p in self.provenance],
        }


@dataclass(frozen=True)
class BudgetUse:
    """A training budget (:attr:`RunSpec.budget`, before a method's own learning rate replaces the
    budget's) and where it was used.

    Args:
        budget: :meth:`autopeft.train.budget.Budget.to_dict`.
        tasks: the tasks run with it, in table order.
        n_runs: runs (complete and failed) with it.
    """

    budget: dict[str, Any]
    tasks: tuple[str, ...]
    n_runs: int

    def to_dict(self) -> dict[str, Any]:
        return {"budget": dict(self.budget), "tasks": list(self.tasks), "n_runs": self.n_runs}


@dataclass(frozen=True)
class RunsReport:
    """The results of full-fidelity runs, grouped by method (rows) and task (columns).

    Args:
        tasks: the columns, in table order (:data:`TASK_ORDER`, then others sorted).
        metrics: the dev metric of each task, aligned with ``tasks`` (several joined by ``/`` when
            the records disagree).
        methods: the rows: baselines in the order of :data:`autopeft.methods.BASELINES` (unknown
            names after, sorted), then AutoPEFT configurations by ``params_pct`` ascending.
        cells: one per (method, task) with at least one run, complete or failed.
        n_runs: records read (complete and failed).
        n_failed: failed records.
        seconds: training plus evaluation wall time summed over all records (s).
        models: distinct models run, sorted.
        budgets: distinct budgets and the tasks they were used on.
        mixed: (method, task) cells whose runs differ in more than the seed (model, effective budget,
            data seed or method definition), so their spread is not only that of the seed.
    """

    tasks: tuple[str, ...]
    metrics: tuple[str, ...]
    methods: tuple[MethodSummary, ...]
    cells: tuple[CellSummary, ...]
    n_runs: int
    n_failed: int
    seconds: float
    models: tuple[str, ...]
    budgets: tuple[BudgetUse, ...]
    mixed: tuple[tuple[str, str], ...] = ()

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    def cell(self, method: str, task: str) -> CellSummary | None:
        """The cell of ``method`` on ``task``, or None when it was not run there."""
        for cell in self.cells:
            if cell.method == method and cell.task == task:
                return cell
        return None

    def method(self, name: str) -> MethodSummary:
        """The row named ``name``.

        Raises:
            KeyError: no such row.
        """
        for row in self.methods:
            if row.name == name:
                return row
        raise KeyError(name)

    def metric(self, task: str) -> str:
        return self.metrics[self.tasks.index(task)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report (strict JSON: non-finite numbers become null; scores unscaled)."""
        return {
            "score_scale": "unscaled (the table shows scores x100)",
            "tasks": [{"task": t, "metric": m} for t, m in zip(self.tasks, self.metrics, strict=True)],
            "methods": [m.to_dict() for m in self.methods],
            "cells": [c.to_dict() for c in self.cells],
            "runs": {
                "n_runs": self.n_runs,
                "n_complete": self.n_runs - self.n_failed,
                "n_failed": self.n_failed,
                "seconds": json_number(self.seconds),
                "models": list(self.models),
                "budgets": [b.to_dict() for b in self.budgets],
            },
            "mixed": [{"method": m, "task": t} for m, t in self.mixed],
        }


# --------------------------------------------------------------------------------------- computing
def _task_order(tasks: set[str]) -> tuple[str, ...]:
    known = [t for t in TASK_ORDER if t in tasks]
    return (*known, *sorted(tasks - set(TASK_ORDER)))


def _definition(record: RunRecord) -> str:
    """The method as run, labels and provenance text excluded (they do not change what is trained)."""
    method = record.spec.method.to_dict()
    method.pop("label")
    method.pop("source")
    return json.dumps(method, sort_keys=True)


def _setting(record: RunRecord) -> str:
    """Everything of a run but its seed and task: runs of one cell should agree on it."""
    payload = {
        "model": record.spec.model,
        "budget": record.spec.effective_budget.to_dict(),
        "data_seed": record.spec.data_seed,
        "method": _definition(record),
    }
    return json.dumps(payload, sort_keys=True)


def _cell(method: str, task: str, records: Sequence[RunRecord]) -> CellSummary:
    complete = sorted((r for r in records if r.result.ok), key=lambda r: (r.spec.seed, r.finished))
    metrics = list(dict.fromkeys(r.result.metric for r in complete))
    return CellSummary(
        method=method,
        task=task,
        metric="/".join(metrics) if metrics else None,
        scores=tuple(float(r.result.score) for r in complete if r.result.score is not None),
        seeds=tuple(r.spec.seed for r in complete),
        n_failed=len(records) - len(complete),
        params_pct=float(np.mean([r.result.params_pct for r in complete])) if complete else None,
        train_seconds=float(np.mean([r.result.train_seconds for r in complete])) if complete else None,
    )


def _row_order(rows: list[MethodSummary]) -> list[MethodSummary]:
    baseline_rank = {name: k for k, name in enumerate(BASELINES)}
    baselines = [r for r in rows if r.role == "baseline"]
    known = sorted((r for r in baselines if r.name in baseline_rank), key=lambda r: baseline_rank[r.name])
    unknown = sorted((r for r in baselines if r.name not in baseline_rank), key=lambda r: r.name)
    # A configuration that never completed has no size: it goes last rather than at an arbitrary place.
    found = sorted(
        (r for r in rows if r.role != "baseline"),
        key=lambda r: (r.params_pct is None, r.params_pct or 0.0, r.name),
    )
    return [*known, *unknown, *found]


def summarise_runs(records: Sequence[RunRecord]) -> RunsReport:
    """Group run records by (method, task) and summarise them for the table and the plot.

    Complete records give each cell's mean and sample std of the dev score (higher is better) and
    its mean trainable parameters in percent of the backbone (lower is cheaper); failed records are
    counted (``n_failed``) and never averaged. A method's average is over the tasks it has results
    on; :attr:`MethodSummary.n_tasks` says how many.

    Args:
        records: the runs (e.g. :func:`autopeft.runs.ledger.read_records`), complete and failed.

    Returns:
        The :class:`RunsReport`; rows and columns as described there.
    """
    records = list(records)
    tasks = _task_order({r.spec.task for r in records})
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    by_method: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault((record.spec.method.name, record.spec.task), []).append(record)
        by_method.setdefault(record.spec.method.name, []).append(record)

    cells = {key: _cell(key[0], key[1], group) for key, group in groups.items()}
    mixed = tuple(sorted(key for key, group in groups.items() if len({_setting(r) for r in group}) > 1))
    if mixed:
        warnings.warn(
            f"{len(mixed)} cells mix runs that differ in more than the seed (model, budget, data seed or "
            f"method definition): {[f'{m} on {t}' for m, t in mixed[:5]]}",
            UserWarning,
            stacklevel=2,
        )

    rows = []
    for name, group in by_method.items():
        first = group[0].spec
        method_cells = [cells[(name, t)] for t in tasks if (name, t) in cells]
        covered = [c for c in method_cells if c.mean is not None]
        sizes = [c.params_pct for c in covered if c.params_pct is not None]
        roles = {r.spec.role for r in group}
        # One entry per distinct definition and origin; the tasks each was run on are collected.
        origins: dict[tuple[str, str, str | None], tuple[Method, list[str]]] = {}
        for record in group:
            spec = record.spec
            key = (_definition(record), spec.method.source, spec.source_task)
            _, run_on = origins.setdefault(key, (spec.method, []))
            if spec.task not in run_on:
                run_on.append(spec.task)
        rows.append(
            MethodSummary(
                name=name,
                label=first.method.label,
                # A name run once as a search result counts as one everywhere: it belongs with the
                # AutoPEFT rows, not mixed into the baselines.
                role="autopeft" if "autopeft" in roles else "baseline",
                kind=first.method.kind,
                provenance=tuple(
                    Provenance(
                        description=method.describe(),
                        source=method.source,
                        source_task=source_task,
                        tasks=tuple(t for t in tasks if t in run_on),
                    )
                    for (_, _, source_task), (method, run_on) in origins.items()
                ),
                params_pct=float(np.mean(sizes)) if sizes else None,
                average=float(np.mean([c.mean for c in covered])) if covered else None,
                n_tasks=len(covered),
            )
        )
    rows = _row_order(rows)

    metrics = []
    for task in tasks:
        names = sorted({r.result.metric for r in records if r.spec.task == task and r.result.ok})
        metrics.append("/".join(names) if names else "?")

    budget_uses: dict[str, tuple[dict[str, Any], list[str], int]] = {}
    for record in records:
        budget = record.spec.budget.to_dict()
        key = json.dumps(budget, sort_keys=True)
        _, used_on, count = budget_uses.get(key, (budget, [], 0))
        if record.spec.task not in used_on:
            used_on.append(record.spec.task)
        budget_uses[key] = (budget, used_on, count + 1)

    order = {name: k for k, name in enumerate(r.name for r in rows)}
    return RunsReport(
        tasks=tasks,
        metrics=tuple(metrics),
        methods=tuple(rows),
        cells=tuple(
            sorted(cells.values(), key=lambda c: (order[c.method], tasks.index(c.task))),
        ),
        n_runs=len(records),
        n_failed=sum(1 for r in records if not r.result.ok),
        seconds=float(sum(r.result.train_seconds + r.result.eval_seconds for r in records)),
        models=tuple(sorted({r.spec.model for r in records})),
        budgets=tuple(
            BudgetUse(budget=b, tasks=tuple(t for t in tasks if t in used), n_runs=n)
            for b, used, n in budget_uses.values()
        ),
        mixed=mixed,
    )
