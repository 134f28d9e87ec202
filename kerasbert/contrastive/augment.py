"""Mirror-BERT's input augmentation: random span masking of packed batches."""

from __future__ import annotations

import tensorflow as tf


def random_span_mask(
    input_ids: tf.Tensor,
    input_mask: tf.Tensor,
    mask_id: int,
    span_length: int = 5,
    seed: int | None = None,
) -> tf.Tensor:
    """Replaces one random span of ``span_length`` tokens per row by ``[MASK]``.

    Rows are ``[CLS] t_1 .. t_n [SEP] [PAD]..`` (as ``InputPacker`` makes
    them); only content tokens ``t_i`` are masked. The span is clipped to
    ``n - 1`` tokens so that at least one content token survives (a 3-piece
    word keeps one piece; a single-piece word is left intact), and its start
    is uniform over the positions where it fits.

    Args:
        input_ids, input_mask: int32 ``[B, S]``.
        mask_id: id of ``[MASK]``.
        span_length: k, tokens per span; 0 returns ``input_ids`` unchanged.
        seed: op seed.

    Returns:
        int32 ``[B, S]`` ids with the spans masked.
    """
    if span_length < 0:
        raise ValueError(f"span_length must be >= 0, got {span_length}.")
    input_ids = tf.cast(input_ids, tf.int32)
    if span_length == 0:
        return input_ids
    content = tf.reduce_sum(tf.cast(input_mask, tf.int32), axis=1) - 2  # n
    span = tf.clip_by_value(content - 1, 0, span_length)
    # Start uniform over 1 .. n - span + 1 (position 0 is [CLS]).
    choices = tf.maximum(content - span + 1, 1)
    offset = tf.random.uniform(tf.shape(content), seed=seed)
    start = 1 + tf.cast(offset * tf.cast(choices, tf.float32), tf.int32)
    start = tf.minimum(start, choices)  # guards against offset rounding to 1.0
    positions = tf.range(tf.shape(input_ids)[1])[None, :]
    in_span = (positions >= start[:, None]) & (positions < (start + span)[:, None])
    return tf.where(in_span, mask_id, input_ids)
