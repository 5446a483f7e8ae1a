"""The tabular benchmark (a space of a table's configurations, recorded results) and the collapse noise
model of the surrogate benchmark. No training: tables are fabricated over tiny spaces."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from autopeft.analysis.hypervolume import hypervolume
from autopeft.benchmark import (
    CollapseNoise,
    SurrogateProblem,
    TableSpace,
    TabularProblem,
    TrialTable,
    best_hypervolume,
    run_one,
)
from autopeft.errors import UserError
from autopeft.optim import (
    MODEL_BASED,
    OPTIMISERS,
    GPOptimiser,
    MapSaasOptimiser,
    Optimiser,
    SaasOptimiser,
    make_optimiser,
)
from autopeft.optim.grid import grid_cells, is_sparse, valid_rows
from autopeft.records.trial import TrialResult
from autopeft.space import PeftConfig, SearchSpace

REF = (0.0, 10.0)
#: 7 layer masks x 8 module combinations = 56 valid of 72 cells: a 30-member table holds half of them
DENSE = SearchSpace("toy", 3, 16, ("serial", "parallel"), sizes=(1, 4))
#: 63 layer masks x 215 module combinations = 13,545 valid of 13,824 cells, above the gp optimiser's
#: enumeration limit (8,192): a 30-member table is sparse (0.2 % of the cells)
WIDE = SearchSpace.named("paper", 6, 16)


def _members(space: SearchSpace, n: int, seed: int = 0) -> list[PeftConfig]:
    rng = np.random.default_rng(seed)
    configs: dict[str, PeftConfig] = {}
    while len(configs) < n:
        c = space.sample(rng)
        configs[c.key()] = c
    return list(configs.values())


def _score(config: PeftConfig) -> float:
    """A deterministic fabricated score: more layers and larger modules score higher."""
    load = sum(int(getattr(config, m)) for m in ("serial", "parallel", "prefix"))
    return 0.6 + 0.02 * len(config.active_layers) + 0.01 * np.log1p(load)


def _table(space: SearchSpace, configs: list[PeftConfig], scores: list[float] | None = None) -> TrialTable:
    return TrialTable(
        space=space.to_dict(),
        configs=tuple(c.to_dict() for c in configs),
        scores=tuple(scores if scores is not None else [_score(c) for c in configs]),
        params_per_layer={f"{m}:{s}": 2 * space.hidden_size * s for m in space.modules for s in space.sizes},
        backbone=12 * space.num_layers * space.hidden_size**2,
        seed_std=0.01,
        source={"task": "toy/task"},
    )


def _result(config: PeftConfig) -> TrialResult:
    return TrialResult(
        config=config.to_dict(),
        status="complete",
        score=_score(config),
        metric="accuracy",
        params_pct=_params(config),
    )


def _params(config: PeftConfig) -> float:
    """The params % that ``_result`` reports, known before a trial (the model-based optimisers' ``param_fn``)."""
    return len(config.active_layers) * (1 + config.serial + config.parallel) / 100.0


# --- the space --------------------------------------------------------------------------------------


def test_table_space_admits_exactly_the_members() -> None:
    members = _members(WIDE, 30)
    space = TableSpace.of(WIDE, [*members, members[0]])  # a repeat is kept once
    assert space.size == 30 and is_sparse(space) and not is_sparse(WIDE)
    every_cell = np.stack(np.unravel_index(np.arange(grid_cells(WIDE)), [d.cardinality for d in WIDE.dimensions]), -1)
    valid = every_cell[space.valid_indices(every_cell)]
    assert {space.decode(row).key() for row in valid} == {c.key() for c in members}
    np.testing.assert_array_equal(valid_rows(space), valid)
    assert [c.key() for c in space.configs()] == [space.decode(row).key() for row in valid]
    outsider = next(c for c in _members(WIDE, 40, seed=1) if c.key() not in {m.key() for m in members})
    assert WIDE.contains(outsider) and not space.contains(outsider)
    with pytest.raises(UserError, match="not one of this table's configurations"):
        space.encode(outsider)
    assert all(space.contains(c) for c in members)
    np.testing.assert_array_equal(space.encode(members[3]), WIDE.encode(members[3]))
    assert space.to_dict() == WIDE.to_dict() and space.dimensions == WIDE.dimensions
    rng = np.random.default_rng(0)
    drawn = [space.sample(rng).key() for _ in range(600)]
    assert set(drawn) == {c.key() for c in members}  # uniform over the members: all of them in 600 draws


def test_table_space_refuses_what_it_cannot_hold() -> None:
    from transformers import LlamaConfig

    lora = SearchSpace.for_model_config(
        "lora", LlamaConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=32)
    )
    with pytest.raises(ValueError, match="base layout"):
        TableSpace.of(lora, [])
    with pytest.raises(ValueError, match="at least one"):
        TableSpace.of(DENSE, [])
    invalid_row = ((0, 0, 0, 1, 1),)  # no layer on
    with pytest.raises(ValueError, match="not a valid configuration"):
        TableSpace(**{**_fields(DENSE), "members": invalid_row})


