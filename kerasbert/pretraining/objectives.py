"""Loss and metric statistics that add up exactly across replicas.

A pretraining step on one replica produces *sums* (e.g. the summed
cross-entropy of its masked tokens and the summed token weights). Sums from
all replicas add up to the sums of the global batch, so

* a loss ``total / count`` is made exact under any ``tf.distribute`` strategy
  by dividing each replica's ``total`` by the *global* ``count`` (known
  before the forward pass, from the features alone) and summing gradients;
* metrics are computed on the host from the reduced sums by ``summarize``.

Naming convention of the sums dict: ``"<metric>:num"``/``"<metric>:den"`` is
the ratio ``num/den``; ``"<metric>:pos"``/``"<metric>:neg"`` are score
histograms of positives/negatives over ``[0, 1]`` and yield a ROC AUC.
"""

from __future__ import annotations

from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from kerasbert.pretraining.cross_entropy import sparse_cross_entropy_with_accuracy

AUC_BINS = 200


class Pretrainer(Protocol):
    """What ``kerasbert.training.Trainer`` needs from a pretraining model.

    Attributes:
        objective_weights: ``{objective: weight}``; the loss is
            ``sum(weight * total / global_count)`` over objectives.
        fine_tuning_encoder: the ``Encoder`` that fine-tuning starts from,
            which the trainer saves as ``encoder.keras`` (BERT's encoder,
            ELECTRA's discriminator).
    """

    objective_weights: dict[str, float]
    fine_tuning_encoder: keras.Model

    def objective_counts(self, features: dict) -> dict[str, tf.Tensor]:
        """float32 scalar normalizer of each objective on this replica's batch.

        Depends on the features only, so the trainer can all-reduce it before
        the (possibly XLA-compiled) forward pass.
        """

    def compute_statistics(
        self, features: dict, training: bool, seed: tf.Tensor
    ) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        """Runs the model on a batch.

        Args:
            features: dict of int32/float32 ``[batch, ...]`` tensors.
            training: enables dropout.
            seed: int32 ``[2]`` seed for stateless sampling.

        Returns:
            ``(totals, sums)``: float32 scalar loss total per objective (to be
            divided by the global count), and float32 summable statistics.
        """

    def summarize_statistics(self, sums: dict[str, np.ndarray]) -> dict[str, float]:
        """Metrics (losses, accuracies, AUCs) from sums reduced over steps."""


class SummedStatistics:
    """Pretrainer mixin: ``summarize_statistics`` by this module's convention.

    For pretrainers whose ``compute_statistics`` names its sums as described
    at the top of this module.
    """

    def summarize_statistics(self, sums: dict[str, np.ndarray]) -> dict[str, float]:
        return summarize(sums)


def masked_lm_statistics(
    logits: tf.Tensor, labels: tf.Tensor, weights: tf.Tensor, prefix: str = "mlm"
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Weighted sparse cross-entropy and accuracy of masked-token predictions.

    Args:
        logits: float32 ``[batch, predictions, vocab]``.
        labels: int ``[batch, predictions]`` original token ids.
        weights: float ``[batch, predictions]``; 1 for real predictions, 0 for
            padding slots.

    Returns:
        ``(loss_total, sums)`` where ``loss_total = sum(weights * CE)``.
    """
    weights = tf.cast(weights, tf.float32)
    cross_entropy, correct = sparse_cross_entropy_with_accuracy(logits, labels)
    total = tf.reduce_sum(cross_entropy * weights)
    count = tf.reduce_sum(weights)
    return total, {
        f"{prefix}_loss:num": total,
        f"{prefix}_loss:den": count,
        f"{prefix}_accuracy:num": tf.reduce_sum(correct * weights),
        f"{prefix}_accuracy:den": count,
    }


def classification_statistics(
    logits: tf.Tensor, labels: tf.Tensor, prefix: str
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Summed softmax cross-entropy and accuracy of ``[batch, classes]`` logits."""
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=tf.cast(logits, tf.float32)
    )
    total = tf.reduce_sum(cross_entropy)
    count = tf.cast(tf.size(labels), tf.float32)
    correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
    return total, {
        f"{prefix}_loss:num": total,
        f"{prefix}_loss:den": count,
        f"{prefix}_accuracy:num": tf.reduce_sum(tf.cast(correct, tf.float32)),
        f"{prefix}_accuracy:den": count,
    }


def binary_statistics(
    logits: tf.Tensor, labels: tf.Tensor, weights: tf.Tensor, prefix: str
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Summed sigmoid cross-entropy, accuracy and AUC histograms.

    Args:
        logits: float ``[batch, seq]``.
        labels: ``[batch, seq]``, 1 for positives.
        weights: ``[batch, seq]``, 1 where the position counts (real tokens).
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.float32)
    weights = tf.cast(weights, tf.float32)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=labels, logits=logits
    )
    total = tf.reduce_sum(cross_entropy * weights)
    count = tf.reduce_sum(weights)
    correct = tf.cast(tf.equal(tf.cast(logits > 0.0, tf.float32), labels), tf.float32)
    bins = tf.clip_by_value(
        tf.cast(tf.sigmoid(logits) * AUC_BINS, tf.int32), 0, AUC_BINS - 1
    )
    one_hot = tf.one_hot(bins, AUC_BINS, dtype=tf.float32)
    return total, {
        f"{prefix}_loss:num": total,
        f"{prefix}_loss:den": count,
        f"{prefix}_accuracy:num": tf.reduce_sum(correct * weights),
        f"{prefix}_accuracy:den": count,
        f"{prefix}_auc:pos": tf.einsum("bs,bsk->k", labels * weights, one_hot),
        f"{prefix}_auc:neg": tf.einsum("bs,bsk->k", (1.0 - labels) * weights, one_hot),
    }


def auc_from_histograms(positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC AUC from score histograms (ties within a bin count one half).

    Returns NaN when either class is empty.
    """
    positives = np.asarray(positives, np.float64)
    negatives = np.asarray(negatives, np.float64)
    n_pos, n_neg = positives.sum(), negatives.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    negatives_below = np.cumsum(negatives) - negatives
    wins = np.sum(positives * (negatives_below + 0.5 * negatives))
    return float(wins / (n_pos * n_neg))


def summarize(sums: dict[str, np.ndarray]) -> dict[str, float]:
    """Metrics from (reduced) sums, following the naming convention above."""
    metrics = {}
    for key in sorted(sums):
        name, kind = key.rsplit(":", 1)
        if kind == "num":
            den = float(np.asarray(sums[f"{name}:den"]))
            metrics[name] = float(np.asarray(sums[key])) / den if den else float("nan")
        elif kind == "pos":
            metrics[name] = auc_from_histograms(sums[key], sums[f"{name}:neg"])
    return metrics
