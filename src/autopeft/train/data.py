"""Tokenised training and validation data, prepared once per search and shared by every trial."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autopeft.errors import UserError
from autopeft.tasks import Split, TaskData, TaskSpec, split_train_val, subsample
from autopeft.train.budget import Budget

#: The label of tokens a causal-LM loss ignores (padding, prompts): :data:`autopeft.train.lm.IGNORE`.
IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    """A tokenised split.

    Args:
        features: one dict per example (``input_ids``, ``attention_mask``, maybe ``token_type_ids``;
            causal-LM tasks also ``labels``, the target token ids, see :mod:`autopeft.train.lm`),
            unpadded, at most ``max_length`` tokens.
        labels: class ids (int64) or targets (float32), shape ``(n,)`` (zeros for a causal-LM task).
        prompts: causal-LM tasks only: the token ids greedy decoding starts from, one tuple per example.
        targets: causal-LM tasks only: the reference completions (text, as their tokens decode), one per example.
    """

    features: tuple[dict[str, list[int]], ...]
    labels: np.ndarray
    prompts: tuple[tuple[int, ...], ...] | None = None
    targets: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, indices: np.ndarray) -> Encoded:
        """The examples at ``indices`` (shape ``(k,)``), in that order."""
        return Encoded(
            features=tuple(self.features[i] for i in indices),
            labels=self.labels[indices],
            prompts=None if self.prompts is None else tuple(self.prompts[i] for i in indices),
            targets=None if self.targets is None else tuple(self.targets[i] for i in indices),
        )

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per example, shape ``(n,)``."""
        return np.array([len(f["input_ids"]) for f in self.features], dtype=np.int64)


#: Seed of the draw of :meth:`PreparedData.probe` (fixed: it depends on nothing but the validation set).
PROBE_SEED = 0


@dataclass(frozen=True)
class PreparedData:
    """What a trial trains and scores on.

    Args:
        spec: the task.
        train: tokenised training examples (a seeded, stratified subset of the training split).
        val: tokenised validation examples carved from the training split (the search's score).
        pad_token_id: the tokenizer's padding id.
        end_token_id: causal-LM tasks only: the token completions end with (greedy decoding stops there).
        tokenizer: causal-LM tasks only: decodes greedy completions for ``exact_match``.
    """

    spec: TaskSpec
    train: Encoded
    val: Encoded
    pad_token_id: int
    end_token_id: int | None = None
    tokenizer: Any = None

    def probe(self, examples: int | None) -> Encoded:
        """The validation examples that evaluations before a trial's last one score: ``examples`` of
        them drawn at random with a fixed seed, so that every trial of a search is probed on the same
        ones (their learning curves stay comparable); None, or at least ``len(val)``: all of them."""
        keep = probe_indices(len(self.val), examples)
        if keep is None:
            return self.val
        return self.val.subset(keep)


def probe_indices(n_val: int, examples: int | None) -> np.ndarray | None:
    """Indices (sorted, shape ``(examples,)``) of the validation examples :meth:`PreparedData.probe`
    keeps out of ``n_val``; None when it keeps them all."""
    if examples is None or examples >= n_val:
        return None
    return np.sort(np.random.default_rng(PROBE_SEED).permutation(n_val)[:examples])