def _fields(space: SearchSpace) -> dict:
    return {k: getattr(space, k) for k in ("name", "num_layers", "hidden_size", "modules", "sizes", "learning_rates")}


# --- the optimisers on a table space -----------------------------------------------------------------


def _optimiser(name: str, space: SearchSpace, seed: int = 0) -> Optimiser:
    """The optimiser ``name``, the model-based ones kept cheap (few candidates and Monte-Carlo samples; saas
    with the tiny NUTS budget of tests/optim/test_optim_saas.py: the wiring, not the fit)."""
    if name not in MODEL_BASED:
        return make_optimiser(name, space, seed=seed, reference=REF)
    cheap = {"init_trials": 4, "param_fn": _params, "reference": REF, "n_candidates": 100, "mc_samples": 16}
    if name == "saas":
        return SaasOptimiser(space, seed=seed, warmup_steps=16, num_samples=16, thinning=8, **cheap)
    return (MapSaasOptimiser if name == "saas-map" else GPOptimiser)(space, seed=seed, **cheap)


def _keys(configs: list[PeftConfig]) -> set[str]:
    return {c.key() for c in configs}


@pytest.mark.parametrize("name", OPTIMISERS)
def test_every_optimiser_proposes_only_members_and_stops_when_they_are_taken(name: str) -> None:
    members = _members(DENSE, 30)
    space = TableSpace.of(DENSE, members)
    opt = _optimiser(name, space)
    told: list[PeftConfig] = []
    for n in (4, 2):  # the initial design: 6 complete trials
        batch = opt.ask(n)
        assert len(batch) == n and _keys(batch) <= _keys(members) - _keys(told)
        opt.tell([_result(c) for c in batch])
        told += batch
    running = opt.ask(4)  # the model's proposals (model-based optimisers), still running
    assert len(running) == 4 and _keys(running) <= _keys(members) - _keys(told)
    left = [c for c in members if c.key() not in _keys(told + running)]
    # pending all but 3: those 3 are the only proposals left (the same 6 complete trials: saas's NUTS
    # sampler compiled for them is reused)
    assert _keys(opt.ask(5, pending=[*running, *left[3:]])) == _keys(left[:3])
    assert opt.ask(1, pending=[*running, *left]) == []
    opt.tell([_result(c) for c in running + left])
    assert opt.ask(2) == []


@pytest.mark.parametrize("name", ["random", "gp"])
def test_the_last_members_of_a_sparse_wide_grid_are_found(name: str) -> None:
    """A grid above gp's enumeration limit, 0.2 % of it valid: random cells would almost never be members."""
    members = _members(WIDE, 30, seed=2)
    space = TableSpace.of(WIDE, members)
    assert grid_cells(space) > 8192
    opt = _optimiser(name, space, seed=1)
    first = opt.ask(6)
    assert len(first) == 6 and {c.key() for c in first} <= {c.key() for c in members}
    opt.tell([_result(c) for c in first])
    left = [c for c in members if c.key() not in _keys(first)]
    assert _keys(opt.ask(4, pending=left[2:])) == _keys(left[:2])
    assert opt.ask(1, pending=left) == []


def test_tpe_counts_the_proposals_it_could_not_make_on_a_sparse_table() -> None:
    """On 30 members of a 13,824-cell grid TPE's own proposals are almost never members: the search goes
    on with random members, and says how many."""
    members = _members(WIDE, 30, seed=8)
    opt = make_optimiser("tpe", TableSpace.of(WIDE, members), seed=2, reference=REF)
    proposed: list[PeftConfig] = []
    for _ in range(4):
        batch = opt.ask(3)
        opt.tell([_result(c) for c in batch])
        proposed += batch
    assert _keys(proposed) <= _keys(members) and len(_keys(proposed)) == 12
    assert 0 < opt.fallbacks <= 12


