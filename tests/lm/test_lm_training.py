"""The causal-LM loss counts completion tokens only, evaluation scores loss and exact match, and a
language model's build trains only the modules and puts the backbone back bit for bit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tests.conftest import tiny_family_config
from torch import nn

from autopeft.build import build_model, is_language_model, sites_of
from autopeft.models import BaseModel
from autopeft.space import PeftConfig
from autopeft.tasks import Split, TaskData, TaskSpec
from autopeft.train.budget import Budget
from autopeft.train.data import collate, prepare_data
from autopeft.train.lm import IGNORE, decoder_example, lm_forward, lm_loss, token_losses
from autopeft.train.trainer import evaluate, run_trial

SUMS = [(f"{a}+{b}=", str(a + b)) for a in range(6) for b in range(6)]


def _task(rows=SUMS, score: str = "loss") -> TaskData:
    metrics = ("loss",) if score == "loss" else ("exact_match", "loss")
    spec = TaskSpec("toy", ("prompt", "completion"), "", "causal_lm", None, metrics, score)
    split = Split(tuple(p for p, _ in rows), tuple(c for _, c in rows), np.zeros(len(rows), np.float32))
    return TaskData(spec, split, None)


@pytest.fixture(scope="module", params=["llama", "t5"])
def tiny_lm(request, tokenizer) -> BaseModel:
    torch.manual_seed(0)
    return BaseModel.from_config(tiny_family_config(request.param), tokenizer, name=request.param, lm=True)


def _budget(**kw) -> Budget:
    return Budget(**{"train_examples": None, "val_examples": 8, "max_length": 16, "batch_size": 8, **kw})


def test_decoder_labels_ignore_the_prompt_and_keep_the_completion():
    ids, labels = decoder_example([1, 2, 3], [7, 8], end=9, max_length=16)
    assert ids == [1, 2, 3, 7, 8, 9] and labels == [IGNORE, IGNORE, IGNORE, 7, 8, 9]
    # another prompt token changes the inputs, never the labels; another completion token changes them
    assert decoder_example([1, 5, 3], [7, 8], 9, 16)[1] == labels
    assert decoder_example([1, 2, 3], [7, 6], 9, 16)[1] != labels


def test_truncation_keeps_the_prompt_tail_and_the_completion_head():
    prompt, completion = list(range(100, 120)), list(range(200, 220))
    ids, labels = decoder_example(prompt, completion, end=9, max_length=10)
    assert ids == [*prompt[-5:], *completion[:5]] and labels == [IGNORE] * 5 + completion[:5]
    ids, labels = decoder_example(prompt, [7], end=9, max_length=10)  # a short completion keeps its end
    assert ids == [*prompt[-8:], 7, 9] and labels[-2:] == [7, 9]
    ids, labels = decoder_example([], completion, end=9, max_length=10)  # a plain text: all of it is learnt
    assert ids == completion[:10] and labels == ids


def test_collation_pads_labels_with_ignore(tiny_lm):
    data = prepare_data(_task(), tiny_lm.tokenizer, _budget(), 0, encoder_decoder=tiny_lm.is_encoder_decoder)
    longer = {k: v + v[-1:] * 3 if k != "labels" else v for k, v in data.train.features[1].items()}
    features = [data.train.features[0], longer]  # the second input is longer than its labels
    batch = collate(features, data.pad_token_id)
    assert batch["input_ids"].shape[0] == 2
    width = max(len(f["labels"]) for f in features)
    assert batch["labels"].shape == (2, width)
    assert (batch["labels"][0, len(features[0]["labels"]) :] == IGNORE).all()


def test_the_model_loss_ignores_prompt_labels_and_counts_completion_tokens(tiny_lm):
    """Changing a prompt token's label (not its input) leaves the loss unchanged; changing a completion
    token's label changes it."""
    data = prepare_data(_task(), tiny_lm.tokenizer, _budget(), 0, encoder_decoder=tiny_lm.is_encoder_decoder)
    batch = collate(list(data.train.features[:4]), data.pad_token_id)
    model = tiny_lm.backbone
    loss = lm_loss(model, batch)
    labels = batch["labels"]
    if tiny_lm.is_encoder_decoder:
        # the prompt is in the encoder: the decoder's labels are the completion and its end only
        targets = [f["labels"] for f in data.train.features[:4]]
        assert all(t[:-1] == data.tokenizer(c, add_special_tokens=False)["input_ids"] for t, c in
                   zip(targets, data.train.targets[:4], strict=True))  # fmt: skip
        completion_at = (0, 0)
    else:
        prompt_at = (0, 1)
        assert labels[prompt_at] == IGNORE  # a prompt token
        # the prompt token's id as a label: the loss would change if prompt labels counted
        counted = labels.clone()
        counted[prompt_at] = batch["input_ids"][prompt_at]
        assert not torch.isclose(lm_loss(model, {**batch, "labels": counted}), loss)
        # a different prompt token in the labels' source gives the same labels, hence the same loss
        example = data.train.features[0]
        n_prompt = sum(1 for t in example["labels"] if t == IGNORE)
        other_prompt = [5] * n_prompt
        _, relabelled = decoder_example(other_prompt, example["labels"][n_prompt:-1], example["labels"][-1], 16)
        assert relabelled == example["labels"]
        completion_at = (0, n_prompt)
    assert labels[completion_at] != IGNORE
    changed = labels.clone()
    changed[completion_at] = (changed[completion_at] + 1) % model.config.vocab_size
    assert not torch.isclose(lm_loss(model, {**batch, "labels": changed}), loss)
    # the loss is the mean over target tokens, token-weighted
    total, count = token_losses(*lm_forward(model, batch))
    assert count == int((labels != IGNORE).sum())  # a decoder's first position predicts nothing: it is a prompt
    assert torch.isclose(total / count, loss)


