"""Building PEFT models: every module present and trained, parameter counts measured and exact, the
backbone put back exactly after every build."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from autopeft.build import BuiltModel, build_model
from autopeft.errors import TrialError
from autopeft.modules import MODULES
from autopeft.space import PeftConfig, SearchSpace

H, L = 32, 3  # the tiny models of tests/conftest.py


@contextmanager
def building(backbone, config: PeftConfig, *, num_labels: int = 2, seed: int = 0) -> Iterator[BuiltModel]:
    built = build_model(backbone, config, num_labels=num_labels, seed=seed)
    try:
        yield built
    finally:
        built.release()


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
    with building(tiny_base.backbone, config) as built:
        _check_every_module_trains(built, tiny_base.tokenizer, config)


def _check_every_module_trains(built, tokenizer, config):
    model = built.model
    model.train()
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
            if module != "prefix":  # the prefix pool lives on the root model and serves every layer that is on
                assert in_layer == config.layers[layer], f"{module} in layer {layer}: {in_layer}"
    # nothing else trains: the backbone is frozen, the head (BERT's pooler and classifier) trains
    for name in trainable:
        assert "autopeft" in name or name.startswith(("classifier.", "bert.pooler.", "roberta.pooler.")), name


@pytest.mark.parametrize("module", [m for m in MODULES if m not in ("ia3",)])
def test_each_module_changes_the_output(tiny_bert, tokenizer, module):
    """Switching one module on changes the forward pass (it is really wired in)."""
    layers = (True,) * L
    batch = tokenizer(["a good film"], return_tensors="pt")
    states = []
    for config in (PeftConfig(layers=layers, ia3=True, **{module: 3}), PeftConfig(layers=layers, ia3=True)):
        with building(tiny_bert.backbone, config) as built, torch.no_grad():
            torch.manual_seed(1)
            _perturb_trainable(built.model)
            states.append(built.model.base_model(**batch).last_hidden_state)
    assert not torch.allclose(*states)


def test_bottleneck_sizes_are_exact(tiny_bert):
    for size in SearchSpace.named("paper", L, H).sizes:
        with building(tiny_bert.backbone, PeftConfig(layers=(1, 0, 0), serial=size, parallel=size)) as built:
            shapes = {n: tuple(p.shape) for n, p in built.model.named_parameters() if n.endswith("down.weight")}
        assert len(shapes) == 2 and all(s == (size, H) for s in shapes.values()), shapes


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
        # (IA)^3 in 3 layers: key 32 + value 32 + the feed-forward activations 64
        (PeftConfig(layers=(1, 1, 1), ia3=True), {"ia3": 3 * (32 + 32 + 64)}),
    ]
    head = 32 * 32 + 32 + 32 * 2 + 2  # BERT's pooler + classifier
    for config, expected in cases:
        with building(tiny_bert.backbone, config) as built:
            counts = built.counts
        assert counts.per_module == expected, config.describe()
        assert counts.peft == sum(expected.values())
        assert counts.head == head
        assert counts.backbone == sum(p.numel() for p in tiny_bert.backbone.base_model.parameters())
        assert counts.pct == pytest.approx(100 * counts.peft / counts.backbone)


def test_prefix_counts_training_reparametrisation_apart(tiny_bert):
    with building(tiny_bert.backbone, PeftConfig(layers=(1, 1, 1), prefix=4)) as built:
        counts = built.counts
    # training: embedding 4*32 + MLP 32->512->(3 layers * 2 * 32)
    assert counts.peft_train == 4 * 32 + (32 * 512 + 512) + (512 * 192 + 192)
    assert counts.peft == 4 * 3 * 2 * 32


def _snapshot(model):
    return (
        {n: t.detach().clone() for n, t in model.state_dict().items()},
        [(n, type(m).__name__) for n, m in model.named_modules()],
        {n: p.requires_grad for n, p in model.named_parameters()},
        model.config._attn_implementation,
        model.training,
    )


def _assert_same(before, after):
    assert before[0].keys() == after[0].keys()
    assert all(torch.equal(before[0][n], after[0][n]) for n in before[0])
    assert before[1:] == after[1:]


@pytest.mark.parametrize("num_labels", [2, 1, 5])
def test_the_backbone_is_bit_identical_after_a_trained_build(tiny_bert, tokenizer, num_labels):
    """Trials change the loaded backbone in place (no copy); releasing puts back every weight, module,
    hook, attention function and frozen flag, even after training steps and a head of another size."""
    before = _snapshot(tiny_bert.backbone)
    config = PeftConfig(layers=(1, 0, 1), serial=3, parallel=4, prefix=2, lora=2, ia3=True)
    with building(tiny_bert.backbone, config, num_labels=num_labels) as built:
        model = built.model
        model.train()
        optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
        for _ in range(2):
            _forward_backward(model, tokenizer)
            optimiser.step()
            optimiser.zero_grad()
        assert _snapshot(model)[1] != before[1]
    _assert_same(before, _snapshot(tiny_bert.backbone))


def test_a_backward_pass_without_a_step_leaves_no_gradient_for_the_next_trial(tiny_bert, tokenizer):
    """A trial that fails after its backward pass must not hand its gradient to the next trial's first
    step: the pooler (trained as part of BERT's head) is the backbone's own module, trained again."""
    config = PeftConfig(layers=(1, 1, 1), parallel=4)
    with building(tiny_bert.backbone, config) as built:
        _forward_backward(built.model, tokenizer)
        assert any(p.grad is not None for p in tiny_bert.backbone.parameters())
    assert all(p.grad is None for p in tiny_bert.backbone.parameters())


def test_a_second_build_before_release_is_refused(tiny_bert):
    config = PeftConfig(layers=(1, 1, 1), lora=2)
    with building(tiny_bert.backbone, config), pytest.raises(RuntimeError, match="release"):
        build_model(tiny_bert.backbone, config, num_labels=2, seed=0)


def test_same_seed_same_initialisation(tiny_bert):
    config = PeftConfig(layers=(1, 1, 0), serial=6, prefix=2, lora=2)
    states = []
    for _ in range(2):
        with building(tiny_bert.backbone, config, seed=3) as built:
            states.append({n: p.detach().clone() for n, p in built.model.named_parameters() if p.requires_grad})
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][n], states[1][n]) for n in states[0])


def test_invalid_or_mismatched_configuration_is_a_trial_error(tiny_bert):
    with pytest.raises(TrialError, match="needs a layer and a module"):
        build_model(tiny_bert.backbone, PeftConfig(layers=(0, 0, 0), serial=3), num_labels=2, seed=0)
    with pytest.raises(TrialError, match="layer bits"):
        build_model(tiny_bert.backbone, PeftConfig(layers=(1,) * 5, serial=3), num_labels=2, seed=0)


def test_regression_head_has_one_output(tiny_bert, tokenizer):
    with building(tiny_bert.backbone, PeftConfig(layers=(1, 1, 1), serial=3), num_labels=1) as built:
        logits = built.model(**tokenizer(["x y"], return_tensors="pt")).logits
    assert logits.shape == (1, 1)


def test_param_table_predicts_measured_counts(tiny_bert):
    """Per-layer counts measured once add up to the count measured on fully built models."""
    import numpy as np

    from autopeft.build import ParamTable

    space = SearchSpace.named("extended", L, H)
    table = ParamTable.measure(tiny_bert.backbone, space)
    rng = np.random.default_rng(0)
    for _ in range(12):
        config = space.sample(rng)
        with building(tiny_bert.backbone, config) as built:
            counts = built.counts
        assert table.params(config) == counts.peft, config.describe()
        assert table.pct(config) == pytest.approx(counts.pct)
