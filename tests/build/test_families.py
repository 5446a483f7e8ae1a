"""Every family of the placement table, on a tiny random model of each of its model types: every module
of the space is placed and trains, the backbone comes back bit-identical, prefixes respect padding and
causality, and a saved run loads back with equal outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.conftest import tiny_family_config

from autopeft.build import build_model, load_saved, save_trained, sites_of
from autopeft.modules import MODULES
from autopeft.modules.families import FAMILIES, layer_count
from autopeft.space import PeftConfig, SearchSpace

MODEL_TYPES = [t for family in FAMILIES for t in family.model_types]
TEXTS = ["a good film", "a bad plot and a bad actor", "what", "the scenes were long", "yes, really!", "never again"]


@pytest.fixture(scope="module", params=MODEL_TYPES)
def family_base(request, tokenizer):
    from autopeft.models import BaseModel

    torch.manual_seed(0)
    return BaseModel.from_config(tiny_family_config(request.param), tokenizer, name=f"tiny-{request.param}")


def _all_on(base, **modules) -> PeftConfig:
    n = layer_count(base.config)
    space = SearchSpace.for_model_config("extended", base.config)
    sizes = {"serial": 3, "parallel": 4, "prefix": 2, "lora": 2, "ia3": True, **modules}
    return PeftConfig(layers=(True,) * n, **{m: sizes[m] for m in space.modules})


def _batch(base, texts=TEXTS):
    return base.tokenizer(texts, padding=True, return_tensors="pt")


def _state(model):
    return {n: t.detach().clone() for n, t in model.state_dict().items()}


def test_the_space_counts_every_stack(family_base):
    sites = sites_of(family_base.backbone)
    space = SearchSpace.for_model_config("extended", family_base.config)
    assert space.num_layers == sites.num_layers == 2 * len(sites.family.stacks)
    assert set(space.modules) == set(MODULES)  # every family of the table places every built-in kind


def test_every_module_trains_and_the_backbone_comes_back(family_base):
    model = family_base.backbone
    before = _state(model)
    config = _all_on(family_base)
    built = build_model(model, config, num_labels=3, seed=0)
    try:
        model.train()
        with torch.no_grad():  # up-projections and LoRA's B start at zero
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(0.1 * torch.randn_like(p))
        logits = model(**_batch(family_base)).logits
        assert logits.shape == (len(TEXTS), 3)
        logits.sum().backward()
        trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
        head = {n for path in built.head_paths for n, _ in model.get_submodule(path).named_parameters(prefix=path)}
        for module in config.active_modules:
            params = {n: p for n, p in trainable.items() if f"autopeft_{module}" in n.split(".")}
            assert params, module
            for name, p in params.items():
                assert p.grad is not None and p.grad.abs().sum() > 0, name
        assert all("autopeft_" in n or n in head for n in trainable)
    finally:
        built.release()
    after = _state(model)
    assert before.keys() == after.keys() and all(torch.equal(before[n], after[n]) for n in before)


def test_a_prefix_sees_no_padding(family_base):
    """An example's logits are the same alone and in a padded batch: the prefix widens the mask."""
    config = PeftConfig(layers=(True,) * layer_count(family_base.config), prefix=3)
    built = build_model(family_base.backbone, config, num_labels=2, seed=0)
    try:
        model = built.model.eval()
        with torch.no_grad():
            model.get_submodule("autopeft_prefix").embedding.weight.mul_(5)  # a prefix that matters
            batch = model(**_batch(family_base)).logits
            alone = torch.cat([model(**_batch(family_base, [t])).logits for t in TEXTS])
    finally:
        built.release()
    torch.testing.assert_close(batch, alone, rtol=1e-4, atol=1e-5)


def test_a_saved_run_loads_back_with_equal_outputs(family_base, tmp_path):
    model = family_base.backbone
    built = build_model(model, _all_on(family_base), num_labels=3, seed=0)
    try:
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(0.1 * torch.randn_like(p))
        model.eval()
        with torch.no_grad():
            expected = model(**_batch(family_base)).logits
        save_trained(built, tmp_path)
    finally:
        built.release()
    loaded = load_saved(model, tmp_path)
    try:
        assert loaded.counts.peft == built.counts.peft
        with torch.no_grad():
            got = model.eval()(**_batch(family_base)).logits
    finally:
        loaded.release()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


#: One decoder-only model type of each family that has them (fused projections with grouped or
#: multi-query heads included: phi3, gpt_bigcode).
DECODERS = [
    "llama",
    "gpt2",
    "gpt_bigcode",
    "opt",
    "biogpt",
    "gpt_neox",
    "persimmon",
    "ctrl",
    "phi",
    "phi3",
    "starcoder2",
    "modernbert-decoder",
]