def encode(split: Split, tokenizer: Any, max_length: int) -> Encoded:
    """Tokenise a split (truncating to ``max_length`` tokens, no padding)."""
    if split.text_b is None:
        enc = tokenizer(list(split.text_a), truncation=True, max_length=max_length)
    else:
        enc = tokenizer(list(split.text_a), list(split.text_b), truncation="longest_first", max_length=max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    features = tuple({k: enc[k][i] for k in keys} for i in range(len(split)))
    return Encoded(features=features, labels=np.asarray(split.labels))


def carve_splits(task: TaskData, budget: Budget, seed: int) -> tuple[Split, Split]:
    """(train, validation): the validation examples carved from the task's training split, then the
    training subset from the rest; seeded, stratified for classification. The dev split is untouched."""
    return split_train_val(
        task.train,
        train_examples=budget.train_examples,
        val_examples=budget.val_examples,
        seed=seed,
        stratify=task.spec.kind == "classification",
    )


def prepare_data(
    task: TaskData,
    tokenizer: Any,
    budget: Budget,
    seed: int,
    *,
    splits: tuple[Split, Split] | None = None,
    encoder_decoder: bool = False,
) -> PreparedData:
    """Tokenise the training and validation examples of :func:`carve_splits` (or ``splits``).
    ``encoder_decoder``: a causal-LM task's examples are for an encoder-decoder (prompt in the encoder,
    completion in the decoder) rather than a decoder (:func:`autopeft.train.lm.encode_lm`)."""
    train, val = splits if splits is not None else carve_splits(task, budget, seed)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if task.spec.is_lm:
        from autopeft.train.lm import encode_lm, end_token

        seq2seq = encoder_decoder
        return PreparedData(
            spec=task.spec,
            train=encode_lm(train, tokenizer, budget.max_length, encoder_decoder=seq2seq),
            val=encode_lm(val, tokenizer, budget.max_length, encoder_decoder=seq2seq),
            pad_token_id=int(pad),
            end_token_id=end_token(tokenizer),
            tokenizer=tokenizer,
        )
    return PreparedData(
        spec=task.spec,
        train=encode(train, tokenizer, budget.max_length),
        val=encode(val, tokenizer, budget.max_length),
        pad_token_id=int(pad),
    )


def prepare_final_data(task: TaskData, tokenizer: Any, budget: Budget, data_seed: int = 0) -> PreparedData:
    """Data of a full-fidelity run (retrain, transfer, baselines): ``budget.train_examples`` examples
    of the whole training split (seeded, stratified; None = all) to train on, and the task's dev split
    to score on. ``budget.val_examples`` is not used: nothing is carved out. ``data_seed`` fixes the
    training subset apart from the run's seed, so that the seeds of a method train on the same data."""
    if task.dev is None:
        raise UserError(
            "task",
            task.spec.name,
            "has no dev split to report on (a single local file)",
            "use a GLUE/SuperGLUE task, or split the file into train and dev yourself",
        )
    train = subsample(task.train, budget.train_examples, seed=data_seed, stratify=task.spec.kind == "classification")
    return prepare_data(task, tokenizer, budget, data_seed, splits=(train, task.dev))


def collate(features: list[dict[str, list[int]]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest example (dynamic padding). Returns tensors of shape ``(b, t)``."""
    longest = max(len(f["input_ids"]) for f in features)
    out: dict[str, torch.Tensor] = {}
    for key in features[0]:
        fill = pad_token_id if key == "input_ids" else IGNORE if key == "labels" else 0
        if key == "labels":  # an encoder-decoder's targets are as long as its own, not the inputs
            span = max(len(f[key]) for f in features)
            out[key] = torch.tensor([f[key] + [fill] * (span - len(f[key])) for f in features], dtype=torch.long)
            continue
        rows = [f[key] + [fill] * (longest - len(f[key])) for f in features]
        out[key] = torch.tensor(rows, dtype=torch.long)
    return out


#: Batches per window of :func:`train_batches`'s length grouping: examples are sorted by length only
#: within a window of this many batches. Measured on SST-2 at the demo budget (16 paired trials,
#: ``bench/results/throughput_cpu_grouping*.json``): a window of 50 batches computes 1.06x the real
#: tokens but lowers the score by 0.0145 +- 0.0056 against random batches; a window of 8 computes
#: 1.24x (RTE 1.09x, STS-B 1.17x; random batches 2.57x, 1.90x, 2.23x) and scores +0.0075 +- 0.0032,
#: at nearly the same speed (median trial 24.7 s vs 26.3 s; random batches 49.1 s). Changing it
#: changes every trial.
GROUP_WINDOW = 8


def train_batches(
    data: Encoded,
    batch_size: int,
    generator: np.random.Generator,
    pad_token_id: int,
    *,
    group_by_length: bool = False,
) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
    """One epoch of shuffled training batches (the last may be smaller).

    With ``group_by_length``, the shuffled examples are cut into windows of ``GROUP_WINDOW * batch_size``,
    each window is sorted by length and cut into batches, and the order of all batches is shuffled:
    every example is still seen once per epoch, in a random batch of examples of similar length.
    """
    order = generator.permutation(len(data))
    if not group_by_length:
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    else:
        lengths = data.lengths
        batches = []
        window = GROUP_WINDOW * batch_size
        for w in range(0, len(order), window):
            chunk = order[w : w + window]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches.extend(chunk[start : start + batch_size] for start in range(0, len(chunk), batch_size))
        batches = [batches[i] for i in generator.permutation(len(batches))]
    for idx in batches:
        yield collate([data.features[i] for i in idx], pad_token_id), torch.as_tensor(data.labels[idx])


def eval_batches(
    data: Encoded, batch_size: int, pad_token_id: int
) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Batches sorted by length (little padding), with the example indices of each batch."""
    order = np.argsort(data.lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield idx, collate([data.features[i] for i in idx], pad_token_id)
