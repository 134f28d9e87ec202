"""Text files and strings to packed encoder inputs, in-graph.

The input side of everything that trains or runs on raw text: distillation,
Mirror-BERT, text embedding and the fine-tuning tasks. ``pack_texts`` is the
one packing of texts (and pairs) as ``[CLS] A [SEP] (B [SEP])``; the
fine-tuned ``TextTaskModel`` runs it inside its graph, so a served model sees
what it was trained on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from kerasbert.tokenizers import InputPacker

Features = dict[str, tf.Tensor]


def read_lines(path: str | os.PathLike, limit: int | None = None) -> list[str]:
    """Non-empty, stripped lines of a UTF-8 text file (at most ``limit``).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when the file has no non-empty line.
    """
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line:
                lines.append(line)
                if limit is not None and len(lines) >= limit:
                    break
    if not lines:
        raise ValueError(f"{os.fspath(path)!r} has no non-empty lines.")
    return lines


def pack_texts(
    tokenizer: Any,
    packer: InputPacker,
    texts: Sequence[str] | tf.Tensor,
    pairs: Sequence[str] | tf.Tensor | None = None,
) -> Features:
    """Texts ``[B]`` (and ``[B]`` pairs) -> int32 features ``[B, S]``.

    Usable eagerly, inside ``tf.data.Dataset.map`` and inside a model's graph.

    Args:
        tokenizer: a kerasbert tokenizer (``tokenize``, ``cls_id``, ...).
        packer: packs the token ids to ``S`` (longer texts are truncated).
        texts: ``[B]`` strings, the first segments.
        pairs: ``[B]`` strings, the second segments, or None.

    Returns:
        ``input_ids``, ``input_mask``, ``segment_ids``: int32 ``[B, S]``.
    """
    segments = [tokenizer.tokenize(texts)]
    if pairs is not None:
        segments.append(tokenizer.tokenize(pairs))
    return {name: tf.cast(value, tf.int32) for name, value in packer(*segments).items()}


def encoder_inputs(
    tokenizer: Any,
    texts: Sequence[str] | tf.Tensor,
    sequence_length: int,
    input_names: Sequence[str],
) -> Features:
    """Single-segment texts packed as ``[CLS] text [SEP] [PAD]...`` for an encoder.

    Args:
        tokenizer: a kerasbert tokenizer.
        texts: ``[B]`` strings.
        sequence_length: the packed length ``S``.
        input_names: the encoder's ``input_names``; ``segment_ids`` is
            dropped when the encoder has no segment embeddings.

    Returns:
        ``{name: int32 [B, S]}`` for each of ``input_names``.
    """
    packed = pack_texts(
        tokenizer, InputPacker.for_tokenizer(tokenizer, sequence_length), texts
    )
    return {name: packed[name] for name in input_names}


def text_batches(
    texts: Sequence[str], batch_size: int, shuffle: bool, seed: int | None
) -> tf.data.Dataset:
    """Full batches of ``texts`` (rank-1 ``tf.string`` ``[batch_size]``).

    Reshuffled on every pass when ``shuffle``; the incomplete last batch is
    dropped, so every step sees ``batch_size`` texts.

    Raises:
        ValueError: when there are fewer texts than ``batch_size``.
    """
    if len(texts) < batch_size:
        raise ValueError(
            f"Need at least batch_size={batch_size} texts, got {len(texts)}."
        )
    dataset = tf.data.Dataset.from_tensor_slices(list(texts))
    if shuffle:
        dataset = dataset.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=True)
