"""Causal-LM tasks (prompt → completion): tokenisation, the completion-only loss, and scoring.

Decoders (Llama, GPT-2, ...) learn ``prompt + completion + EOS`` as one sequence; the labels are the
input ids with every prompt token and every padding token set to :data:`IGNORE` (-100), so the loss
is the cross-entropy of the completion tokens (and the EOS) only. Encoder-decoders (T5, BART) read the
prompt in the encoder and learn ``completion + EOS`` in the decoder.

Truncation (decoders), when ``prompt + completion + EOS`` exceeds ``max_length`` tokens: the
completion keeps its head and the prompt its tail (the tokens next to the completion, which matter
most to predict it); the completion may take up to ``max_length - min(len(prompt), max_length // 2)``
tokens, the prompt the rest. So a long prompt never crowds out a short completion, and a long
completion still sees at least half the window of prompt (or all of a shorter prompt).
Encoder-decoders truncate the prompt and the completion to ``max_length`` each (keeping their heads;
the completion's EOS is kept).

Scores (:data:`autopeft.tasks.spec.LM_METRICS`):

- ``loss``: the mean cross-entropy over all validation completion tokens (token-weighted, not a mean
  of per-example means), in nats per token. Lower is better.
- ``exact_match``: the share of validation examples whose greedy completion, decoded and stripped of
  surrounding whitespace, equals the reference completion stripped likewise. The reference is its own
  tokens decoded (as truncated to the budget's length), so that the tokenizer's normalisation
  (an uncased vocabulary's lower case, its spacing around punctuation) applies to both sides
  alike: a model that generates the reference's tokens always matches. Greedy decoding runs
  without a key-value cache (PEFT modules that change attention, such as prefixes, then behave exactly
  as in training), for at most the longest validation completion's tokens plus :data:`GENERATION_MARGIN`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autopeft.tasks import Split

#: The label of tokens the loss ignores (PyTorch's and transformers' convention).
IGNORE = -100
#: Tokens greedy decoding may generate beyond the longest reference completion (its EOS and one more).
GENERATION_MARGIN = 2


def end_token(tokenizer: Any) -> int | None:
    """The token a completion ends with: the tokenizer's EOS, else its SEP (BERT-style vocabularies);
    None if it has neither (completions then end where the text ends)."""
    for token in (tokenizer.eos_token_id, getattr(tokenizer, "sep_token_id", None)):
        if token is not None:
            return int(token)
    return None


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """A decoder's prompt tokens: the tokenizer's own start tokens (Llama's BOS, BERT's CLS) and the
    prompt, without a trailing end token (a BERT or T5 tokenizer appends one, which would tell the model
    that the text ends before its completion). An empty prompt of a tokenizer that adds no start token
    (GPT-2's) becomes its BOS, if it has one, so that greedy decoding has a token to start from."""
    ids = list(tokenizer(prompt)["input_ids"])
    end = end_token(tokenizer)
    plain = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if ids and end is not None and ids[-1] == end and (not plain or plain[-1] != end):
        ids = ids[:-1]
    if not ids and tokenizer.bos_token_id is not None:
        ids = [int(tokenizer.bos_token_id)]
    return ids


def completion_ids(tokenizer: Any, completion: str) -> list[int]:
    """A completion's tokens, without special tokens (the caller appends the end token)."""
    return list(tokenizer(completion, add_special_tokens=False)["input_ids"])


def decoder_example(
    prompt: list[int], completion: list[int], end: int | None, max_length: int
) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` of one decoder example, both of length ``<= max_length``: the prompt's tail
    and the completion's head (module notes), then the end token; labels are :data:`IGNORE` on the
    prompt. The labels do not depend on the prompt's token values, only on its length."""
    target = [*completion, end] if end is not None else list(completion)
    keep_prompt = min(len(prompt), max_length // 2)
    target = target[: max(1, max_length - keep_prompt)]
    room = max_length - len(target)
    head = prompt[len(prompt) - room :] if room > 0 else []
    return [*head, *target], [IGNORE] * len(head) + target


def encode_lm(split: Split, tokenizer: Any, max_length: int, *, encoder_decoder: bool) -> Any:
    """Tokenise a causal-LM split (``text_a`` prompts, ``text_b`` completions) without padding.

    Returns:
        :class:`~autopeft.train.data.Encoded` whose features hold ``input_ids``, ``attention_mask`` and
        ``labels`` (decoders: as long as the inputs, :data:`IGNORE` on the prompt; encoder-decoders: the
        decoder's targets, ``completion + EOS``), ``prompts`` the inputs greedy decoding starts from
        (decoders: the prompt as kept in ``input_ids``; encoder-decoders: the encoder's input), and
        ``targets`` the reference completions as their kept tokens decode (module notes).
    """
    from autopeft.train.data import Encoded

    assert split.text_b is not None, "a causal-LM split holds completions in text_b"
    end = end_token(tokenizer)
    features: list[dict[str, list[int]]] = []
    prompts: list[tuple[int, ...]] = []
    targets: list[str] = []
    for prompt, completion in zip(split.text_a, split.text_b, strict=True):
        target = completion_ids(tokenizer, completion)
        if encoder_decoder:
            source = list(tokenizer(prompt, truncation=True, max_length=max_length)["input_ids"])
            labels = [*target[: max_length - 1], end] if end is not None else target[:max_length]
            features.append({"input_ids": source, "attention_mask": [1] * len(source), "labels": labels})
            prompts.append(tuple(source))
        else:
            ids, labels = decoder_example(prompt_ids(tokenizer, prompt), target, end, max_length)
            features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
            prompts.append(tuple(ids[: sum(1 for label in labels if label == IGNORE)]))
        kept = [t for t in features[-1]["labels"] if t != IGNORE and t != end]
        targets.append(tokenizer.decode(kept, skip_special_tokens=True))
    return Encoded(
        features=tuple(features),
        labels=np.asarray(split.labels),
        prompts=tuple(prompts),
        targets=tuple(targets),
    )


def lm_forward(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits aligned with the targets, targets)`` of a collated causal-LM batch.

    Decoders: the logits at positions ``0..t-2`` predict the labels at ``1..t-1`` (shape ``(b, t-1, V)``
    and ``(b, t-1)``). Encoder-decoders: the decoder reads the labels shifted right (its start token
    first) and its logits predict them (``(b, t_dec, V)``, ``(b, t_dec)``).
    """
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    labels = batch["labels"]
    if getattr(model.config, "is_encoder_decoder", False):
        inputs["decoder_input_ids"] = model.prepare_decoder_input_ids_from_labels(labels=labels)
        return model(**inputs, use_cache=False).logits, labels
    logits = model(**inputs, use_cache=False).logits
    return logits[:, :-1], labels[:, 1:]


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(summed cross-entropy over the target tokens, their count)``: labels :data:`IGNORE` count for
    nothing. ``logits`` ``(b, t, V)``, ``labels`` ``(b, t)``."""
    loss = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    return loss, int((labels != IGNORE).sum())


def lm_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean cross-entropy per completion token of a batch (the training loss)."""
    total, count = token_losses(*lm_forward(model, batch))
    return total / max(count, 1)


@torch.inference_mode()
def greedy_completions(
    model: Any, prompts: list[tuple[int, ...]], max_new_tokens: int, end: int | None, pad: int, batch_size: int
) -> list[list[int]]:
    """Greedy completions of ``prompts`` (token ids), each up to its end token (excluded) or
    ``max_new_tokens`` tokens. Decoders batch prompts of equal length (no padding, so positions are as
    in training); encoder-decoders pad the encoder's inputs on the right."""
    device = next(model.parameters()).device
    encoder_decoder = getattr(model.config, "is_encoder_decoder", False)
    out: list[list[int]] = [[] for _ in prompts]
    if encoder_decoder:
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        groups = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    else:
        by_length: dict[int, list[int]] = {}
        for i, p in enumerate(prompts):
            if p:  # a decoder cannot start from nothing: an empty prompt completes to nothing
                by_length.setdefault(len(p), []).append(i)
        groups = [g[s : s + batch_size] for g in by_length.values() for s in range(0, len(g), batch_size)]
    start = getattr(model.config, "decoder_start_token_id", None)
    start = pad if start is None else int(start)
    for group in groups:
        longest = max(len(prompts[i]) for i in group)
        ids = torch.tensor([list(prompts[i]) + [pad] * (longest - len(prompts[i])) for i in group], device=device)
        mask = torch.tensor([[1] * len(prompts[i]) + [0] * (longest - len(prompts[i])) for i in group], device=device)
        generated = torch.full((len(group), 1), start, dtype=torch.long, device=device) if encoder_decoder else ids
        done = torch.zeros(len(group), dtype=torch.bool, device=device)
        for _ in range(max_new_tokens):
            if encoder_decoder:
                logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=generated, use_cache=False).logits
            else:
                logits = model(input_ids=generated, attention_mask=torch.ones_like(generated), use_cache=False).logits
            token = logits[:, -1].argmax(-1)
            for row, i in enumerate(group):
                if not done[row]:
                    if end is not None and int(token[row]) == end:
                        done[row] = True
                    else:
                        out[i].append(int(token[row]))
            generated = torch.cat([generated, token[:, None]], dim=1)
            if bool(done.all()):
                break
    return out


def exact_match(predicted: list[str], references: tuple[str, ...] | list[str]) -> float:
    """The share of predictions equal to their reference after stripping surrounding whitespace."""
    if not references:
        raise ValueError("exact_match: no examples")
    return sum(p.strip() == r.strip() for p, r in zip(predicted, references, strict=True)) / len(references)
