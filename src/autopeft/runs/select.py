"""Pick configurations of a finished search to retrain: by Pareto index, trial number or budget."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autopeft.analysis import summarise
from autopeft.errors import UserError
from autopeft.methods import Method
from autopeft.records.objectives import score_gain
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig

if TYPE_CHECKING:
    from autopeft.study.settings import SearchSettings


def _method(trial: TrialResult, name: str, search_dir: str | Path, task: str) -> Method:
    return Method(
        name=name,
        label=f"AutoPEFT {name.removeprefix('autopeft-')}",
        kind="config",
        config=PeftConfig.from_dict(trial.config),
        source=(
            f"{search_dir} trial {trial.number} on {task}: search {trial.metric} {trial.score:.4f}, "
            f"{trial.params_pct:.4f} % trainable"
        ),
    )


def pick_from_search(
    search_dir: str | Path,
    *,
    pareto: Sequence[int] = (),
    trials: Sequence[int] = (),
    budgets: Sequence[float] = (),
) -> list[Method]:
    """Configurations of the search in ``search_dir``, as methods to retrain.

    Args:
        pareto: indices into the Pareto front as ``autopeft show`` lists it (0 = fewest parameters);
            named ``autopeft-p<i>``.
        trials: trial numbers (any complete trial); named ``autopeft-t<n>``.
        budgets: parameter budgets in percent of the backbone: for each, the Pareto configuration with
            the best search score among those with at most that many parameters; named
            ``autopeft-<budget>``.

    A configuration picked twice is kept once, under its first name (its ``source`` says which
    picks chose it). With no selector at all, every Pareto configuration is picked.

    Raises:
        UserError: an index, trial or budget that selects nothing, naming it and what is available.
    """
    from autopeft.study.search import open_results

    settings, results = open_results(search_dir)
    front = summarise(results, settings.objective_list).front
    if not len(front):
        raise UserError("DIR", str(search_dir), "has no complete trial to pick", "run or resume the search first")
    trials_by_number = {r.number: r for r in results if r.ok}
    picked: list[tuple[str, TrialResult]] = []
    if not (pareto or trials or budgets):
        pareto = range(len(front))
    for index in pareto:
        if not 0 <= index < len(front):
            raise UserError(
                "pareto", index, f"is not a Pareto index: the front has {len(front)}", f"use 0..{len(front) - 1}"
            )
        picked.append((f"autopeft-p{index}", front.trials[index]))
    for number in trials:
        if number not in trials_by_number:
            raise UserError(
                "trials", number, "is not a complete trial of the search", f"use one of {sorted(trials_by_number)}"
            )
        picked.append((f"autopeft-t{number}", trials_by_number[number]))
    for budget in budgets:
        under = [t for t in front.trials if t.params_pct <= budget]
        if not under:
            smallest = min(t.params_pct for t in front.trials)
            raise UserError(
                "budgets",
                budget,
                f"is below every Pareto configuration (the smallest has {smallest:.4f} %)",
                f"use budgets of at least {smallest:.4f}",
            )
        best = max(under, key=lambda t: (score_gain(t.score, t.metric), -t.params_pct))
        picked.append((f"autopeft-{budget:g}", best))
    methods: dict[str, Method] = {}
    for name, trial in picked:
        key = PeftConfig.from_dict(trial.config).key()
        if key in methods:
            first = methods[key]
            methods[key] = dataclasses.replace(first, source=f"{first.source}; also picked as {name}")
        else:
            methods[key] = _method(trial, name, search_dir, settings.task)
    return list(methods.values())


def pick_trial(
    search_dir: str | Path, *, pareto: int | None = None, trial: int | None = None
) -> tuple[SearchSettings, TrialResult]:
    """The search's settings and one complete trial of it: by Pareto index (0 = fewest parameters) or by
    trial number, exactly one of the two.

    Raises:
        UserError: neither or both given, or one that selects nothing (naming it and what is available).
    """
    from autopeft.study.search import open_results

    if (pareto is None) == (trial is None):
        raise UserError(
            "pareto", pareto, "give a Pareto index or a trial number (`trial`), one of them", "e.g. `pareto=0`"
        )
    settings, results = open_results(search_dir)
    front = summarise(results, settings.objective_list).front
    if pareto is not None:
        if not 0 <= pareto < len(front):
            raise UserError(
                "pareto",
                pareto,
                f"is not a Pareto index: the front has {len(front)}",
                f"use 0..{len(front) - 1}" if len(front) else "run or resume the search first",
            )
        return settings, front.trials[pareto]
    complete = {r.number: r for r in results if r.ok}
    if trial not in complete:
        raise UserError("trial", trial, "is not a complete trial of the search", f"use one of {sorted(complete)}")
    return settings, complete[trial]
