"""tf.data pipeline of Mirror-BERT view pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from kerasbert.contrastive.augment import random_span_mask
from kerasbert.data.texts import encoder_inputs, text_batches


def mirror_dataset(
    texts: Sequence[str],
    tokenizer: Any,
    input_names: Sequence[str],
    sequence_length: int = 50,
    batch_size: int = 200,
    span_length: int = 5,
    shuffle: bool = True,
    seed: int = 0,
) -> tf.data.Dataset:
    """Self-duplicated batches: ``{"view_a": inputs, "view_b": inputs}``.

    Both views pack the same ``batch_size`` strings (int32
    ``[batch_size, sequence_length]`` per input name); ``view_b`` has one
    random span of ``span_length`` tokens per row replaced by ``[MASK]``
    (``random_span_mask``; 0 disables it). Duplicate strings inside a batch
    would be false negatives, so ``texts`` should be de-duplicated (see
    ``unique_texts``). Incomplete last batches are dropped.

    Raises:
        ValueError: when there are fewer texts than ``batch_size``.
    """
    dataset = text_batches(texts, batch_size, shuffle, seed)

    def views(batch: tf.Tensor) -> dict[str, dict[str, tf.Tensor]]:
        view_a = encoder_inputs(tokenizer, batch, sequence_length, input_names)
        view_b = dict(view_a)
        view_b["input_ids"] = random_span_mask(
            view_a["input_ids"],
            view_a["input_mask"],
            tokenizer.mask_id,
            span_length,
            seed=seed,
        )
        return {"view_a": view_a, "view_b": view_b}

    return dataset.map(views, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def unique_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` without repeats, in first-seen order."""
    return list(dict.fromkeys(texts))
