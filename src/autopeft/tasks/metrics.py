"""Task metrics (scikit-learn / SciPy; nothing is loaded from a hub).

Metric names: ``"accuracy"``, ``"f1"``, ``"matthews"``, ``"pearson"``, ``"spearman"``; all are
"higher is better".

- ``"f1"`` is the binary F1 of class id 1 for two-class tasks (MRPC: positive class ``"1"``, the
  paraphrases; a local file: its second label in sorted order) and the macro F1 over the classes
  present in labels or predictions for more classes (CB).
- ``"matthews"`` is 0.0 when undefined (a constant prediction or a single true class), as in
  scikit-learn.
- ``"pearson"`` / ``"spearman"`` are 0.0 when undefined: when the predictions or the labels are
  constant (or there are fewer than two examples). The search needs a number for every trial, and
  a model whose output does not vary with its input carries no information about the target, so
  it gets the score of no correlation; returning NaN would make such a trial unrankable.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from autopeft.tasks.spec import TaskSpec


def compute_metrics(spec: TaskSpec, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Score predictions against labels with every metric of ``spec``.

    Args:
        spec: the task; ``spec.metrics`` names the metrics computed.
        predictions: classification: class ids, shape ``(n,)``, or per-class scores/logits, shape
            ``(n, num_labels)`` (their argmax is taken). Regression: scores, shape ``(n,)`` or
            ``(n, 1)``.
        labels: true class ids (int) or scores (float), shape ``(n,)``.

    Returns:
        ``{metric name: value}`` in the order of ``spec.metrics``; plain floats.

    Raises:
        ValueError: empty input or mismatched shapes (a programming error, not a user error).
    """
    y_true = np.asarray(labels).reshape(-1)
    y_pred = _as_predictions(spec, predictions)
    if y_true.size == 0:
        raise ValueError("compute_metrics: no examples to score")
    if y_pred.shape != y_true.shape:
        raise ValueError(
            f"compute_metrics: {y_pred.shape[0]} predictions for {y_true.shape[0]} labels "
            f"(predictions shape {np.shape(predictions)})"
        )
    if spec.kind == "classification":
        y_true = y_true.astype(np.int64)
    return {name: _metric(name, spec, y_pred, y_true) for name in spec.metrics}


def majority_score(spec: TaskSpec, train_labels: np.ndarray, eval_labels: np.ndarray) -> float:
    """The main metric of a trivial model: the floor a trained configuration must beat.

    Classification: always predict the most frequent class of ``train_labels`` (ties go to the
    lowest class id) and score that on ``eval_labels``; e.g. accuracy = the share of that class in
    ``eval_labels``, Matthews = 0.0, binary F1 = 0.0 if the majority class is 0.

    Regression: always predict the mean of ``train_labels``. A constant prediction has no
    correlation with anything, so the score is 0.0 for Pearson / Spearman (see the module notes).

    Args:
        spec: the task.
        train_labels: shape ``(n_train,)``, the labels the trivial model "learns" from.
        eval_labels: shape ``(n_eval,)``, the labels it is scored on.
    """
    train = np.asarray(train_labels).reshape(-1)
    if train.size == 0:
        raise ValueError("majority_score: no training labels")
    n_eval = np.asarray(eval_labels).reshape(-1).size
    if spec.kind == "classification":
        counts = np.bincount(train.astype(np.int64), minlength=spec.num_labels)
        constant = np.full(n_eval, int(np.argmax(counts)), dtype=np.int64)
    else:
        constant = np.full(n_eval, float(np.mean(train)), dtype=np.float64)
    return compute_metrics(spec, constant, eval_labels)[spec.main_metric]


def constant_score(spec: TaskSpec, eval_labels: np.ndarray) -> float:
    """The best main metric any constant prediction reaches on ``eval_labels``: the level of a model
    that has not started to learn (it predicts one class whatever the input). Higher than
    :func:`majority_score` when another class scores better (binary F1: always predicting class 1).

    Classification: the maximum over the classes c of the score of predicting c for every example.
    Regression: 0.0 (a constant has no correlation with anything).

    Args:
        spec: the task.
        eval_labels: shape ``(n,)``, ``n >= 1``.
    """
    labels = np.asarray(eval_labels).reshape(-1)
    if labels.size == 0:
        raise ValueError("constant_score: no labels")
    if spec.kind != "classification":
        return 0.0
    return max(
        compute_metrics(spec, np.full(labels.size, c, dtype=np.int64), labels)[spec.main_metric]
        for c in range(spec.num_labels)
    )


def _as_predictions(spec: TaskSpec, predictions: np.ndarray) -> np.ndarray:
    pred = np.asarray(predictions)
    if spec.kind == "classification":
        if pred.ndim == 2:
            if pred.shape[1] != spec.num_labels:
                raise ValueError(
                    f"compute_metrics: score predictions have {pred.shape[1]} columns, "
                    f"{spec.name} has {spec.num_labels} classes"
                )
            return np.argmax(pred, axis=1).astype(np.int64)
        return pred.reshape(-1).astype(np.int64)
    if pred.ndim == 2 and pred.shape[1] != 1:
        raise ValueError(f"compute_metrics: regression predictions must be (n,) or (n, 1), got {pred.shape}")
    return pred.reshape(-1).astype(np.float64)


def _metric(name: str, spec: TaskSpec, y_pred: np.ndarray, y_true: np.ndarray) -> float:
    if name == "accuracy":
        return float(accuracy_score(y_true, y_pred))
    if name == "f1":
        if spec.num_labels == 2:
            return float(f1_score(y_true, y_pred, average="binary", pos_label=1, zero_division=0))
        return float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    if name == "matthews":
        return float(matthews_corrcoef(y_true, y_pred))
    if name in ("pearson", "spearman"):
        return _correlation(name, y_pred.astype(np.float64), y_true.astype(np.float64))
    raise ValueError(f"compute_metrics: unknown metric {name!r}")


def _correlation(name: str, x: np.ndarray, y: np.ndarray) -> float:
    """Pearson or Spearman correlation; 0.0 when undefined (constant input, fewer than 2 points)."""
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    value = stats.pearsonr(x, y)[0] if name == "pearson" else stats.spearmanr(x, y)[0]
    value = float(value)
    return 0.0 if math.isnan(value) else value
