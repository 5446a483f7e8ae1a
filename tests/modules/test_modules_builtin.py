"""The built-in module kinds keep what saved searches and ledgers hold: the same configuration dicts, the
same spaces, run keys that stay valid, baselines of autopeft 0.1 (the ``adapters`` library) that are
still read and described; and on the real MiniLM every baseline and every picked configuration of the
committed reproduction has exactly the parameter count the ``adapters`` library measured then."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autopeft.build import build_method, composite_presets
from autopeft.methods import BASELINES, Method
from autopeft.modules import MODULES, size_scale
from autopeft.runs.ledger import RunSpec
from autopeft.space import LAYOUTS, SPACES, Dimension, PeftConfig, SearchSpace

REPO = Path(__file__).resolve().parents[2]
#: Committed outputs of the project before module kinds were registered.
PARETO_JSON = REPO / "bench" / "results" / "saas_search_sst2" / "pareto.json"
LEDGERS = [
    REPO / "bench" / "repro" / "results" / "results.jsonl",
    REPO / "bench" / "repro" / "stsb_standardised" / "results" / "results.jsonl",
]


def _records() -> list[dict]:
    return [json.loads(line) for path in LEDGERS for line in path.read_text().splitlines() if line.strip()]


def test_configurations_serialise_as_saved_searches_hold_them() -> None:
    """Field order included: pareto.json and ledgers store ``to_dict()`` as it comes."""
    trials = json.loads(PARETO_JSON.read_text())["trials"]
    assert trials
    for trial in trials:
        config = PeftConfig.from_dict(trial["config"])
        assert json.dumps(config.to_dict()) == json.dumps(trial["config"])
        assert config.key() == json.dumps(trial["config"], sort_keys=True)


def test_run_keys_of_the_committed_ledgers_stay_valid_and_old_baselines_are_read() -> None:
    legacy: list[str] = []
    for record in _records():
        spec = record["spec"]
        assert RunSpec.from_dict(spec).key == record["key"]
        method = Method.from_dict(spec["method"])
        assert method.to_dict() == spec["method"]
        if method.kind == "adapters":  # written with the adapters library: read and described, not built
            assert method.describe(384)
            if method.name not in legacy:
                legacy.append(method.name)
    # the reproduction ran every baseline of its day, in report order; all but UniPELT are still baselines
    assert legacy == ["houlsby", "pfeiffer", "parallel", "prefix", "lora", "ia3", "mam", "unipelt"]
    assert [m for m in BASELINES if m != "full"] == legacy[:-1]


def test_baselines_are_each_kinds_presets_then_the_composites() -> None:
    single = [preset.name for kind in MODULES.values() for preset in kind.presets()]
    assert list(BASELINES) == ["full", *single, *composite_presets()]
    assert all(BASELINES[name].kind == "modules" for name in single)


@pytest.fixture(scope="module")
def minilm():
    from autopeft.models import BaseModel

    return BaseModel.load("minilm")


def test_counts_on_minilm_equal_what_the_adapters_library_measured(minilm) -> None:
    """Every baseline and picked configuration of the committed reproduction, built on the real MiniLM,
    has the deployed parameter count and backbone size recorded when ``adapters`` 1.3.0 built it."""
    measured: dict[str, tuple[int, int, dict]] = {}
    for record in _records():
        result, method = record["result"], record["spec"]["method"]
        if result.get("peft_params") is not None and method["kind"] != "full":
            measured[method["name"]] = (result["peft_params"], result["backbone_params"], method)
    checked = []
    for name, (peft, backbone, stored) in measured.items():
        method = BASELINES[name] if stored["kind"] == "adapters" and name in BASELINES else Method.from_dict(stored)
        if method.kind == "adapters":
            continue  # UniPELT
        built = build_method(minilm.backbone, method, num_labels=2, seed=0)
        built.release()
        assert (built.counts.peft, built.counts.backbone) == (peft, backbone), name
        checked.append(name)
    baselines = ["houlsby", "pfeiffer", "parallel", "prefix", "lora", "ia3", "mam"]
    assert checked == ["autopeft-0.01", "autopeft-0.1", "autopeft-1", *baselines]


@pytest.mark.parametrize("name", sorted(set(SPACES) - set(LAYOUTS)))  # LAYOUTS: tests/space/test_space_lora.py
@pytest.mark.parametrize(("layers", "hidden"), [(3, 32), (6, 384), (12, 768)])
def test_named_spaces_have_the_same_dimensions(name: str, layers: int, hidden: int) -> None:
    space = SearchSpace.named(name, layers, hidden)
    sizes = size_scale(hidden)
    expected = [Dimension(f"layer_{i}", "bit", (False, True)) for i in range(layers)]
    for module in SPACES[name]:
        if MODULES[module].dimension == "switch":
            expected.append(Dimension(module, "bit", (False, True)))
        else:
            expected.append(Dimension(module, "ordinal", (0, *sizes)))
    assert space.sizes == sizes
    assert space.dimensions == tuple(expected)


def test_every_built_in_kind_has_a_description_and_presets() -> None:
    for kind in MODULES.values():
        assert kind.description
        assert kind.presets(), kind.name
        assert all(preset.name in BASELINES for preset in kind.presets())
