"""On-the-fly masked-LM corruption with TensorFlow ops (RoBERTa dynamic masking).

Works on static-shaped batches, so it runs inside ``tf.data`` (or under XLA):
each row gets ``min(max_predictions, max(1, round(candidates * prob)))``
uniformly chosen non-special positions (sorted, zero-padded), corrupted 80%
``[MASK]`` / 10% random non-special token / 10% kept, exactly like the builder's
static masks. Randomness is stateless: ``seed`` plus the batch index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class DynamicMasking:
    """Settings of on-the-fly masking.

    Attributes:
        mask_id: id of ``[MASK]``.
        special_ids: ids never chosen nor drawn as replacements (``[CLS]``,
            ``[SEP]``, ``[PAD]``, ``[UNK]``, ``[MASK]``...).
        vocabulary_size: replacements are drawn from ``[0, vocabulary_size)``
            minus ``special_ids``.
        max_predictions: fixed length of the ``masked_lm_*`` outputs.
        masked_lm_prob: fraction of candidate tokens to predict.
        seed: base of the stateless random seeds.
    """

    mask_id: int
    special_ids: Sequence[int]
    vocabulary_size: int
    max_predictions: int = 20
    masked_lm_prob: float = 0.15
    seed: int = 0


def mask_batch(
    features: dict[str, tf.Tensor], masking: DynamicMasking, step: tf.Tensor
) -> dict[str, tf.Tensor]:
    """Adds ``masked_lm_positions/ids/weights`` and corrupts ``input_ids``.

    Args:
        features: int32 ``input_ids``, ``input_mask`` ``[batch, seq]`` (others
            pass through).
        masking: the settings.
        step: int64 scalar batch index, mixed into the seed.

    Returns:
        The features with ``input_ids`` corrupted and int32
        ``masked_lm_positions``, ``masked_lm_ids`` and float32
        ``masked_lm_weights`` of shape ``[batch, max_predictions]``.
    """
    ids = features["input_ids"]
    batch, seq = ids.shape
    preds = masking.max_predictions
    if preds > seq:
        raise ValueError(f"max_predictions {preds} exceeds the sequence length {seq}")
    seed = tf.stack([tf.constant(masking.seed, tf.int64), tf.cast(step, tf.int64)])
    seeds = tf.random.experimental.stateless_split(seed, 4)
    special = tf.constant(sorted(set(masking.special_ids)), tf.int32)
    is_special = tf.reduce_any(ids[..., None] == special, axis=-1)
    candidate = tf.logical_and(features["input_mask"] > 0, ~is_special)
    count = tf.reduce_sum(tf.cast(candidate, tf.float32), axis=-1)
    budget = tf.minimum(
        preds,
        tf.maximum(1, tf.cast(tf.round(count * masking.masked_lm_prob), tf.int32)),
    )
    scores = tf.random.stateless_uniform([batch, seq], seeds[0])
    scores = tf.where(candidate, scores, -1.0)
    top = tf.math.top_k(scores, k=preds, sorted=True)
    chosen = tf.logical_and(tf.range(preds)[None, :] < budget[:, None], top.values >= 0)
    # Sort the chosen positions ascending; unchosen slots sort last (as seq).
    positions = tf.sort(tf.where(chosen, top.indices, seq), axis=-1)
    weights = tf.cast(positions < seq, tf.float32)
    positions = tf.where(positions < seq, positions, 0)
    labels = tf.gather(ids, positions, batch_dims=1) * tf.cast(weights, tf.int32)

    draw = tf.random.stateless_uniform([batch, preds], seeds[1])
    pool = tf.boolean_mask(
        tf.range(masking.vocabulary_size, dtype=tf.int32),
        ~tf.reduce_any(
            tf.range(masking.vocabulary_size)[:, None] == special[None, :], axis=-1
        ),
    )
    random_ids = tf.gather(
        pool,
        tf.random.stateless_uniform(
            [batch, preds], seeds[2], maxval=tf.size(pool), dtype=tf.int32
        ),
    )
    replacement = tf.where(
        draw < 0.8, masking.mask_id, tf.where(draw < 0.9, labels, random_ids)
    )
    real = weights > 0
    rows = tf.broadcast_to(tf.range(batch)[:, None], [batch, preds])
    indices = tf.stack(
        [tf.boolean_mask(rows, real), tf.boolean_mask(positions, real)], -1
    )
    corrupted = tf.tensor_scatter_nd_update(
        ids, indices, tf.boolean_mask(replacement, real)
    )
    return {
        **features,
        "input_ids": corrupted,
        "masked_lm_positions": positions,
        "masked_lm_ids": labels,
        "masked_lm_weights": weights,
    }
