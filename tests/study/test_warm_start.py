"""Warm start from earlier searches: their fronts run first, are kept for resume, and a bad source is
refused with nothing written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from tests.conftest import toy_search_settings

from autopeft.analysis.pareto import ParetoFront
from autopeft.cli import EXIT_USAGE, main
from autopeft.errors import UserError
from autopeft.study.search import open_results, run_search
from autopeft.study.warm_start import WARM_START_FILE


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, toy_csv, tiny_bert) -> Path:
    """A finished 4-trial random search of the toy task (optimiser seed 5)."""
    out = tmp_path_factory.mktemp("warm") / "earlier"
    run_search(toy_search_settings(toy_csv, optimizer_seed=5), out, echo=lambda _: None, base=tiny_bert)
    return out


def _front_keys(out: Path) -> list[str]:
    settings, results = open_results(out)
    front = ParetoFront.from_trials(results, settings.objective_list)
    return [json.dumps(t.config, sort_keys=True) for t in front]


def test_front_runs_first_and_is_kept_for_resume(tmp_path, toy_csv, tiny_bert, earlier):
    front = _front_keys(earlier)
    out = tmp_path / "warm"
    settings = toy_search_settings(toy_csv, optimizer="tpe", trials=len(front) + 1, warm_start=(str(earlier),))
    lines: list[str] = []
    outcome = run_search(settings, out, echo=lines.append, base=tiny_bert)
    ran = [json.dumps(r.config, sort_keys=True) for r in outcome.results]
    assert ran[: len(front)] == front
    assert any(line.startswith(f"warm start: {len(front)} Pareto configuration") for line in lines)
    saved = json.loads((out / WARM_START_FILE).read_text())
    assert [json.dumps(c, sort_keys=True) for c in saved["configs"]] == front
    assert saved["sources"] == [str(earlier.resolve())]

    # the source may be gone when the search continues: the saved plan is used, nothing runs twice
    moved = earlier.with_name("moved")
    earlier.rename(moved)
    try:
        more = dataclasses.replace(settings, trials=len(front) + 3)
        resumed = run_search(more, out, echo=lambda _: None, base=tiny_bert)
    finally:
        moved.rename(earlier)
    keys = [json.dumps(r.config, sort_keys=True) for r in resumed.results]
    assert len(keys) == len(front) + 3 and len(set(keys)) == len(keys)


def test_a_source_that_is_no_search_is_refused_before_anything_is_written(tmp_path, toy_csv, tiny_bert):
    out = tmp_path / "warm"
    (tmp_path / "empty").mkdir()
    settings = toy_search_settings(toy_csv, warm_start=(str(tmp_path / "empty"),))
    with pytest.raises(UserError) as info:
        run_search(settings, out, echo=lambda _: None, base=tiny_bert)
    assert info.value.field == "warm_start" and str(tmp_path / "empty") in str(info.value.value)
    assert not out.exists()


def test_settings_refuse_a_repeated_source():
    with pytest.raises(UserError, match="twice"):
        toy_search_settings(Path("toy.csv"), warm_start=("a", "a"))


def test_cli_names_the_flag(tmp_path, capsys, toy_search_args):
    out = tmp_path / "warm"
    argv = toy_search_args(out, "--trials", "1", "--train-examples", "100", "--warm-start", str(tmp_path / "nowhere"))
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--warm-start" in err and "Fix:" in err and not out.exists()
