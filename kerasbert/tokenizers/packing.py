"""Packs token ids into fixed-length BERT model inputs, in-graph."""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def longest_first_lengths(
    first: tf.Tensor, second: tf.Tensor, budget: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-row kept lengths of a segment pair under "longest first" truncation.

    The closed form of what Hugging Face tokenizers do for
    ``truncation=True`` on pairs: when the pair is over ``budget``, the
    shorter segment keeps its length if it fits in half the budget and the
    longer one gets the rest; otherwise both get half (the longer one, or the
    second on a tie, gets the odd token). Vectorized: no loop over tokens.

    Args:
        first, second: int64 ``[batch]`` lengths.
        budget: tokens available for both segments together.

    Returns:
        ``(first_kept, second_kept)``, int64 ``[batch]``.
    """
    over = first + second > budget
    swap = first > second
    short = tf.minimum(first, second)
    half_floor = tf.constant(budget // 2, tf.int64)
    half_ceil = tf.constant(budget - budget // 2, tf.int64)
    fits_in_half = short <= half_floor
    short_kept = tf.where(fits_in_half, short, half_floor)
    long_kept = tf.where(fits_in_half, budget - short, half_ceil)
    first_kept = tf.where(swap, long_kept, short_kept)
    second_kept = tf.where(swap, short_kept, long_kept)
    return tf.where(over, first_kept, first), tf.where(over, second_kept, second)


def as_ragged_ids(ids: Any, name: str) -> tf.RaggedTensor:
    """``ids`` as an int32 ragged ``[batch, (tokens)]`` tensor.

    A dense rank-2 tensor counts as rows with all their entries.

    Raises:
        TypeError: non-integer ids.
        ValueError: anything but a batch of rows (rank 2).
    """
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.convert_to_tensor(ids)
        if ids.shape.rank == 2:
            ids = tf.RaggedTensor.from_tensor(ids)
    if not ids.dtype.is_integer:
        raise TypeError(f"{name} must hold integer ids, got {ids.dtype.name}.")
    if ids.shape.rank != 2:
        raise ValueError(
            f"{name} must be a batch of id rows [batch, (tokens)], got shape "
            f"{ids.shape}; tokenize a list of strings, not a single string."
        )
    return tf.cast(ids, tf.int32)


class InputPacker(tf.Module):
    """``[CLS] A [SEP] (B [SEP])`` + padding, as static ``[batch, sequence_length]``.

    Works eagerly, in ``tf.function``/``tf.data`` and in saved models, with plain
    TensorFlow ops (no ``RoundRobinTrim``, which older TF Serving builds lack).

    Args:
        sequence_length: the fixed output length (at least 3, or 5 for pairs).
        cls_id, sep_id, pad_id: special token ids (``InputPacker.for_tokenizer``
            reads them from a tokenizer).

    Call arguments:
        first: int ragged ``[batch, (tokens)]`` ids of segment A (a dense
            ``[batch, tokens]`` tensor is taken as full rows).
        second: optional ids of segment B, likewise.

    Returns:
        ``{"input_ids", "input_mask", "segment_ids"}``, int32
        ``[batch, sequence_length]``. Over-long input is truncated (pairs:
        longest first, see ``longest_first_lengths``).
    """

    def __init__(
        self, sequence_length: int, cls_id: int, sep_id: int, pad_id: int, name=None
    ):
        super().__init__(name=name)
        if sequence_length < 3:
            raise ValueError(
                f"sequence_length must be at least 3, got {sequence_length}."
            )
        self.sequence_length = sequence_length
        self.cls_id = cls_id
        self.sep_id = sep_id
        self.pad_id = pad_id

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, sequence_length: int) -> InputPacker:
        return cls(
            sequence_length, tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id
        )

    def _column(self, like: tf.RaggedTensor, value: int) -> tf.RaggedTensor:
        rows = like.nrows()
        return tf.RaggedTensor.from_row_lengths(
            tf.fill([rows], tf.cast(value, like.dtype)), tf.ones([rows], tf.int64)
        )

    def __call__(
        self, first: tf.RaggedTensor, second: tf.RaggedTensor | None = None
    ) -> dict[str, tf.Tensor]:
        first = as_ragged_ids(first, "first")
        if second is None:
            first = first[:, : self.sequence_length - 2]
            pieces = [
                self._column(first, self.cls_id),
                first,
                self._column(first, self.sep_id),
            ]
            segments = [0, 0, 0]
        else:
            if self.sequence_length < 5:
                raise ValueError(
                    "Pairs need sequence_length of at least 5, got "
                    f"{self.sequence_length}."
                )
            second = as_ragged_ids(second, "second")
            keep_first, keep_second = longest_first_lengths(
                first.row_lengths(), second.row_lengths(), self.sequence_length - 3
            )
            first = tf.ragged.boolean_mask(
                first, tf.ragged.range(first.row_lengths()) < keep_first[:, None]
            )
            second = tf.ragged.boolean_mask(
                second, tf.ragged.range(second.row_lengths()) < keep_second[:, None]
            )
            sep = self._column(first, self.sep_id)
            pieces = [self._column(first, self.cls_id), first, sep, second, sep]
            segments = [0, 0, 0, 1, 1]
        ids = tf.concat(pieces, axis=1)
        segment_ids = tf.concat(
            [
                tf.ones_like(piece) * segment
                for piece, segment in zip(pieces, segments, strict=True)
            ],
            axis=1,
        )
        shape = [None, self.sequence_length]
        return {
            "input_ids": ids.to_tensor(self.pad_id, shape=shape),
            "input_mask": tf.ones_like(ids).to_tensor(0, shape=shape),
            "segment_ids": segment_ids.to_tensor(0, shape=shape),
        }

    def get_config(self) -> dict[str, Any]:
        return {
            "sequence_length": self.sequence_length,
            "cls_id": self.cls_id,
            "sep_id": self.sep_id,
            "pad_id": self.pad_id,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InputPacker:
        return cls(**config)
