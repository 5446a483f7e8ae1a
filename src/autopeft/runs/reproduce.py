"""The whole reproduction of the paper's claims as one resumable job (``autopeft reproduce``).

1. search: the low-fidelity search of the settings' ``search`` part, in ``search_dir`` (resumed if there);
2. pick: the best Pareto configuration under each parameter budget of ``pick_budgets_pct``, written to
   ``out/picks.json``; once that file exists the search is neither run nor read again, so a later
   sitting on a fresh machine (the search directory lost) retrains exactly the same configurations;
3. retrain + transfer: the picked configurations on every task of ``tasks`` (the search's own task
   included) at the full-fidelity ``budget``, ``seeds`` seeds each, scored on each task's dev split;
4. baselines: every method of ``baselines`` on the same tasks, budget and seeds;
5. report: ``report.md``, ``report.json``, ``report.png`` from the results ledger.

Every finished run is a line of ``out/results.jsonl`` and is never run again: stop the job at any time
and start it again to continue. Runs go seed by seed (every method and task with seed 0 first), so a
partial ledger already holds a complete one-seed table.

The settings file (JSON) holds ``model``, ``search`` (the fields of
:class:`~autopeft.study.settings.SearchSettings` but ``model``, with ``budget`` a dict of
:class:`~autopeft.train.budget.Budget` fields), ``pick_budgets_pct``, ``tasks``, ``baselines`` (``all`` or
names), ``seeds`` and ``budget`` (of the full-fidelity runs); ``bench/repro/settings.json`` is the one the
committed results came from.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopeft.errors import UserError
from autopeft.methods import Method, parse_baselines
from autopeft.records.callbacks import Echo
from autopeft.records.io import atomic_write_text
from autopeft.runs.ledger import ResultsLedger, RunSpec
from autopeft.study.settings import SearchSettings
from autopeft.train.budget import Budget
from autopeft.train.device import check_device_available

PICKS_FILE = "picks.json"
_KEYS = ("model", "search", "pick_budgets_pct", "tasks", "baselines", "seeds", "budget")


@dataclass(frozen=True)
class Reproduction:
    """What a reproduction runs, read from its settings file (see the module docstring).

    Args:
        model: the backbone of every run.
        search: the search's settings as saved (``task``, ``optimizer``, ``trials``, ``budget``, ...).
        pick_budgets_pct: parameter budgets (percent of the backbone) to pick a configuration under.
        tasks: the tasks every method trains on.
        baselines: ``all`` or comma-separated baseline names.
        seeds: seeds 0..seeds-1 of every method and task.
        budget: the full-fidelity runs' budget fields.
    """

    model: str
    search: dict[str, Any]
    pick_budgets_pct: tuple[float, ...]
    tasks: tuple[str, ...]
    baselines: str
    seeds: int
    budget: dict[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.seeds, int) or isinstance(self.seeds, bool) or self.seeds < 1:
            raise UserError("seeds", self.seeds, "must be a whole number >= 1", "give e.g. 3")
        if not self.tasks:
            raise UserError("tasks", self.tasks, "names no task", "list the tasks to train on")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "pick_budgets_pct", tuple(float(b) for b in self.pick_budgets_pct))
        if "task" not in self.search:
            raise UserError("search", self.search, "names no task", 'give the search a "task"')

    @classmethod
    def load(cls, path: str | Path) -> Reproduction:
        """Read a settings file.

        Raises:
            UserError: it cannot be read, is not JSON, or misses or adds keys (named).
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError("settings", str(path), f"cannot be read as JSON ({exc})", "give a settings file") from exc
        missing = [k for k in _KEYS if k not in data]
        unknown = sorted(set(data) - set(_KEYS))
        if missing or unknown:
            raise UserError(
                "settings", str(path), f"misses {missing} or has unknown keys {unknown}", f"give exactly {list(_KEYS)}"
            )
        return cls(**data)

    def search_settings(self, *, data_dir: str | None, threads: int | None, device: str) -> SearchSettings:
        search = dict(self.search)
        search["budget"] = Budget(**search.get("budget", {}))
        return SearchSettings(model=self.model, data_dir=data_dir, threads=threads, device=device, **search)

    def run_budget(self) -> Budget:
        # the runs score on the dev split; val_examples only shapes the draw of the training subset
        return Budget(**{**self.budget, "val_examples": Budget().val_examples})

    def specs(self, methods: list[Method]) -> list[RunSpec]:
        """Every run, seed-major: all methods and tasks with seed 0, then seed 1, ..."""
        budget = self.run_budget()
        baselines = parse_baselines(self.baselines)
        source = self.search["task"]
        specs = []
        for seed in range(self.seeds):
            for task in self.tasks:
                specs += [
                    RunSpec(self.model, task, m, seed, budget, role="autopeft", source_task=source) for m in methods
                ]
                specs += [RunSpec(self.model, task, m, seed, budget, role="baseline") for m in baselines]
        return specs


