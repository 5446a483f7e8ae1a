"""The built-in module kinds give what the project gave before they were declared in modules/: the same
configuration dicts as saved searches hold, the same adapters configurations, the same spaces, and the
same baselines as the committed reproduction ledger (whose run keys must stay valid)."""

from __future__ import annotations

import json
from pathlib import Path

import adapters
import pytest

from autopeft.build import adapter_configs, composite_presets
from autopeft.methods import BASELINES
from autopeft.modules import MODULES, size_scale
from autopeft.runs.ledger import RunSpec
from autopeft.space import SPACES, Dimension, PeftConfig, SearchSpace

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


def test_run_keys_and_baselines_of_the_committed_ledgers_are_unchanged() -> None:
    records = _records()
    baselines_seen: list[str] = []
    for record in records:
        spec = record["spec"]
        assert RunSpec.from_dict(spec).key == record["key"]
        method = spec["method"]
        if method["kind"] != "config":
            assert BASELINES[method["name"]].to_dict() == method
            if method["name"] not in baselines_seen:
                baselines_seen.append(method["name"])
    # the reproduction ran every baseline, in report order
    assert baselines_seen == list(BASELINES)


def test_baselines_are_the_libraries_presets() -> None:
    """Each kind's presets, between full fine-tuning and the composite presets, are adapters' own."""
    library = {
        "houlsby": adapters.DoubleSeqBnConfig(),
        "pfeiffer": adapters.SeqBnConfig(),
        "parallel": adapters.ParBnConfig(),
        "prefix": adapters.PrefixTuningConfig(),
        "lora": adapters.LoRAConfig(),
        "ia3": adapters.IA3Config(),
        "mam": adapters.MAMConfig(),
        "unipelt": adapters.UniPELTConfig(),
    }
    single = [preset.name for kind in MODULES.values() for preset in kind.presets()]
    assert list(BASELINES) == ["full", *single, *composite_presets()]
    for name, config in library.items():
        assert BASELINES[name].kind == "adapters"
        assert BASELINES[name].adapters == config.to_dict(), name


@pytest.mark.parametrize("hidden", [32, 384, 768])
def test_the_built_in_kinds_build_the_same_adapters_configurations(hidden: int) -> None:
    layers = (True, False, True, True)
    leave_out = [1]
    config = PeftConfig(layers=layers, serial=12, parallel=96, prefix=3, lora=8, ia3=True)

    def rf(size: int) -> float:
        return hidden / (size + 0.5)

    expected = {
        "autopeft_serial": adapters.SeqBnConfig(
            mh_adapter=True, output_adapter=False, reduction_factor=rf(12), leave_out=leave_out
        ),
        "autopeft_parallel": adapters.ParBnConfig(reduction_factor=rf(96), leave_out=leave_out),
        "autopeft_prefix": adapters.PrefixTuningConfig(prefix_length=3, leave_out=leave_out),
        "autopeft_lora": adapters.LoRAConfig(r=8, alpha=8, leave_out=leave_out),
        "autopeft_ia3": adapters.IA3Config(leave_out=leave_out),
    }
    built = adapter_configs(config, hidden)
    assert list(built) == list(expected)  # the order of the Stack
    assert {n: c.to_dict() for n, c in built.items()} == {n: c.to_dict() for n, c in expected.items()}


@pytest.mark.parametrize("name", sorted(SPACES))
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
