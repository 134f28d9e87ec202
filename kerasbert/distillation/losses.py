"""DistilBERT's distillation losses (all return float32 scalars).

Shapes: ``B`` batch, ``S`` sequence, ``P`` masked positions, ``V``
vocabulary, ``H`` hidden size. Every loss is a weighted mean, so it does not
depend on padding or on how many positions a batch happens to mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from kerasbert.pretraining.cross_entropy import sparse_cross_entropy_with_accuracy


def _weighted_mean(values: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    weights = tf.cast(weights, tf.float32)
    return tf.reduce_sum(values * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def soft_target_loss(
    student_logits: tf.Tensor,
    teacher_logits: tf.Tensor,
    weights: tf.Tensor,
    temperature: float = 2.0,
) -> tf.Tensor:
    """KL(teacher/T || student/T) * T², averaged over the weighted positions.

    The T² factor keeps the gradient scale independent of T (Hinton et al.
    2015). Equal to the soft-target cross-entropy minus the teacher's entropy,
    which does not depend on the student.

    Args:
        student_logits, teacher_logits: ``[B, P, V]``.
        weights: ``[B, P]``, 1 for real masked positions, 0 for padding.
    """
    student_log_probs = tf.nn.log_softmax(
        tf.cast(student_logits, tf.float32) / temperature
    )
    teacher_log_probs = tf.nn.log_softmax(
        tf.cast(teacher_logits, tf.float32) / temperature
    )
    kl = tf.reduce_sum(
        tf.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1
    )
    return _weighted_mean(kl, weights) * temperature**2


def masked_lm_loss(
    logits: tf.Tensor, labels: tf.Tensor, weights: tf.Tensor
) -> tf.Tensor:
    """Cross-entropy of ``logits`` ``[B, P, V]`` against ids ``[B, P]``."""
    losses, _ = sparse_cross_entropy_with_accuracy(logits, labels)
    return _weighted_mean(losses, weights)


def cosine_loss(
    student_hidden: tf.Tensor, teacher_hidden: tf.Tensor, input_mask: tf.Tensor
) -> tf.Tensor:
    """Mean of ``1 - cos(student, teacher)`` over real tokens.

    Aligns the directions of the two last hidden states token by token
    (DistilBERT's ``L_cos``).

    Args:
        student_hidden, teacher_hidden: ``[B, S, H]``.
        input_mask: ``[B, S]``.
    """
    student_hidden = tf.math.l2_normalize(tf.cast(student_hidden, tf.float32), -1)
    teacher_hidden = tf.math.l2_normalize(tf.cast(teacher_hidden, tf.float32), -1)
    cosine = tf.reduce_sum(student_hidden * teacher_hidden, axis=-1)
    return _weighted_mean(1.0 - cosine, input_mask)


def hidden_mse_loss(
    student_states: Sequence[tf.Tensor],
    teacher_states: Sequence[tf.Tensor],
    input_mask: tf.Tensor,
) -> tf.Tensor:
    """Mean squared error of paired hidden states, averaged over pairs.

    The signal for teachers without an MLM head: each student block is pulled
    towards the teacher block it was copied from.

    Args:
        student_states, teacher_states: equally long lists of ``[B, S, H]``.
        input_mask: ``[B, S]``; padding tokens are ignored.
    """
    if len(student_states) != len(teacher_states) or not student_states:
        raise ValueError(
            "hidden_mse_loss needs equally many (>0) student and teacher states, "
            f"got {len(student_states)} and {len(teacher_states)}."
        )
    per_pair = [
        _weighted_mean(
            tf.reduce_mean(
                tf.square(tf.cast(s, tf.float32) - tf.cast(t, tf.float32)), axis=-1
            ),
            input_mask,
        )
        for s, t in zip(student_states, teacher_states, strict=True)
    ]
    return tf.add_n(per_pair) / float(len(per_pair))
