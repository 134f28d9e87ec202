"""In-graph token corruption for ELECTRA: scatter at positions, mask, sample.

All functions are pure TF ops on static-shaped int32/float32 tensors (no
string ops, stateless randomness), so they compile with XLA and run on TPUs.
"""

from __future__ import annotations

import tensorflow as tf

from kerasbert.layers.dropout import RANDOM_ALGORITHM


def scatter_at_positions(
    tokens: tf.Tensor, positions: tf.Tensor, values: tf.Tensor, weights: tf.Tensor
) -> tf.Tensor:
    """Writes ``values`` into ``tokens`` at ``positions`` where ``weights > 0``.

    Args:
        tokens: int32 ``[batch, seq]``.
        positions: int ``[batch, P]`` indices into ``seq``.
        values: int ``[batch, P]`` ids to write.
        weights: ``[batch, P]``; slots with weight 0 (padding) write nothing.

    Returns:
        int32 ``[batch, seq]``.
    """
    length = tf.shape(tokens)[1]
    active = tf.cast(tf.cast(weights, tf.float32) > 0.0, tf.int32)
    hits = tf.one_hot(tf.cast(positions, tf.int32), length, dtype=tf.int32)
    hits *= active[:, :, None]  # [batch, P, seq]
    written = tf.reduce_sum(hits * tf.cast(values, tf.int32)[:, :, None], axis=1)
    return tf.where(tf.reduce_max(hits, axis=1) > 0, written, tf.cast(tokens, tf.int32))


def replace_with_mask(
    tokens: tf.Tensor,
    positions: tf.Tensor,
    weights: tf.Tensor,
    mask_token_id: int,
    mask_rate: float,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Replaces each selected token by ``[MASK]`` with probability ``mask_rate``.

    The other selected tokens stay as they are (ELECTRA: 85% masked, 15%
    kept, no random replacement). ``seed`` is an int32 ``[2]`` stateless seed.
    """
    draw = tf.random.stateless_uniform(
        tf.shape(positions), seed=seed, alg=RANDOM_ALGORITHM
    )
    masked = tf.where(
        draw < mask_rate,
        mask_token_id,
        tf.cast(tf.gather(tokens, positions, batch_dims=1), tf.int32),
    )
    return scatter_at_positions(tokens, positions, masked, weights)


def gumbel_max_sample(logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """One sample per row of ``softmax(logits)`` (temperature 1), no gradient.

    Args:
        logits: float ``[..., vocab]``.
        seed: int32 ``[2]`` stateless seed.

    Returns:
        int32 ``[...]`` sampled ids.
    """
    logits = tf.stop_gradient(tf.cast(logits, tf.float32))
    uniform = tf.random.stateless_uniform(
        tf.shape(logits), seed=seed, minval=1e-9, maxval=1.0, alg=RANDOM_ALGORITHM
    )
    gumbel = -tf.math.log(-tf.math.log(uniform))
    return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)