class _Oracle(nn.Module):
    """A decoder that knows the answers: after token ``a`` it predicts ``answers[a]``, else the end token."""

    def __init__(self, answers: dict[int, int], end: int, vocab: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(is_encoder_decoder=False)
        self.answers, self.end, self.vocab = answers, end, vocab

    def forward(self, input_ids, attention_mask=None, use_cache=None):
        logits = torch.zeros(*input_ids.shape, self.vocab)
        for b, row in enumerate(input_ids.tolist()):
            for t, token in enumerate(row):
                logits[b, t, self.answers.get(token, self.end)] = 1.0
        return SimpleNamespace(logits=logits)


def test_exact_match_compares_greedy_completions_with_the_references(tokenizer):
    # "World": the uncased vocabulary reads it as "world", as it reads what the model generates
    rows = [("say hello", " World "), ("say good", "morning"), ("say yes", "no"), ("say red", "blue")]
    ids = {w: tokenizer.convert_tokens_to_ids(w) for w in ("hello", "world", "good", "morning", "yes", "red")}
    # knows "hello world" and "good morning"; answers "yes" wrongly ("no" expected), "red" not at all
    oracle = _Oracle({ids["hello"]: ids["world"], ids["good"]: ids["morning"], ids["yes"]: ids["red"]},
                     end=tokenizer.sep_token_id, vocab=tokenizer.vocab_size)  # fmt: skip
    task = _task(rows * 2, score="exact_match")  # the validation draw holds each row once or twice
    data = prepare_data(task, tokenizer, _budget(val_examples=4), 0)
    metrics = evaluate(oracle, data, 8, torch.device("cpu"))
    assert set(data.val.targets) <= {"world", "morning", "no", "blue"}
    expected = sum(t in ("world", "morning") for t in data.val.targets) / len(data.val)
    assert set(metrics) == {"exact_match", "loss"} and metrics["exact_match"] == pytest.approx(expected)
    assert 0 < expected < 1


def test_a_language_model_build_trains_only_the_modules_and_is_released_bit_for_bit(tiny_lm):
    model = tiny_lm.backbone
    assert is_language_model(model)
    before = {n: t.detach().clone() for n, t in model.state_dict().items()}
    names = [n for n, _ in model.named_modules()]
    layers = sites_of(model).num_layers
    config = PeftConfig(layers=(True,) * layers, serial=4, parallel=4, prefix=2)
    built = build_model(model, config, num_labels=None, seed=0)
    try:
        assert built.head_paths == () and built.counts.head == 0
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        assert trainable and all("autopeft" in n for n in trainable)  # the LM head stays frozen
        data = prepare_data(_task(), tiny_lm.tokenizer, _budget(), 0, encoder_decoder=tiny_lm.is_encoder_decoder)
        optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
        model.train()
        lm_loss(model, collate(list(data.train.features[:8]), data.pad_token_id)).backward()
        optimiser.step()
    finally:
        built.release()
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[n], after[n]) for n in before)
    assert [n for n, _ in model.named_modules()] == names
    assert not any(p.requires_grad for p in model.parameters())


def test_a_trial_on_a_language_model_learns_the_completions(tiny_lm):
    """Training lowers the validation loss below the untrained model's (the LM head frozen)."""
    data = prepare_data(_task(), tiny_lm.tokenizer, _budget(), 0, encoder_decoder=tiny_lm.is_encoder_decoder)
    untrained = evaluate(tiny_lm.backbone, data, 16, torch.device("cpu"))["loss"]
    layers = sites_of(tiny_lm.backbone).num_layers
    config = PeftConfig(layers=(True,) * layers, serial=16, parallel=16)
    result = run_trial(tiny_lm, data, config, _budget(epochs=3, learning_rate=1e-2), seed=0)
    assert result.status == "complete", result.error
    assert result.metric == "loss" and result.metrics == {"loss": result.score}
    assert result.score < untrained


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "t5", "bart"])
def test_the_family_table_finds_the_same_modules_in_the_language_model(model_type, tokenizer):
    """Sites are found from ``model.base_model``: a language model's layers and roles are those of the
    sequence classifier of the same checkpoint (the paths differ only by the base model's own path)."""
    from autopeft.build import backbone_from_config
    from autopeft.modules.families import ROLES

    config = tiny_family_config(model_type)
    sites = {lm: sites_of(backbone_from_config(config, lm=lm)) for lm in (False, True)}

    def relative(s, path):
        return path.removeprefix(s.base_path).lstrip(".") if path is not None else None

    assert sites[True].num_layers == sites[False].num_layers == (4 if config.is_encoder_decoder else 2)
    for layer in range(sites[True].num_layers):
        for role in ROLES:
            assert relative(sites[True], sites[True].path(layer, role)) == relative(
                sites[False], sites[False].path(layer, role)
            ), (layer, role)
