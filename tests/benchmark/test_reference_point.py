"""bench/reference_point.py: hypervolume curves of saved runs at another reference point."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "reference_point.py"


def _module():
    spec = importlib.util.spec_from_file_location("reference_point", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _save(folder: Path, variant: str, seed: int, scores: list[float], params: list[float]) -> None:
    from autopeft.benchmark.runner import BenchmarkRun, run_path

    # the hypervolume saved with the run is at the default reference; the script recomputes it
    run = BenchmarkRun(
        problem="hand",
        variant=variant,
        seed=seed,
        trials=len(scores),
        batch=1,
        init_trials=0,
        configs=[""] * len(scores),
        true_scores=scores,
        observed_scores=scores,
        params_pct=params,
        hypervolume=[float("nan")] * len(scores),
        ask_seconds=[0.0] * len(scores),
        wall_seconds=0.0,
        reference=[0.0, 10.0],
    )
    run_path(folder, variant, seed).write_text(run.to_json())


def test_targets_and_reach_follow_the_reference(tmp_path):
    # random: a good, large configuration, then a small one; the model: small ones only, better among them
    _save(tmp_path, "random", 0, [0.9, 0.5], [5.0, 0.5])
    _save(tmp_path, "model", 0, [0.4, 0.6], [0.5, 0.5])
    rows = _module().lenses(tmp_path, ["random", "model"], [(0.0, 10.0), (0.0, 1.0)])
    by = {(r.params_reference, r.variant): r for r in rows}
    # params 10 %: random covers 0.5 over [0.5, 5) and 0.9 over [5, 10); the model only 0.6 * 9.5
    wide = by[(10.0, "random")]
    assert wide.target == pytest.approx(0.5 * 4.5 + 0.9 * 5.0)
    assert wide.median_reach == 2 and by[(10.0, "model")].median_reach is None
    # params 1 %: only the 0.5 % points count; the model's 0.6 beats random's 0.5 at its second trial
    narrow = by[(1.0, "model")]
    assert narrow.target == pytest.approx(0.5 * 0.5)
    assert narrow.per_seed == [2] and narrow.median_reach == 2
    assert narrow.hv_at == {}  # two trials: no HV@25


def test_missing_variant_names_what_is_there(tmp_path):
    _save(tmp_path, "random", 0, [0.5], [1.0])
    with pytest.raises(SystemExit, match=r"no gp-seed.*random"):
        _module().lenses(tmp_path, ["random", "gp"], [(0.0, 10.0)])
