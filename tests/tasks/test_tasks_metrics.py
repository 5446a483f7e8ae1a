"""compute_metrics, majority_score and constant_score on hand-computed cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from autopeft.tasks import KNOWN_TASKS, TaskSpec, compute_metrics, constant_score, majority_score

SST2, MRPC, COLA = KNOWN_TASKS["glue/sst2"], KNOWN_TASKS["glue/mrpc"], KNOWN_TASKS["glue/cola"]
STSB, CB = KNOWN_TASKS["glue/stsb"], KNOWN_TASKS["superglue/cb"]


def _arr(values: list[float], dtype: type = np.int64) -> np.ndarray:
    return np.array(values, dtype=dtype)


def test_accuracy() -> None:
    assert compute_metrics(SST2, _arr([0, 1, 1, 0]), _arr([0, 1, 0, 0])) == {"accuracy": 0.75}


def test_mrpc_accuracy_and_binary_f1_of_class_one() -> None:
    # TP=2 FP=1 FN=1 -> precision = recall = 2/3 -> F1 = 2/3; 3 of 5 right
    result = compute_metrics(MRPC, _arr([1, 0, 0, 1, 1]), _arr([1, 1, 0, 0, 1]))
    assert list(result) == ["accuracy", "f1"]
    assert result["accuracy"] == pytest.approx(0.6)
    assert result["f1"] == pytest.approx(2 / 3)
    # positive class is "1": predicting all 0 gives F1 0 even though accuracy is 0.5
    assert compute_metrics(MRPC, _arr([0, 0, 0, 0]), _arr([1, 1, 0, 0]))["f1"] == 0.0


def test_cb_macro_f1() -> None:
    # class 0: F1 1; class 1: P 1/2 R 1 -> 2/3; class 2: 0 -> macro 5/9
    result = compute_metrics(CB, _arr([0, 1, 1, 0]), _arr([0, 1, 2, 0]))
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["f1"] == pytest.approx(5 / 9)


def test_matthews() -> None:
    # TP=1 TN=2 FP=0 FN=1 -> (1*2 - 0*1) / sqrt(1*2*2*3)
    result = compute_metrics(COLA, _arr([1, 0, 0, 0]), _arr([1, 1, 0, 0]))
    assert result == {"matthews": pytest.approx(2 / math.sqrt(12))}
    assert compute_metrics(COLA, _arr([1, 1, 1, 1]), _arr([1, 1, 0, 0]))["matthews"] == 0.0


def test_pearson_and_spearman() -> None:
    # x deviations (-3,-2,-1,6), y deviations (-1.5,-.5,.5,1.5): r = 14 / sqrt(50 * 5); ranks agree
    result = compute_metrics(STSB, _arr([1, 2, 3, 10], np.float32), _arr([1, 2, 3, 4], np.float32))
    assert list(result) == ["pearson", "spearman"]
    assert result["pearson"] == pytest.approx(14 / math.sqrt(250), rel=1e-6)
    assert result["spearman"] == pytest.approx(1.0)
    # one swapped pair of four: rho = 1 - 6 * 2 / (4 * 15) = 0.8
    result = compute_metrics(STSB, _arr([1, 2, 3, 4], np.float32), _arr([1, 3, 2, 4], np.float32))
    assert result["spearman"] == pytest.approx(0.8)
    assert result["pearson"] == pytest.approx(0.8)


def test_constant_predictions_give_zero_correlation_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compute_metrics(STSB, np.full(4, 2.5), _arr([1, 3, 2, 4], np.float32))
        assert result == {"pearson": 0.0, "spearman": 0.0}
        result = compute_metrics(STSB, _arr([1, 3, 2, 4], np.float32), np.full(4, 2.5))
        assert result == {"pearson": 0.0, "spearman": 0.0}
        assert compute_metrics(STSB, _arr([1.0], np.float32), _arr([2.0], np.float32))["spearman"] == 0.0


def test_nan_predictions_score_zero_correlation() -> None:
    result = compute_metrics(STSB, np.array([np.nan, 1.0, 2.0]), _arr([1, 2, 3], np.float32))
    assert result == {"pearson": 0.0, "spearman": 0.0}


def test_score_matrices_are_argmaxed_and_column_vectors_flattened() -> None:
    logits = np.array([[2.0, -1.0], [0.1, 0.3], [-5.0, 5.0]])
    assert compute_metrics(SST2, logits, _arr([0, 1, 0]))["accuracy"] == pytest.approx(2 / 3)
    column = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    assert compute_metrics(STSB, column, _arr([1, 2, 3], np.float32))["pearson"] == pytest.approx(1.0)


def test_values_are_plain_floats() -> None:
    for spec, preds, labels in [
        (MRPC, _arr([1, 0]), _arr([1, 1])),
        (STSB, _arr([1, 2], np.float32), _arr([2, 1], np.float32)),
        (COLA, _arr([1, 0]), _arr([1, 0])),
    ]:
        assert all(type(v) is float for v in compute_metrics(spec, preds, labels).values())


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="predictions for"):
        compute_metrics(SST2, _arr([0, 1]), _arr([0, 1, 1]))
    with pytest.raises(ValueError, match="no examples"):
        compute_metrics(SST2, _arr([]), _arr([]))
    with pytest.raises(ValueError, match="classes"):
        compute_metrics(SST2, np.zeros((2, 3)), _arr([0, 1]))
    with pytest.raises(ValueError, match=r"\(n, 1\)"):
        compute_metrics(STSB, np.zeros((2, 2)), _arr([0, 1], np.float32))


def test_local_binary_file_f1_uses_second_label() -> None:
    spec = TaskSpec("file:x.csv", ("t",), "y", "classification", ("neg", "pos"), ("accuracy", "f1"), "accuracy")
    assert compute_metrics(spec, _arr([1, 1, 0]), _arr([1, 0, 0]))["f1"] == pytest.approx(2 / 3)


def test_majority_score_classification() -> None:
    # majority of [0, 0, 1] is 0; eval has one 0 in four
    assert majority_score(SST2, _arr([0, 0, 1]), _arr([0, 1, 1, 1])) == pytest.approx(0.25)
    assert majority_score(COLA, _arr([1, 1, 0]), _arr([1, 0, 1])) == 0.0
    # MRPC main metric is accuracy: majority 1 -> share of 1s
    assert majority_score(MRPC, _arr([1, 1, 0]), _arr([1, 1, 0, 0])) == pytest.approx(0.5)
    # a tie goes to the lowest class id
    assert majority_score(CB, _arr([2, 1, 2, 1]), _arr([1, 1, 2])) == pytest.approx(2 / 3)


def test_majority_score_regression_is_zero() -> None:
    assert majority_score(STSB, _arr([1.0, 2.0, 4.0], np.float32), _arr([0.0, 5.0, 3.0], np.float32)) == 0.0


def test_majority_score_needs_training_labels() -> None:
    with pytest.raises(ValueError):
        majority_score(SST2, _arr([]), _arr([0, 1]))


def test_task_spec_num_labels_and_validation() -> None:
    assert (SST2.num_labels, CB.num_labels, STSB.num_labels) == (2, 3, 1)
    with pytest.raises(ValueError, match="main_metric"):
        TaskSpec("x", ("t",), "y", "classification", ("a", "b"), ("accuracy",), "f1")
    with pytest.raises(ValueError, match="unknown metrics"):
        TaskSpec("x", ("t",), "y", "classification", ("a", "b"), ("auc",), "auc")
    with pytest.raises(ValueError, match="needs labels"):
        TaskSpec("x", ("t",), "y", "classification", None, ("accuracy",), "accuracy")
    with pytest.raises(ValueError, match="no labels"):
        TaskSpec("x", ("t",), "y", "regression", ("a",), ("pearson",), "pearson")
    with pytest.raises(ValueError, match="1 or 2"):
        TaskSpec("x", ("a", "b", "c"), "y", "regression", None, ("pearson",), "pearson")


def test_constant_score_is_the_best_constant_prediction() -> None:
    # SST-2 accuracy: the larger class share, whichever class it is
    assert constant_score(SST2, _arr([0, 1, 1, 1])) == pytest.approx(0.75)
    assert constant_score(SST2, _arr([0, 0, 0, 1])) == pytest.approx(0.75)
    # CoLA Matthews: 0 for any constant
    assert constant_score(COLA, _arr([0, 1, 1])) == 0.0
    # binary F1 of class 1 as the main metric: all 1 on [1, 0, 0, 0] -> P 1/4, R 1, F1 0.4 (all 0: F1 0),
    # higher than the majority class's 0
    f1_main = TaskSpec("file:x.csv", ("t",), "y", "classification", ("neg", "pos"), ("accuracy", "f1"), "f1")
    assert constant_score(f1_main, _arr([1, 0, 0, 0])) == pytest.approx(0.4)
    assert majority_score(f1_main, _arr([0, 0, 1]), _arr([1, 0, 0, 0])) == 0.0
    assert constant_score(CB, _arr([0, 0, 1, 2])) == pytest.approx(0.5)
    # regression: no correlation
    assert constant_score(STSB, np.array([0.5, 3.0, 4.5])) == 0.0
    with pytest.raises(ValueError, match="no labels"):
        constant_score(SST2, _arr([]))
