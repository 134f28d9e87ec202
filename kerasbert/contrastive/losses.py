"""InfoNCE (NT-Xent) over the two views of a batch."""

from __future__ import annotations

import tensorflow as tf


def info_nce_loss(
    view_a: tf.Tensor, view_b: tf.Tensor, temperature: float
) -> tf.Tensor:
    """Contrastive loss pulling the two views of each string together.

    With ``z = [a; b]`` (``2B`` L2-normalised embeddings), every ``z_i`` is
    classified against the other ``2B - 1`` embeddings by
    ``cos(z_i, z_j) / temperature``; its positive is the other view of the
    same string and all ``2B - 2`` others are negatives. The loss is the
    mean cross-entropy over the ``2B`` anchors (SimCLR's NT-Xent, the
    InfoNCE Mirror-BERT uses).

    Args:
        view_a, view_b: ``[B, H]`` embeddings; row i of each is string i.
        temperature: tau; Mirror-BERT uses 0.04 for sentences, 0.2 for words.

    Returns:
        float32 scalar.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    z = tf.math.l2_normalize(
        tf.concat([tf.cast(view_a, tf.float32), tf.cast(view_b, tf.float32)], 0), -1
    )
    batch = tf.shape(view_a)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    # An embedding is never its own negative.
    logits -= tf.eye(2 * batch) * 1e9
    labels = tf.concat([tf.range(batch, 2 * batch), tf.range(batch)], axis=0)
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
