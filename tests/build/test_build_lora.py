"""Building the ``lora`` space's configurations: exactly the targeted modules get LoRA, each with its
layer's rank and alpha; the parameter table predicts the built model's count; the backbone comes back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.conftest import tiny_family_config

from autopeft.build import ParamTable, build_model, sites_of
from autopeft.space import PeftConfig, SearchSpace

MODEL_TYPES = ["llama", "bert", "gpt2", "t5"]


@pytest.fixture(scope="module", params=MODEL_TYPES)
def base(request, tokenizer):
    """A tiny random model (2 layers per stack, hidden 32: ranks up to 8) with its aligned tokenizer."""
    from autopeft.models import BaseModel

    torch.manual_seed(0)
    return BaseModel.from_config(tiny_family_config(request.param), tokenizer, name=f"tiny-{request.param}")


@pytest.fixture(scope="module")
def model(base):
    """(backbone, lora space) of ``base``."""
    return base.backbone, SearchSpace.for_model_config("lora", base.config)


def _lora_modules(backbone) -> dict[str, object]:
    return {name: m for name, m in backbone.named_modules() if hasattr(m, "lora_A") and "autopeft_lora" in m.lora_A}


def test_exactly_the_targeted_modules_get_their_layers_rank_and_alpha(model):
    backbone, space = model
    sites = sites_of(backbone)
    rng = np.random.default_rng(0)
    for _ in range(4):
        config = space.sample(rng)
        options = config.options_of("lora")
        expected = {
            sites.path(layer, role): rank
            for layer, rank in enumerate(options["ranks"])
            if rank
            for role in options["targets"]
        }
        built = build_model(backbone, config, num_labels=2, seed=0)
        try:
            lora = _lora_modules(backbone)
            assert set(lora) == set(expected), config.describe()
            for path, module in lora.items():
                rank = expected[path]
                assert module.lora_A["autopeft_lora"].weight.shape[0] == rank
                assert module.lora_B["autopeft_lora"].weight.shape[1] == rank
                assert module.scaling["autopeft_lora"] == pytest.approx(options["alpha_scale"])
        finally:
            built.release()
    assert not _lora_modules(backbone)  # released: the plain layers are back


def test_the_param_table_predicts_the_built_count(model):
    backbone, space = model
    table = ParamTable.measure(backbone, space)
    rng = np.random.default_rng(1)
    for _ in range(6):
        config = space.sample(rng)
        built = build_model(backbone, config, num_labels=2, seed=0)
        built.release()
        assert table.params(config) == built.counts.peft, config.describe()
        assert table.pct(config) == pytest.approx(built.counts.pct)


def test_a_lora_space_model_trains_its_lora_parameters_and_the_backbone_comes_back(base, model):
    backbone, space = model
    before = {n: p.detach().clone() for n, p in backbone.named_parameters()}
    ranks = [8] + [0] * (space.num_layers - 2) + [2]
    config = PeftConfig(
        layers=tuple(r > 0 for r in ranks),
        lora=8,
        options={"lora": {"ranks": ranks, "targets": space.targets, "alpha_scale": 2.0}},
    )
    built = build_model(backbone, config, num_labels=2, seed=0)
    try:
        with torch.no_grad():  # lora_B starts at zero: make the update non-zero so lora_A gets a gradient
            for name, p in backbone.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.1)
        batch = base.tokenizer(["a good film", "a bad plot"], padding=True, return_tensors="pt")
        out = built.model.train()(**batch, labels=torch.tensor([0, 1]))
        out.loss.backward()
        lora = [(n, p) for n, p in backbone.named_parameters() if "autopeft_lora" in n]
        assert lora and all(p.requires_grad and p.grad is not None and p.grad.abs().sum() > 0 for _, p in lora)
    finally:
        built.release()
    after = dict(backbone.named_parameters())
    assert set(after) == set(before)
    assert all(torch.equal(after[n], before[n]) for n in before)
