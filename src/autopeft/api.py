"""The Python API: run a search from a notebook or a script, and read a search directory back.

```python
import autopeft

result = autopeft.search(model="minilm", task="glue/sst2", trials=12, optimizer="tpe",
                         train_examples=1000, val_examples=400, max_length=64, out="runs/sst2")
print(result.front)                          # the Pareto front (ParetoFront: trials, fewest parameters first)
best = result.best(max_params_pct=0.5)       # the best complete trial under 0.5 % of the backbone
df = result.to_dataframe()                   # one row per trial (needs pandas)
again = autopeft.load("runs/sst2")           # a finished or running search, read back
```

:func:`search` takes every field of :class:`~autopeft.study.settings.SearchSettings` and of
:class:`~autopeft.train.budget.Budget` as a keyword; the CLI's ``autopeft search`` maps its flags onto
the same fields and calls :func:`run`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from autopeft.analysis.hypervolume import hypervolume_curve
from autopeft.analysis.pareto import ParetoFront, StudySummary, best_trial, summarise
from autopeft.errors import UserError
from autopeft.records.callbacks import Echo
from autopeft.records.trial import TrialResult
from autopeft.study.settings import SearchSettings, load_settings
from autopeft.train.budget import Budget

__all__ = ["SearchResult", "export", "load", "resume", "run", "search", "search_settings"]

#: Settings of how trials run, which a resumed search may change (:func:`resume`).
EXECUTION_FIELDS = ("workers", "ray_address", "cpus_per_trial", "gpus_per_trial", "threads_per_trial")

_SETTINGS_FIELDS = {f.name for f in dataclasses.fields(SearchSettings)} - {"budget"}
_BUDGET_FIELDS = {f.name for f in dataclasses.fields(Budget)}


@dataclass(frozen=True)
class SearchResult:
    """A search directory's trials and what they show (a snapshot: :func:`load` again for news).

    Args:
        dir: the search directory.
        settings: the search's settings.
        trials: every finished trial (complete, stopped early, failed), in trial-number order.
        reference: the hypervolume reference point, shape ``(len(objectives),)`` in the objectives'
            units; None while no trial has completed and a measured cost needs one.
        majority: the majority-class validation score when the search ran in this process on a
            classification task, else None.
    """

    dir: Path
    settings: SearchSettings
    trials: tuple[TrialResult, ...]
    reference: np.ndarray | None = None
    majority: float | None = None

    @cached_property
    def summary(self) -> StudySummary:
        """Counts, the best trial, the failures and the front."""
        return summarise(self.trials, self.settings.objective_list)

    @property
    def front(self) -> ParetoFront:
        """The Pareto front of the complete trials, fewest parameters first."""
        return self.summary.front

    @property
    def finished(self) -> bool:
        """Whether the search has all the trials it asked for."""
        return len(self.trials) >= self.settings.trials

    @property
    def hypervolume(self) -> float | None:
        """Hypervolume of the complete trials at :attr:`reference` (None while it is not known)."""
        if self.reference is None:
            return None
        if not self.trials:
            return 0.0
        return float(hypervolume_curve(list(self.trials), self.settings.objective_list, self.reference)[-1])

    def best(self, max_params_pct: float | None = None) -> TrialResult | None:
        """The complete trial with the highest score among those with at most ``max_params_pct``
        percent of the backbone's parameters (all of them when None); ties go to fewer parameters,
        then the earlier trial. None when no complete trial fits."""
        if max_params_pct is not None and not (isinstance(max_params_pct, (int, float)) and max_params_pct >= 0):
            raise UserError("max_params_pct", max_params_pct, "must be a number >= 0", "give a percentage, e.g. 0.5")
        return best_trial(t for t in self.trials if max_params_pct is None or t.params_pct <= max_params_pct)

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per trial: number, status, score, metric, parameters, times, error, and one
        ``config_<module>`` entry per configuration field (``config_layers`` as the list of layers on)."""
        front = set(self.front.numbers)
        rows = []
        for t in self.trials:
            row = {
                "number": t.number,
                "status": t.status,
                "score": t.score,
                "metric": t.metric,
                "params_pct": t.params_pct,
                "peft_params": t.peft_params,
                "head_params": t.head_params,
                "train_seconds": t.train_seconds,
                "eval_seconds": t.eval_seconds,
                "peak_memory_mb": t.peak_memory_mb,
                "seed": t.seed,
                "error": t.error,
                "pareto": t.number in front,
            }
            for key, value in t.config.items():
                on = [i for i, flag in enumerate(value) if flag] if key == "layers" else value
                row[f"config_{key}"] = on
            rows.append(row)
        return rows

    def to_dataframe(self) -> Any:
        """:meth:`records` as a ``pandas.DataFrame`` indexed by trial number.

        Raises:
            ImportError: pandas is not installed (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas comes with `datasets`
            raise ImportError("to_dataframe needs pandas: pip install pandas (or use .records())") from exc
        return pd.DataFrame.from_records(self.records(), index="number")

    def __iter__(self) -> Iterator[TrialResult]:
        return iter(self.trials)

    def __len__(self) -> int:
        return len(self.trials)

    def __repr__(self) -> str:
        s = self.summary
        best = "none" if s.best is None else f"{s.best.score:.4f} ({s.best.params_pct:#.3g}% params)"
        return (
            f"SearchResult({str(self.dir)!r}: {s.n_total}/{self.settings.trials} trials, {s.n_complete} complete, "
            f"{s.n_failed} failed; front of {len(s.front)}; best {self.settings.task} {best})"
        )


def search_settings(model: str = "minilm", task: str = "glue/sst2", **options: Any) -> SearchSettings:
    """Settings from keywords: any :class:`SearchSettings` field (``trials``, ``space``, ``optimizer``,
    ``seed``, ...), any :class:`Budget` field (``train_examples``, ``epochs``, ...), or a whole
    ``budget=Budget(...)`` (then no budget field may be given apart)."""
    unknown = sorted(set(options) - _SETTINGS_FIELDS - _BUDGET_FIELDS - {"budget"})
    if unknown:
        raise UserError(
            unknown[0],
            options[unknown[0]],
            "is not a setting of a search",
            f"use fields of SearchSettings {sorted(_SETTINGS_FIELDS)} or of Budget {sorted(_BUDGET_FIELDS)}",
        )
    budget_fields = {k: options.pop(k) for k in list(options) if k in _BUDGET_FIELDS}
    budget = options.pop("budget", None)
    if budget is not None and budget_fields:
        raise UserError(
            "budget", budget, f"is given with budget fields {sorted(budget_fields)}", "give one or the other"
        )
    if budget is None:
        budget = Budget(**budget_fields)
    elif not isinstance(budget, Budget):
        raise UserError("budget", budget, "is not a Budget", "give autopeft.Budget(...) or the budget fields")
    if isinstance(options.get("text_columns"), str):
        options["text_columns"] = (options["text_columns"],)
    if isinstance(options.get("objectives"), str):
        options["objectives"] = tuple(n.strip() for n in options["objectives"].split(","))
    return SearchSettings(model=model, task=task, budget=budget, **options)


def search(
    model: str = "minilm",
    task: str = "glue/sst2",
    *,
    out: str | Path | None = None,
    quiet: bool = False,
    base: Any = None,
    **options: Any,
) -> SearchResult:
    """Run a search (or continue the one in ``out``) and return its result.

    Args:
        model: ``minilm`` (packaged), a model directory, or a hub name.
        task: a known task (``glue/sst2``, ...) or a CSV/TSV/JSONL file (then ``text_columns`` and
            ``label_column``).
        out: the search directory; default ``runs/<task>-<time>`` (a new one each call).
        quiet: print no progress (otherwise live bars on a terminal, plain lines elsewhere).
        base: an already loaded :class:`~autopeft.models.BaseModel` (saves loading it again).
        options: see :func:`search_settings`.

    Raises:
        UserError: a bad setting (its ``field``, ``value`` and ``fix`` say which and how to fix it).
    """
    settings = search_settings(model, task, **options)
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{task.replace('/', '-').replace('.', '-')}-{stamp}"
    return run(settings, out, quiet=quiet, base=base)


def run(settings: SearchSettings, out: str | Path, *, quiet: bool = False, base: Any = None) -> SearchResult:
    """Run the search of ``settings`` in ``out`` (continuing one already there) and return its result.

    Progress: live bars when stderr is a terminal, plain lines on stdout otherwise, nothing with ``quiet``.
    """
    from autopeft.render.progress import monitor_for
    from autopeft.study.search import run_search

    # Path("") is the current directory: an empty `out` (an unset shell variable) would write the search there
    if not str(out).strip():
        raise UserError("out", str(out), "is empty", "give the search a directory, e.g. `out=runs/sst2`")

    monitor = monitor_for(quiet=quiet)
    echo: Echo = monitor.line if monitor is not None else (_silent if quiet else print)
    outcome = run_search(settings, out, echo=echo, base=base, monitor=monitor)
    return dataclasses.replace(load(outcome.out_dir), majority=outcome.majority)


def resume(
    out: str | Path,
    *,
    trials: int | None = None,
    report_to: str | Sequence[str] | None = None,
    quiet: bool = False,
    base: Any = None,
    **execution: Any,
) -> SearchResult:
    """Continue the search in ``out`` after a crash or an interrupt; ``trials`` extends it.

    ``report_to`` replaces the search's trackers (``"none"`` turns them off); None keeps those it had.
    Trackers receive every trial of the ledger they do not hold yet, so none is logged twice.
    ``execution``: how the rest runs, any of :data:`EXECUTION_FIELDS` (``workers=4``,
    ``ray_address="10.0.0.1:6379"``, ...); the others keep the search's own.
    """
    unknown = sorted(set(execution) - set(EXECUTION_FIELDS))
    if unknown:
        raise UserError(
            unknown[0],
            execution[unknown[0]],
            "cannot change when a search resumes",
            f"resume with `trials`, `report_to` or any of {list(EXECUTION_FIELDS)}",
        )
    settings = load_settings(out)
    if execution:
        settings = dataclasses.replace(settings, **execution)
    if trials is not None:
        settings = dataclasses.replace(settings, trials=trials)
    if report_to is not None:
        settings = dataclasses.replace(settings, report_to=report_to)
    return run(settings, out, quiet=quiet, base=base)


def load(out: str | Path) -> SearchResult:
    """The search in ``out``, finished or still running, read back (nothing is run or written)."""
    from autopeft.study.search import open_search

    opened = open_search(out)
    return SearchResult(
        dir=Path(out), settings=opened.settings, trials=tuple(opened.results), reference=opened.reference
    )


def export(
    out: str | Path,
    to: str | Path,
    *,
    pareto: int | None = None,
    trial: int | None = None,
    format: str = "peft",
    merge: bool = False,
    device: str = "cpu",
    quiet: bool = False,
) -> Path:
    """Train the configuration at Pareto index ``pareto`` (or trial number ``trial``) of the search in
    ``out`` again, as its trial trained, and write it to the new directory ``to``: an HF PEFT adapter
    (``format="peft"``, LoRA alone or (IA)³ alone; ``merge=True``: a whole model with the weights
    merged) or autopeft's own format (``"native"``). Returns ``to``. See :mod:`autopeft.exporting`."""
    from autopeft.exporting import check_new_directory, export_search

    to = Path(to)
    check_new_directory(to, "to")
    done = export_search(
        out, to, pareto=pareto, trial=trial, fmt=format, merge=merge, device=device, echo=_silent if quiet else print
    )
    return done.out


def _silent(line: str) -> None:
    del line