def reproduce(
    reproduction: Reproduction,
    *,
    out: str | Path,
    report_dir: str | Path,
    search_dir: str | Path = "runs/repro-search",
    picks: str | Path | None = None,
    data_dir: str | None = None,
    threads: int | None = None,
    device: str = "cpu",
    report_only: bool = False,
    plan_only: bool = False,
    echo: Echo = print,
) -> int:
    """Run (or continue) a reproduction and write its report. Returns the number of runs planned (0
    with ``report_only``).

    Args:
        reproduction: what to run.
        out: the results ledger's folder (``results.jsonl``, ``picks.json``).
        report_dir: where ``report.md``, ``report.json`` and ``report.png`` go.
        search_dir: the search's directory (resumed if there; not needed once the picks exist).
        picks: a ``picks.json`` of an earlier reproduction to retrain; default ``out/picks.json``.
        data_dir: GLUE/SuperGLUE root (None = ``$AUTOPEFT_DATA``).
        threads, device: of every trial and run.
        report_only: write the report from the ledger; train nothing.
        plan_only: print the runs and how many are finished; train nothing, write nothing.
        echo: progress lines.
    """
    planned = 0
    if not report_only:
        started = time.perf_counter()
        settings = reproduction.search_settings(data_dir=data_dir, threads=threads, device=device)
        if not plan_only:  # a plan trains nothing, so it needs no device
            check_device_available(device)
        methods = _picks(reproduction, settings, Path(out), Path(search_dir), picks, echo)
        for method in methods:
            echo(f"picked {method.name}: {method.describe()} ({method.source})")
        specs = reproduction.specs(methods)
        planned = len(specs)
        if plan_only:
            done = ResultsLedger(out).completed_keys()
            echo(f"{len(specs)} runs, {sum(s.key in done for s in specs)} finished")
            return planned
        from autopeft.runs.runner import run_specs

        echo(f"== runs: {len(specs)} into {out}")
        run_specs(
            specs, out, data_dir=settings.data_dir, device=device, threads=threads, save_adapters=False, echo=echo
        )
        echo(f"== this sitting: {time.perf_counter() - started:.0f} s")
    from autopeft.render import write_report

    # relative, so that the committed report does not name this machine's checkout
    report = write_report([os.path.relpath(out)], report_dir)
    echo(f"== report: {report_dir}/report.md ({report.n_runs} runs, {report.seconds / 3600:.2f} h of training)")
    return planned


def _picks(
    reproduction: Reproduction,
    settings: SearchSettings,
    out: Path,
    search_dir: Path,
    picks: str | Path | None,
    echo: Echo,
) -> list[Method]:
    """The picked configurations: read from the picks file when it exists, else searched and picked,
    then written there."""
    path = Path(picks) if picks else out / PICKS_FILE
    if picks and not path.is_file():
        raise UserError("picks", str(picks), "is not a file", "give the picks.json of an earlier reproduction")
    if path.exists():
        # The search is finished once its picks are written; later sittings need only the picks, so
        # losing the search directory (not in git) cannot change which configurations are retrained.
        methods = [Method.from_dict(m) for m in json.loads(path.read_text())["methods"]]
        echo(f"== picks: {len(methods)} from {path} (the search is not needed again)")
        return methods
    from autopeft.runs.select import pick_from_search
    from autopeft.study.search import run_search

    echo(f"== search: {settings.task} ({settings.optimizer}) in {search_dir}")
    run_search(settings, search_dir, echo=echo)
    methods = pick_from_search(search_dir, budgets=list(reproduction.pick_budgets_pct))
    payload = {"search_dir": str(search_dir), "methods": [m.to_dict() for m in methods]}
    atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
    return methods
