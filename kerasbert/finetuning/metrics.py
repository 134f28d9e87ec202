"""Classification and regression metrics for fine-tuning (NumPy only).

The definitions follow the GLUE conventions: accuracy everywhere, F1 of the
positive class for binary tasks (MRPC, QQP), Matthews correlation (CoLA) and
Pearson / Spearman correlation (STS-B). All values are fractions in [0, 1]
(correlations in [-1, 1]), not percentages. Where a metric is undefined (no
positive predictions, a constant prediction vector) it is reported as 0.0
rather than NaN, so that "best checkpoint" comparisons keep working; this is
also what scikit-learn returns by default for F1 and MCC.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasbert.evaluation.ranking import average_ranks, finite_vector, pearson


def _labels(values: Sequence[int], name: str, num_classes: int) -> np.ndarray:
    """``values`` as a 1-D int64 array, checked to lie in [0, num_classes)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got {array.dtype}.")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"{name} has class ids outside [0, {num_classes}): "
            f"min {array.min()}, max {array.max()}."
        )
    return array


def confusion_matrix(
    gold: Sequence[int], predicted: Sequence[int], num_classes: int
) -> np.ndarray:
    """``[num_classes, num_classes]`` counts; row = gold class, column = predicted."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}.")
    gold_array = _labels(gold, "gold", num_classes)
    predicted_array = _labels(predicted, "predicted", num_classes)
    if gold_array.size != predicted_array.size:
        raise ValueError(
            f"gold and predicted differ in length: {gold_array.size} != "
            f"{predicted_array.size}."
        )
    flat = gold_array * num_classes + predicted_array
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _safe_divide(numerator: np.ndarray | float, denominator: np.ndarray | float):
    """Elementwise ``numerator / denominator`` with 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    result = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def per_class_f1(matrix: np.ndarray) -> np.ndarray:
    """F1 of each class from a confusion matrix; 0 for a class never seen.

    F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall
    written so that it is defined whenever the class occurs at all.
    """
    true_positives = np.diag(matrix).astype(np.float64)
    gold_counts = matrix.sum(axis=1)
    predicted_counts = matrix.sum(axis=0)
    return _safe_divide(2 * true_positives, gold_counts + predicted_counts)


def matthews_correlation(matrix: np.ndarray) -> float:
    """Multiclass Matthews correlation coefficient (Gorodkin's R_K).

    With ``c`` correct predictions of ``s`` total, ``t_k`` gold and ``p_k``
    predicted counts of class ``k``:
    ``(c s - sum p_k t_k) / sqrt((s^2 - sum p_k^2) (s^2 - sum t_k^2))``.
    For two classes it equals the usual binary MCC. 0.0 when undefined
    (every gold or every predicted label is the same class).
    """
    matrix = matrix.astype(np.float64)
    total = matrix.sum()
    correct = np.trace(matrix)
    gold_counts = matrix.sum(axis=1)
    predicted_counts = matrix.sum(axis=0)
    numerator = correct * total - np.dot(predicted_counts, gold_counts)
    denominator = np.sqrt(
        (total**2 - np.dot(predicted_counts, predicted_counts))
        * (total**2 - np.dot(gold_counts, gold_counts))
    )
    return float(_safe_divide(numerator, denominator))


def classification_metrics(
    gold: Sequence[int], predicted: Sequence[int], num_classes: int
) -> dict[str, float]:
    """Accuracy, F1 and Matthews correlation of predicted class ids.

    Args:
        gold: gold class ids in ``[0, num_classes)``.
        predicted: predicted class ids, same length.
        num_classes: the number of classes of the task.

    Returns:
        ``accuracy``; ``f1``: for 2 classes the F1 of class 1 (the positive
        class, as GLUE reports for MRPC / QQP), otherwise the macro average of
        per-class F1 over the classes that occur in gold or predicted labels
        (scikit-learn's ``average="macro"``); ``matthews_correlation``.

    Raises:
        ValueError: empty input, length mismatch, ids out of range.
    """
    matrix = confusion_matrix(gold, predicted, num_classes)
    total = matrix.sum()
    if total == 0:
        raise ValueError("classification_metrics needs at least one example.")
    f1_per_class = per_class_f1(matrix)
    if num_classes == 2:
        f1 = f1_per_class[1]
    else:
        present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
        f1 = f1_per_class[present].mean()
    return {
        "accuracy": float(np.trace(matrix) / total),
        "f1": float(f1),
        "matthews_correlation": matthews_correlation(matrix),
    }


def pearson_correlation(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r (``evaluation.ranking.pearson``); 0.0 where undefined
    (a constant vector or a single value) instead of an error."""
    x_array, y_array = finite_vector(x, "x"), finite_vector(y, "y")
    if x_array.size == y_array.size and (
        x_array.size < 2 or np.ptp(x_array) == 0 or np.ptp(y_array) == 0
    ):
        return 0.0
    return float(np.clip(pearson(x_array, y_array), -1.0, 1.0))  # 1 + 1e-16


def regression_metrics(
    gold: Sequence[float], predicted: Sequence[float]
) -> dict[str, float]:
    """Pearson and Spearman correlation and mean squared error.

    Spearman's rho is Pearson's r of the average ranks (ties share their mean
    rank, as ``scipy.stats.spearmanr`` does). Correlations are 0.0 where
    undefined (constant gold or predictions, fewer than 2 values).

    Raises:
        ValueError: empty input, length mismatch, NaN or infinite values.
    """
    gold_array = finite_vector(gold, "gold")
    predicted_array = finite_vector(predicted, "predicted")
    if gold_array.size != predicted_array.size:
        raise ValueError(
            f"gold and predicted differ in length: {gold_array.size} != "
            f"{predicted_array.size}."
        )
    if gold_array.size == 0:
        raise ValueError("regression_metrics needs at least one example.")
    return {
        "pearson": pearson_correlation(gold_array, predicted_array),
        "spearman": pearson_correlation(
            average_ranks(gold_array), average_ranks(predicted_array)
        ),
        "mse": float(np.mean((gold_array - predicted_array) ** 2)),
    }