def test_random_search_on_a_dense_space_makes_no_fallbacks() -> None:
    opt = make_optimiser("random", DENSE, seed=3, reference=REF)
    for _ in range(5):
        opt.tell([_result(c) for c in opt.ask(4)])
    assert opt.fallbacks == 0


def test_a_full_random_search_of_a_table_takes_every_member_once() -> None:
    members = _members(DENSE, 30, seed=3)
    space = TableSpace.of(DENSE, members)
    opt = make_optimiser("random", space, seed=4, reference=REF)
    proposed: list[PeftConfig] = []
    while batch := opt.ask(4):
        proposed += batch
        opt.tell([_result(c) for c in batch])
    assert sorted(c.key() for c in proposed) == sorted(c.key() for c in members)


# --- the tabular problem ------------------------------------------------------------------------------


def test_tabular_problem_returns_the_recorded_scores() -> None:
    members = _members(DENSE, 20, seed=5)
    scores = [0.5 + 0.01 * i for i in range(20)]
    again = [members[0], members[0]]  # one configuration recorded three times in all
    problem = TabularProblem(_table(DENSE, [*members, *again], [*scores, 0.7, 0.9]))
    assert problem.name == "tabular-toy-task-22" and problem.space.size == 20
    rng = np.random.default_rng(0)
    for c, s in zip(members[1:], scores[1:], strict=True):
        r = problem.result(c, rng)
        assert r.score == s and problem.true_score(c) == s and r.params_pct == problem.table.params_pct(c)
    assert problem.true_score(members[0]) == pytest.approx((0.5 + 0.7 + 0.9) / 3)
    told = {problem.result(members[0], rng).score for _ in range(60)}
    assert told == {0.5, 0.7, 0.9}  # each evaluation tells one of the recorded scores
    assert sorted(c.key() for c in problem.every_config()) == sorted(c.key() for c in members)
    outsider = next(c for c in _members(DENSE, 40, seed=6) if not problem.space.contains(c))
    with pytest.raises(ValueError, match="not in the table"):
        problem.true_score(outsider)


def test_a_tabular_run_is_credited_with_the_recorded_scores() -> None:
    members = _members(DENSE, 40, seed=7)
    rng = np.random.default_rng(7)
    scores = [float(s) for s in rng.uniform(0.5, 0.85, size=40)]
    problem = TabularProblem(_table(DENSE, members, scores))
    recorded = {c.key(): s for c, s in zip(members, scores, strict=True)}
    rec = run_one(problem, "random", 1000, trials=20, batch=1)
    assert rec.problem == "tabular-toy-task-40" and len(rec.configs) == 20 and len(set(rec.configs)) == 20
    by_describe = {c.describe(): recorded[c.key()] for c in members}
    assert rec.true_scores == rec.observed_scores == [by_describe[d] for d in rec.configs]
    points = np.column_stack([rec.true_scores, rec.params_pct])
    assert rec.hypervolume[-1] == pytest.approx(hypervolume(points, ["maximize", "minimize"], list(REF)))
    everything = np.asarray([[recorded[c.key()], problem.params_pct(c)] for c in members])
    assert best_hypervolume(problem) == pytest.approx(hypervolume(everything, ["maximize", "minimize"], list(REF)))
    assert rec.hypervolume[-1] <= best_hypervolume(problem) + 1e-12
    assert rec.fallbacks is not None and 0 <= rec.fallbacks <= 20


# --- the collapse noise model -------------------------------------------------------------------------


def test_collapse_noise_collapses_at_its_rate_and_is_gaussian_otherwise() -> None:
    noise = CollapseNoise(rate=0.1, level=0.558, within_sd=0.02)
    rng = np.random.default_rng(0)
    told = np.array([noise.observe(0.8, rng) for _ in range(20_000)])
    collapsed = told == 0.558
    assert collapsed.mean() == pytest.approx(0.1, abs=0.01)
    rest = told[~collapsed] - 0.8
    assert rest.mean() == pytest.approx(0.0, abs=0.002) and rest.std() == pytest.approx(0.02, rel=0.05)
    # two draws per trial whatever happens: the i-th trial meets the same draws for any true score
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    first = [noise.observe(0.8, a) for _ in range(50)]
    second = [noise.observe(0.6, b) for _ in range(50)]
    assert [x == 0.558 for x in first] == [y == 0.558 for y in second]
    with pytest.raises(ValueError):
        CollapseNoise(rate=1.5, level=0.5, within_sd=0.01)


