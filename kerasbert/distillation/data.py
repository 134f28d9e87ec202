"""tf.data pipeline of masked (or plain) packed sentences for distillation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from kerasbert.data.dynamic_masking import DynamicMasking, mask_batch
from kerasbert.data.texts import encoder_inputs, text_batches

INPUT_NAMES = ("input_ids", "input_mask")


def distillation_dataset(
    texts: Sequence[str],
    tokenizer: Any,
    sequence_length: int = 128,
    batch_size: int = 32,
    masked_lm: bool = True,
    masked_lm_prob: float = 0.15,
    max_predictions: int = 20,
    shuffle: bool = True,
    epochs: int | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of single-segment inputs, dynamically masked when ``masked_lm``.

    Each element is a dict of int32 ``[batch_size, sequence_length]``
    ``input_ids`` and ``input_mask`` (teachers with segment embeddings get
    segment 0 from ``Distiller``) and, with ``masked_lm``, the ``mask_batch``
    fields ``masked_lm_positions/ids/weights`` ``[batch_size, P]``
    (``kerasbert.data.mask_batch``: stateless, seeded by ``seed`` and the
    batch index). The texts are repeated ``epochs`` times (``None``: forever),
    reshuffled and re-masked on every pass. Incomplete last batches are
    dropped, so every step sees ``batch_size`` sentences.

    Raises:
        ValueError: when there are fewer texts than ``batch_size``.
    """
    dataset = text_batches(texts, batch_size, shuffle, seed)
    masking = DynamicMasking(
        mask_id=tokenizer.mask_id,
        special_ids=special_ids(tokenizer),
        vocabulary_size=tokenizer.vocabulary_size,
        max_predictions=min(max_predictions, sequence_length),
        masked_lm_prob=masked_lm_prob,
        seed=seed,
    )

    def prepare(step: tf.Tensor, batch: tf.Tensor) -> dict[str, tf.Tensor]:
        packed = encoder_inputs(tokenizer, batch, sequence_length, INPUT_NAMES)
        # Static shapes (batches are complete): mask_batch needs them.
        packed = {
            name: tf.ensure_shape(value, [batch_size, sequence_length])
            for name, value in packed.items()
        }
        if not masked_lm:
            return packed
        # Fresh masks on every pass: the step counts batches across epochs.
        return mask_batch(packed, masking, step)

    return (
        dataset.repeat(epochs)
        .enumerate()
        .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )


def special_ids(tokenizer: Any) -> list[int]:
    """Ids masking must never choose or draw: [CLS] [SEP] [PAD] [UNK] [MASK]."""
    return sorted(
        {
            tokenizer.cls_id,
            tokenizer.sep_id,
            tokenizer.pad_id,
            tokenizer.unk_id,
            tokenizer.mask_id,
        }
    )
