"""Data objects of a task: what it is (:class:`TaskSpec`) and its examples (:class:`Split`,
:class:`TaskData`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

TaskKind = Literal["classification", "regression", "causal_lm"]
TASK_KINDS: tuple[str, ...] = ("classification", "regression", "causal_lm")
METRIC_NAMES: tuple[str, ...] = ("accuracy", "f1", "matthews", "pearson", "spearman", "loss", "exact_match")
#: Metrics of causal-LM tasks (:mod:`autopeft.train.lm`): ``loss`` is the mean cross-entropy per completion
#: token on the validation examples (nats/token, *lower* is better); ``exact_match`` the share of
#: validation examples whose greedy completion equals the reference after stripping whitespace (higher
#: is better).
LM_METRICS: tuple[str, ...] = ("loss", "exact_match")


@dataclass(frozen=True)
class TaskSpec:
    """What a task is: its inputs, its label and how it is scored.

    Attributes:
        name: ``"glue/sst2"``, ``"superglue/cb"``, ... or ``"file:<path>"`` for a local file.
        text_columns: the one or two text fields, in input order (``text_a``, then ``text_b``). For
            known tasks these are the canonical (Hugging Face hub) names, e.g. ``("sentence1",
            "sentence2")``; the loaders map each source's own column names onto them.
        label_column: the label field (canonical name ``"label"`` for known tasks).
        kind: ``"classification"``, ``"regression"`` or ``"causal_lm"`` (prompt → completion; the
            text columns are then ``("prompt", "completion")`` or ``("text",)``, and there is no label).
        labels: class labels in index order, as strings (class id ``i`` is ``labels[i]``);
            ``None`` for regression and causal-LM tasks.
        metrics: the metrics :func:`autopeft.tasks.compute_metrics` reports, by name (for a causal-LM
            task: :data:`LM_METRICS` that evaluation computes).
        main_metric: the search score; one of ``metrics``; higher is better, except ``loss`` (a
            causal-LM task's validation loss, lower is better; the search's objective ``loss`` says so).
    """

    name: str
    text_columns: tuple[str, ...]
    label_column: str
    kind: TaskKind
    labels: tuple[str, ...] | None
    metrics: tuple[str, ...]
    main_metric: str

    def __post_init__(self) -> None:
        if len(self.text_columns) not in (1, 2):
            raise ValueError(f"TaskSpec {self.name!r}: text_columns must hold 1 or 2 names")
        if self.kind not in TASK_KINDS:
            raise ValueError(f"TaskSpec {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "classification" and (self.labels is None or len(self.labels) < 1):
            raise ValueError(f"TaskSpec {self.name!r}: a classification task needs labels")
        if self.kind != "classification" and self.labels is not None:
            raise ValueError(f"TaskSpec {self.name!r}: a {self.kind} task has no labels")
        if (self.kind == "causal_lm") != all(m in LM_METRICS for m in self.metrics):
            raise ValueError(f"TaskSpec {self.name!r}: a causal-LM task has exactly the metrics {LM_METRICS}")
        unknown = [m for m in self.metrics if m not in METRIC_NAMES]
        if unknown:
            raise ValueError(f"TaskSpec {self.name!r}: unknown metrics {unknown}; known: {METRIC_NAMES}")
        if self.main_metric not in self.metrics:
            raise ValueError(f"TaskSpec {self.name!r}: main_metric {self.main_metric!r} not in metrics")

    @property
    def num_labels(self) -> int | None:
        """Size of the model's task head: the number of classes, 1 for regression, None for a causal-LM
        task (its model keeps its own, frozen, language-modelling head)."""
        if self.kind == "causal_lm":
            return None
        return 1 if self.labels is None else len(self.labels)

    @property
    def is_lm(self) -> bool:
        """Whether this is a causal-LM (prompt → completion) task."""
        return self.kind == "causal_lm"


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a task: ``n`` examples as parallel columns.

    Attributes:
        text_a: the first text of each example, length ``n``.
        text_b: the second text of each example (sentence-pair tasks), length ``n``, or ``None``.
        labels: shape ``(n,)``; int64 class ids for classification, float32 scores for regression,
            float32 zeros for a causal-LM task (its targets are the texts: ``text_a`` the prompts, ``""``
            for a plain-``text`` file, and ``text_b`` the completions). Stored as a read-only copy so
            that the split stays immutable.
    """

    text_a: tuple[str, ...]
    text_b: tuple[str, ...] | None
    labels: np.ndarray

    def __post_init__(self) -> None:
        labels = np.array(self.labels, copy=True)
        if labels.ndim != 1:
            raise ValueError(f"Split labels must have shape (n,), got {labels.shape}")
        if len(self.text_a) != len(labels) or (self.text_b is not None and len(self.text_b) != len(labels)):
            raise ValueError(
                f"Split columns differ in length: text_a {len(self.text_a)}, "
                f"text_b {None if self.text_b is None else len(self.text_b)}, labels {len(labels)}"
            )
        labels.setflags(write=False)
        object.__setattr__(self, "text_a", tuple(self.text_a))
        object.__setattr__(self, "text_b", None if self.text_b is None else tuple(self.text_b))
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (
            self.text_a == other.text_a
            and self.text_b == other.text_b
            and self.labels.dtype == other.labels.dtype
            and np.array_equal(self.labels, other.labels)
        )

    __hash__ = None  # type: ignore[assignment]  # holds an array: equal splits need not be identical

    def subset(self, indices: Sequence[int] | np.ndarray) -> Split:
        """The examples at ``indices`` (shape ``(k,)``, ints in ``[0, n)``), in that order."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset indices out of range for a split of {len(self)} examples")
        return Split(
            text_a=tuple(self.text_a[i] for i in idx),
            text_b=None if self.text_b is None else tuple(self.text_b[i] for i in idx),
            labels=self.labels[idx],
        )


@dataclass(frozen=True)
class TaskData:
    """A task's specification and its labelled splits.

    Attributes:
        spec: the task.
        train: the training split (searches carve their own validation slice from it).
        dev: the reporting split (GLUE dev / SuperGLUE val); ``None`` for a single local file.
    """

    spec: TaskSpec
    train: Split
    dev: Split | None