def test_collapse_noise_loads_what_collapse_rate_writes(tmp_path) -> None:
    path = tmp_path / "collapse_rate.json"
    path.write_text('{"rate": 0.07, "collapse_score": 0.558, "within_sd": 0.015, "n_runs": 100}')
    assert CollapseNoise.load(path) == CollapseNoise(0.07, 0.558, 0.015, source=str(path))


def test_a_surrogate_with_collapses_is_another_problem_credited_with_the_surrogate() -> None:
    table = _table(DENSE, _members(DENSE, 30, seed=8))
    noise = CollapseNoise(rate=0.3, level=0.5, within_sd=0.01)
    plain = SurrogateProblem(table, model="extra_trees")
    collapsing = SurrogateProblem(table, model="extra_trees", collapse=noise)
    both = SurrogateProblem(table, model="extra_trees", clip=True, collapse=noise)
    names = [plain.name, collapsing.name, both.name, TabularProblem(table).name]
    assert names == [
        "surrogate-toy-task-30",
        "surrogate-toy-task-30-collapse0.3",
        "surrogate-toy-task-30-clipped-collapse0.3",
        "tabular-toy-task-30",
    ]
    assert collapsing.noise_std == 0.01 and plain.noise_std == table.seed_std
    with pytest.raises(ValueError, match="not both"):
        SurrogateProblem(table, noise_std=0.01, collapse=noise)
    remeasured = SurrogateProblem(table, model="extra_trees", collapse=CollapseNoise(0.0714, 0.5, 0.01))
    assert remeasured.name == "surrogate-toy-task-30-collapse0.0714"
    for p in (plain, collapsing):
        p.prime(p.every_config())
    rec = run_one(collapsing, "random", 3, trials=40, batch=5)
    base = run_one(plain, "random", 3, trials=40, batch=5)
    assert rec.configs == base.configs and rec.true_scores == base.true_scores  # credit: the surrogate's
    observed = np.asarray(rec.observed_scores)
    assert 0 < (observed == 0.5).sum() < 40  # some trials collapsed, not all
    kept = observed != 0.5
    assert np.abs(observed[kept] - np.asarray(rec.true_scores)[kept]).max() < 0.06
    # the same noise stream for every variant of a seed: the same trials collapse
    other = run_one(collapsing, "tpe", 3, trials=40, batch=5)
    assert [s == 0.5 for s in other.observed_scores] == [s == 0.5 for s in rec.observed_scores]


# --- the command ------------------------------------------------------------------------------------


def _search_quality():
    script = Path(__file__).resolve().parents[2] / "bench" / "search_quality.py"
    spec = importlib.util.spec_from_file_location("search_quality", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_command_runs_the_tabular_and_collapse_benchmarks(tmp_path) -> None:
    table = tmp_path / "toy.json"
    table.write_text(_table(DENSE, _members(DENSE, 30, seed=9)).to_json())
    noise = tmp_path / "collapse.json"
    noise.write_text('{"rate": 0.2, "collapse_score": 0.55, "within_sd": 0.01}')
    sq = _search_quality()
    common = ["run", "--problem", str(table), "--variants", "random", "--seeds", "2", "--trials", "6", "--batch", "2"]
    assert sq.main([*common, "--tabular", "--out", str(tmp_path / "tab")]) == 0
    summary = (tmp_path / "tab" / "summary.md").read_text()
    assert "`tabular-toy-task-30`" in summary and "the recorded scores" in summary and "Limits:" in summary
    assert sorted(p.name for p in (tmp_path / "tab").glob("random-seed*.json")) == [
        "random-seed1000.json",
        "random-seed1001.json",
    ]
    args = ["--surrogate", "extra_trees", "--clip", "--collapse", str(noise), "--out", str(tmp_path / "col")]
    assert sq.main([*common, *args]) == 0
    summary = (tmp_path / "col" / "summary.md").read_text()
    assert "`surrogate-toy-task-30-clipped-collapse0.2`" in summary and "with probability 0.2000" in summary
    for bad in (["--tabular", "--clip"], ["--tabular", "--collapse", str(noise)]):
        with pytest.raises(SystemExit, match="--tabular"):
            sq.main([*common, *bad])
