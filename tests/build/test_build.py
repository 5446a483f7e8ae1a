"""Building PEFT models: every module present and trained, parameter counts measured and exact."""

from __future__ import annotations

import pytest
import torch

from autopeft.build import build_model
from autopeft.errors import TrialError
from autopeft.modules import MODULES
from autopeft.space import PeftConfig, SearchSpace

H, L = 32, 3  # the tiny models of tests/conftest.py


def _forward_backward(model, tokenizer):
    # Several different inputs: in the last layer only the first token reaches the head, and a small
    # ReLU bottleneck can be inactive for one token by chance.
    texts = [
        "a good film",
        "a bad plot and a bad actor",
        "what",
        "the scenes were long",
        "yes, really!",
        "an actor",
        "never again",
        "it rained all day in the film",
    ]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    logits = model(**batch).logits
    logits.sum().backward()
    return logits


def _perturb_trainable(model):
    # Up-projections start at zero, which makes some gradients exactly zero at initialisation.
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))


@pytest.mark.parametrize(
    "config",
    [
        PeftConfig(layers=(True, True, True), serial=3, parallel=6, prefix=2, lora=4, ia3=True),
        PeftConfig(layers=(False, True, True), serial=4, parallel=32),
        PeftConfig(layers=(True, False, False), prefix=5),
        PeftConfig(layers=(False, False, True), lora=1, ia3=True),
    ],
    ids=lambda c: c.describe(),
)
def test_every_module_present_and_receives_gradients(tiny_base, tokenizer, config):
    built = build_model(tiny_base.backbone, config, num_labels=2, seed=0)
    model = built.model
    _perturb_trainable(model)
    _forward_backward(model, tokenizer)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    for module in config.active_modules:
        params = {n: p for n, p in trainable.items() if f"autopeft_{module}" in n}
        assert params, f"{module} has no trainable parameters"
        for name, p in params.items():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} receives no gradient"
        for layer in range(L):
            in_layer = any(f"layer.{layer}." in n for n in params)
            if module != "prefix":  # the prefix pool lives in layer 0 and serves every layer that is on
                assert in_layer == config.layers[layer], f"{module} in layer {layer}: {in_layer}"
    # nothing else trains: the backbone is frozen
    for name in trainable:
        assert "autopeft" in name or name.startswith("heads."), name


@pytest.mark.parametrize("module", [m for m in MODULES if m not in ("ia3",)])
def test_each_module_changes_the_output(tiny_bert, tokenizer, module):
    """Switching one module on changes the forward pass (it is really wired in)."""
    layers = (True,) * L
    with_it = build_model(tiny_bert.backbone, PeftConfig(layers=layers, ia3=True, **{module: 3}), num_labels=2, seed=0)
    without = build_model(tiny_bert.backbone, PeftConfig(layers=layers, ia3=True), num_labels=2, seed=0)
    for m in (with_it.model, without.model):
        torch.manual_seed(1)
        _perturb_trainable(m)
        m.eval()
    batch = tokenizer(["a good film"], return_tensors="pt")
    with torch.no_grad():
        a = with_it.model.base_model(**batch).last_hidden_state
        b = without.model.base_model(**batch).last_hidden_state
    assert not torch.allclose(a, b)


def test_bottleneck_sizes_are_exact(tiny_bert):
    for size in SearchSpace.named("paper", L, H).sizes:
        built = build_model(
            tiny_bert.backbone, PeftConfig(layers=(1, 0, 0), serial=size, parallel=size), num_labels=2, seed=0
        )
        shapes = {n: tuple(p.shape) for n, p in built.model.named_parameters() if "adapter_down.0.weight" in n}
        assert shapes and all(s == (size, H) for s in shapes.values()), shapes


def test_hand_checked_parameter_counts(tiny_bert):
    """Counts measured on the built model equal counts worked out by hand for the tiny BERT (H=32, 3 layers)."""
    cases = [
        # serial adapter of 3 in 2 layers: down (32*3 + 3) + up (3*32 + 32) = 227 per layer
        (PeftConfig(layers=(0, 1, 1), serial=3), {"serial": 2 * 227}),
        # parallel adapter of 8 in 3 layers: 32*8 + 8 + 8*32 + 32 = 552 per layer
        (PeftConfig(layers=(1, 1, 1), parallel=8), {"parallel": 3 * 552}),
        # prefix of length 4 in 2 layers, as deployed: 4 tokens * 2 layers * (key + value) * 32
        (PeftConfig(layers=(1, 0, 1), prefix=4), {"prefix": 4 * 2 * 2 * 32}),
        # LoRA rank 2 on query and value in 1 layer: 2 * (2*32 + 32*2)
        (PeftConfig(layers=(0, 0, 1), lora=2), {"lora": 2 * (2 * 32 + 32 * 2)}),
        # (IA)^3 in 3 layers: key 32 + value 32 + intermediate 64
        (PeftConfig(layers=(1, 1, 1), ia3=True), {"ia3": 3 * (32 + 32 + 64)}),
    ]
    head = 32 * 32 + 32 + 32 * 2 + 2  # pooler-style dense + classifier
    for config, expected in cases:
        counts = build_model(tiny_bert.backbone, config, num_labels=2, seed=0).counts
        assert counts.per_module == expected, config.describe()
        assert counts.peft == sum(expected.values())
        assert counts.head == head
        assert counts.backbone == sum(p.numel() for p in tiny_bert.backbone.parameters())
        assert counts.pct == pytest.approx(100 * counts.peft / counts.backbone)


