"""Text files and strings to packed encoder inputs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from kerasbert.tokenizers import InputPacker


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
    texts: Sequence[str] | tf.Tensor,
    sequence_length: int,
    input_names: Sequence[str],
) -> dict[str, tf.Tensor]:
    """Tokenizes and packs single-segment texts as ``[CLS] text [SEP] [PAD]...``.

    Usable eagerly and inside ``tf.data.Dataset.map``.

    Args:
        tokenizer: a kerasbert tokenizer (``tokenize``, ``cls_id``, ...).
        texts: ``[batch]`` strings.
        sequence_length: the packed length (longer texts are truncated).
        input_names: the encoder's ``input_names``; ``segment_ids`` is
            dropped when the encoder has no segment embeddings.

    Returns:
        ``{name: int32 [batch, sequence_length]}`` for each of ``input_names``.
    """
    packer = InputPacker.for_tokenizer(tokenizer, sequence_length)
    packed = packer(tokenizer.tokenize(texts))
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
