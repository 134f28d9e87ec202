"""Mapping token byte spans of preprocessed text back to original characters.

The in-graph tokenizers rewrite text before splitting it (BERT's cleaning,
accent stripping and lowercasing; ALBERT's NFKD + lowercasing), so the byte
offsets their tf-text ops report are in the *rewritten* text. Every rewrite
used is character-local: each original character becomes zero or more bytes
on its own (NFD/NFKD never compose; their canonical reordering only permutes
marks inside one character cluster, which keeps every byte count). Running
the same rewrite on each character alone therefore gives, for each character,
how many rewritten bytes it owns, and so a map from every rewritten byte to
the index of the original character it came from. The rewrite runs once per
*distinct* character of the batch, so mapping costs little more than
decoding the text to code points.

A token covering rewritten bytes ``[begin, end)`` then spans original
characters ``[map[begin], map[end - 1] + 1)``, which is how Hugging Face
``tokenizers`` turns its normalization alignments into offsets: a character
that expands (``"한"`` to three jamo) gives each piece its whole span; removed
characters (accents, zero-width spaces) belong to no token.

All offsets are in Unicode code points of the text after invalid UTF-8 was
replaced (see ``replace_invalid_utf8``), int64, using core TF ops only.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def decode_characters(pieces: tf.RaggedTensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """Code points of each piece, and each one's index in its whole string.

    Args:
        pieces: ``[n, (pieces)]`` valid UTF-8 strings whose pieces, in order,
            make up each of the ``n`` strings (empty pieces may be missing).

    Returns:
        ``code_points``: int32 ``[P, (chars)]`` for the ``P`` pieces;
        ``index``: int64 ``[C]``, for each of the ``C`` characters, its
        position in its string of ``n``.
    """
    code_points = tf.strings.unicode_decode(pieces.flat_values, "UTF-8")
    by_string = pieces.with_flat_values(code_points).merge_dims(1, 2)
    position = tf.range(tf.size(code_points.flat_values, out_type=tf.int64))
    first = tf.gather(by_string.row_starts(), by_string.value_rowids())
    return code_points, position - first


def rewritten_lengths(
    code_points: tf.Tensor, rewrite: Callable[[tf.Tensor], tf.Tensor]
) -> tf.Tensor:
    """Bytes each character takes once rewritten on its own.

    Args:
        code_points: int32 ``[C]`` characters.
        rewrite: a character-local rewrite of a ``[k]`` string tensor.

    Returns:
        int32 ``[C]`` byte lengths; ``rewrite`` runs on each distinct
        character once.
    """
    distinct, position = tf.unique(code_points)
    characters = tf.strings.unicode_encode(distinct[:, None], "UTF-8")
    return tf.gather(tf.strings.length(rewrite(characters)), position)


def utf8_lengths(code_points: tf.Tensor) -> tf.Tensor:
    """int32 UTF-8 byte length of each code point (same shape)."""
    limits = tf.constant([0x80, 0x800, 0x10000], tf.int32)
    wider = tf.cast(code_points[..., None] >= limits, tf.int32)
    return 1 + tf.reduce_sum(wider, axis=-1)


def byte_to_char_map(
    code_points: tf.RaggedTensor, index: tf.Tensor, owned: tf.Tensor
) -> tf.RaggedTensor:
    """Original character index of every byte of each rewritten piece.

    Args:
        code_points: ``[P, (chars)]`` characters of each piece
            (``decode_characters``; only its row partition is used).
        index: int64 ``[C]`` original position of each character.
        owned: int ``[C]`` bytes each character became in the rewritten
            pieces (``rewritten_lengths``, ``utf8_lengths``).

    Returns:
        int64 ``[P, (bytes + 1)]``: row ``p`` has one entry per byte of
        the rewritten piece ``p``, then one for its end: the position just past
        the piece's last character (0 for a piece without characters).
    """
    owned_per_piece = tf.math.unsorted_segment_sum(
        tf.cast(owned, tf.int64), code_points.value_rowids(), code_points.nrows()
    )
    byte_map = tf.RaggedTensor.from_row_lengths(
        tf.repeat(index, owned), owned_per_piece, validate=False
    )
    ends = tf.concat([[0], index + 1], axis=0)  # ends[k + 1]: just past char k
    piece_end = tf.where(
        code_points.row_lengths() > 0, tf.gather(ends, code_points.row_limits()), 0
    )
    return tf.concat([byte_map, piece_end[:, None]], axis=1)


def map_spans(
    byte_map: tf.RaggedTensor,
    piece: tf.Tensor,
    begin: tf.Tensor,
    end: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Byte spans of rewritten pieces to original character spans.

    Args:
        byte_map: int64 ``[P, (bytes + 1)]`` from ``byte_to_char_map``.
        piece: int ``[T]`` which piece each of ``T`` tokens lies in.
        begin: int ``[T]`` first byte of each token in its rewritten piece.
        end: int ``[T]`` one past its last byte.

    Returns:
        int64 ``[T]`` starts and ``[T]`` ends, half-open, in characters. A
        token covering no byte (``begin == end``) gets the empty span at the
        character that owns byte ``begin``. Byte indices are clipped into
        the piece, so a map that disagreed with the rewritten text could give
        wrong spans but never fail at run time.
    """
    piece = tf.cast(piece, tf.int64)
    begin = tf.cast(begin, tf.int64)
    end = tf.cast(end, tf.int64)
    row_start = tf.gather(byte_map.row_starts(), piece)
    size = tf.gather(byte_map.row_lengths(), piece) - 1  # bytes in the piece
    flat = byte_map.flat_values
    start = tf.gather(flat, row_start + tf.clip_by_value(begin, 0, size))
    stop = tf.gather(flat, row_start + tf.clip_by_value(end - 1, 0, size)) + 1
    return start, tf.where(end > begin, stop, start)
