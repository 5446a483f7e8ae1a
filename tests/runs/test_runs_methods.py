"""Baselines and methods: every baseline builds, parameters measured on the built model, JSON round trip."""

from __future__ import annotations

import pytest
import torch

from autopeft.build import build_method
from autopeft.errors import UserError
from autopeft.methods import BASELINES, FULL_FT_LEARNING_RATE, Method, baseline_table, parse_baselines
from autopeft.space import PeftConfig


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_builds_and_only_its_modules_train(tiny_base, name):
    method = BASELINES[name]
    before = {n: t.clone() for n, t in tiny_base.backbone.state_dict().items()}
    built = build_method(tiny_base.backbone, method, num_labels=3, seed=0)
    try:
        counts = built.counts
        trainable = {n for n, p in built.model.named_parameters() if p.requires_grad}
        model = built.model
        head = {n for path in built.head_paths for n, _ in model.get_submodule(path).named_parameters(prefix=path)}
        if name == "full":
            assert counts.pct == pytest.approx(100.0) and not built.adapter_names
            assert all(p.requires_grad for p in built.model.parameters())
        else:
            assert 0 < counts.pct < 100 and len(built.adapter_names) >= 1
            assert all(n in head or any(a in n.split(".") for a in built.adapter_names) for n in trainable)
    finally:
        built.release()
    # the backbone is put back as it was: no module left, no weight changed
    after = tiny_base.backbone.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[n], after[n]) for n in before)


def test_baseline_sizes_scale_with_the_hidden_size_and_are_ordered(tiny_bert):
    pct = {}
    for name, method in BASELINES.items():
        built = build_method(tiny_bert.backbone, method, num_labels=2, seed=0)
        built.release()
        pct[name] = built.counts.pct
    # two serial adapters per layer (Houlsby) hold twice one (Pfeiffer); MAM = prefix-30 + parallel adapter
    assert pct["houlsby"] == pytest.approx(2 * pct["pfeiffer"], rel=0.02)
    assert pct["mam"] > pct["parallel"] > pct["lora"] > pct["ia3"] > 0
    rows = {r["name"]: r for r in baseline_table(768)}
    assert "48" in rows["houlsby"]["trains"] and "384" in rows["parallel"]["trains"]
    assert {r["name"]: r for r in baseline_table(384)}["pfeiffer"]["trains"].startswith("serial adapter 24")
    assert rows["full"]["learning_rate"] == f"{FULL_FT_LEARNING_RATE:g}"


def test_prefix_methods_count_ejected_prefixes(tiny_bert):
    """The deployed count of a prefix method is the ejected prefix (2 x length x hidden per layer), not the MLP."""
    layers, hidden = tiny_bert.config.num_hidden_layers, tiny_bert.config.hidden_size
    built = build_method(tiny_bert.backbone, BASELINES["prefix"], num_labels=2, seed=0)
    built.release()
    assert built.counts.peft == 2 * 30 * hidden * layers
    assert built.counts.peft_train > built.counts.peft


def test_method_round_trip_and_validation():
    config = Method(name="autopeft-0.5", label="x", kind="config", config=PeftConfig(layers=(1, 0, 1), serial=3))
    for method in (config, *BASELINES.values()):
        assert Method.from_dict(method.to_dict()) == method
    with pytest.raises(UserError, match="name"):
        Method(name="a b", label="x", kind="full")
    with pytest.raises(UserError, match="config"):
        Method(name="a", label="x", kind="config")
    with pytest.raises(UserError, match="methods"):
        parse_baselines("lora,nope")
    assert [m.name for m in parse_baselines("ia3,lora")] == ["ia3", "lora"]
    assert len(parse_baselines("all")) == len(BASELINES)