def test_prefix_counts_training_reparametrisation_apart(tiny_bert):
    counts = build_model(tiny_bert.backbone, PeftConfig(layers=(1, 1, 1), prefix=4), num_labels=2, seed=0).counts
    # training: embedding 4*32 + MLP 32->512->(3 layers * 2 * 32)
    assert counts.peft_train == 4 * 32 + (32 * 512 + 512) + (512 * 192 + 192)
    assert counts.peft == 4 * 3 * 2 * 32


def test_backbone_is_never_modified(tiny_bert, tokenizer):
    before = {n: p.detach().clone() for n, p in tiny_bert.backbone.named_parameters()}
    built = build_model(tiny_bert.backbone, PeftConfig(layers=(1, 1, 1), lora=4, parallel=8), num_labels=2, seed=0)
    _perturb_trainable(built.model)
    assert not tiny_bert.backbone.adapters_config.adapters
    after = dict(tiny_bert.backbone.named_parameters())
    assert before.keys() == after.keys()
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_same_seed_same_initialisation(tiny_bert):
    config = PeftConfig(layers=(1, 1, 0), serial=6, prefix=2)
    a = build_model(tiny_bert.backbone, config, num_labels=2, seed=3).model
    b = build_model(tiny_bert.backbone, config, num_labels=2, seed=3).model
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb and torch.equal(pa, pb)


def test_invalid_or_mismatched_configuration_is_a_trial_error(tiny_bert):
    with pytest.raises(TrialError, match="needs a layer and a module"):
        build_model(tiny_bert.backbone, PeftConfig(layers=(0, 0, 0), serial=3), num_labels=2, seed=0)
    with pytest.raises(TrialError, match="layer bits"):
        build_model(tiny_bert.backbone, PeftConfig(layers=(1,) * 5, serial=3), num_labels=2, seed=0)


def test_regression_head_has_one_output(tiny_bert, tokenizer):
    built = build_model(tiny_bert.backbone, PeftConfig(layers=(1, 1, 1), serial=3), num_labels=1, seed=0)
    logits = built.model(**tokenizer(["x y"], return_tensors="pt")).logits
    assert logits.shape == (1, 1)


def test_batch_shared_prefix_is_identical_to_the_library(tiny_base, tokenizer):
    """Computing the prefix once per batch gives the same outputs and gradients as per example."""
    config = PeftConfig(layers=(True, False, True), prefix=5, parallel=4)
    shared = build_model(tiny_base.backbone, config, num_labels=2, seed=0, share_prefix=True).model
    plain = build_model(tiny_base.backbone, config, num_labels=2, seed=0, share_prefix=False).model
    assert any(type(m).__name__ == "_BatchSharedPrefixTuning" for m in shared.modules())
    assert not any(type(m).__name__ == "_BatchSharedPrefixTuning" for m in plain.modules())
    for m in (shared, plain):
        torch.manual_seed(2)
        _perturb_trainable(m)
        m.eval()  # no dropout, so both see the same function
    a = _forward_backward(shared, tokenizer)
    b = _forward_backward(plain, tokenizer)
    torch.testing.assert_close(a, b)
    grads_a = {n: p.grad for n, p in shared.named_parameters() if p.requires_grad}
    grads_b = {n: p.grad for n, p in plain.named_parameters() if p.requires_grad}
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=1e-4, atol=1e-6, msg=name)


def test_param_table_predicts_measured_counts(tiny_bert):
    """Per-layer counts measured once add up to the count measured on fully built models."""
    import numpy as np

    from autopeft.build import ParamTable

    space = SearchSpace.named("extended", L, H)
    table = ParamTable.measure(tiny_bert.backbone, space)
    rng = np.random.default_rng(0)
    for _ in range(12):
        config = space.sample(rng)
        counts = build_model(tiny_bert.backbone, config, num_labels=2, seed=0).counts
        assert table.params(config) == counts.peft, config.describe()
        assert table.pct(config) == pytest.approx(counts.pct)