@pytest.mark.parametrize("model_type", DECODERS)
def test_a_prefix_keeps_decoders_causal(model_type, tokenizer):
    from autopeft.models import BaseModel

    torch.manual_seed(0)
    base = BaseModel.from_config(tiny_family_config(model_type), tokenizer)
    built = build_model(base.backbone, PeftConfig(layers=(True, True), prefix=3), num_labels=2, seed=0)
    try:
        decoder = base.backbone.base_model
        ids = base.tokenizer(["a good film and a bad plot"], return_tensors="pt")["input_ids"]
        changed = ids.clone()
        changed[0, -2] = 2000
        with torch.no_grad():
            a = decoder(input_ids=ids).last_hidden_state
            b = decoder(input_ids=changed).last_hidden_state
    finally:
        built.release()
    torch.testing.assert_close(a[:, :-2], b[:, :-2])
    assert not torch.allclose(a[:, -2:], b[:, -2:])


def test_the_lora_space_targets_linear_modules_once_each(family_base):
    # every target the lora space offers is a distinct linear module in every layer, and a configuration
    # with all of them, at two ranks, builds LoRA on exactly those modules
    from autopeft.modules.lora import is_linear

    sites = sites_of(family_base.backbone)
    space = SearchSpace.for_model_config("lora", family_base.config)
    assert {"query", "attention_output", "ffn_up", "ffn_output"} <= set(space.targets)
    paths = {sites.path(i, role) for i in range(sites.num_layers) for role in space.targets}
    assert len(paths) == sites.num_layers * len(space.targets)
    assert all(is_linear(sites.module(p)) for p in paths)
    ranks = [space.sizes[-1] if i % 2 else space.sizes[0] for i in range(sites.num_layers)]
    options = {"lora": {"ranks": ranks, "targets": space.targets, "alpha_scale": 2.0}}
    config = PeftConfig(layers=(True,) * sites.num_layers, lora=max(ranks), options=options)
    if not space.contains(config):  # groups of more than one layer share a rank
        config = space.sample(np.random.default_rng(0))
    built = build_model(family_base.backbone, config, num_labels=2, seed=0)
    try:
        ranks = config.options_of("lora")["ranks"]
        lora = {n: m.lora_A["autopeft_lora"].weight.shape[0] for n, m in family_base.backbone.named_modules()
                if hasattr(m, "lora_A") and "autopeft_lora" in m.lora_A}  # fmt: skip
        expected = {sites.path(i, t): r for i, r in enumerate(ranks) if r for t in config.options_of("lora")["targets"]}
        assert lora == expected
    finally:
        built.release()


#: PEFT 0.21.2 cannot load an adapter with a task head onto this model under transformers 5: its weight
#: conversion for transformers 5 renames the head's keys before it looks them up (KeyError in
#: ``set_peft_model_state_dict``). Strict: the test says so when a PEFT release fixes it.
_PEFT_CANNOT_LOAD = {"jina_embeddings_v3"}

#: One model type of each family: what ``autopeft export --format peft`` is checked on.
FAMILY_TYPES = [
    pytest.param(t, marks=pytest.mark.xfail(raises=KeyError, strict=True, reason="PEFT 0.21.2 under transformers 5"))
    if t in _PEFT_CANNOT_LOAD
    else t
    for t in (family.model_types[0] for family in FAMILIES)
]


@pytest.mark.parametrize("kind", ["lora", "ia3"])
@pytest.mark.parametrize("model_type", FAMILY_TYPES)
def test_a_peft_export_loads_in_peft_alone_with_the_trained_logits(model_type, kind, tokenizer, tmp_path):
    """What ``export --format peft`` writes from a trained model (:func:`autopeft.exporting._write_peft`)
    loads with ``PeftModel.from_pretrained`` on the base checkpoint and gives the trained model's logits."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from autopeft.build import trained_state
    from autopeft.exporting import _write_peft
    from autopeft.models import BaseModel

    torch.manual_seed(0)
    base = BaseModel.from_config(tiny_family_config(model_type), tokenizer, name=f"tiny-{model_type}")
    base.backbone.save_pretrained(tmp_path / "base")
    config = PeftConfig(layers=(True,) * layer_count(base.config), **{kind: 4 if kind == "lora" else True})
    labels = base.config.num_labels  # the saved checkpoint's head, as a user loads it
    built = build_model(base.backbone, config, num_labels=labels, seed=0)
    with torch.no_grad():  # as if trained: LoRA's B starts at zero, (IA)³ at one
        for p in built.model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    batch = _batch(base)
    with torch.no_grad():
        trained = built.model.eval()(**batch).logits
    kept = {"state": trained_state(built), "modules": built.modules, "head_paths": built.head_paths,
            "head_output": built.head_output}  # fmt: skip
    built.release()
    _write_peft(base, kept, tmp_path / "peft", merge=False)
    fresh = AutoModelForSequenceClassification.from_pretrained(
        tmp_path / "base", num_labels=labels, pad_token_id=base.tokenizer.pad_token_id
    )
    with torch.no_grad():
        exported = PeftModel.from_pretrained(fresh, tmp_path / "peft").eval()(**batch).logits
    torch.testing.assert_close(exported, trained, rtol=1e-5, atol=1e-5)
