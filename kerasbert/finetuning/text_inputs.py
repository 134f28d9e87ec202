"""Raw text to model inputs for each fine-tuning task, in-graph.

The same functions prepare training data (run eagerly over batches), run
inside ``TextTaskModel.call`` and inside exported SavedModels, so what a
served model sees is what it was trained on. All outputs are padded to a
fixed ``sequence_length`` S:

* texts (and pairs) -> ``[CLS] A [SEP] (B [SEP])``: ``kerasbert.data.texts``'
  ``pack_texts``, shared with the other text pipelines.
* ``pack_question_context``: ``[CLS] question [SEP] context [SEP]`` plus the
  character span of every context token (for answer text).
* ``pack_words``: pre-split words -> tokens plus the position of each word's
  first piece (where its tag is read).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from kerasbert.data.texts import Features
from kerasbert.tokenizers import InputPacker


def _column(rows: tf.Tensor, value: Any, dtype: tf.DType) -> tf.RaggedTensor:
    """A ragged ``[rows, (1)]`` tensor filled with ``value``."""
    return tf.RaggedTensor.from_row_lengths(
        tf.fill([rows], tf.cast(value, dtype)), tf.ones([rows], tf.int64)
    )


def _dense(ragged: tf.RaggedTensor, value: Any, length: int) -> tf.Tensor:
    return ragged.to_tensor(tf.cast(value, ragged.dtype), shape=[None, length])


def pack_question_context(
    tokenizer: Any,
    questions: tf.Tensor,
    contexts: tf.Tensor,
    sequence_length: int,
    max_query_length: int,
) -> tuple[Features, tf.Tensor]:
    """One window per pair: the question, then as much context as fits.

    The question keeps at most ``max_query_length`` tokens; the context fills
    the rest (the first window ``squad_windows.make_windows`` would make).
    Segment ids are 0 for ``[CLS] question [SEP]``, 1 for ``context [SEP]``.

    Args:
        questions, contexts: string ``[B]``.

    Returns:
        ``(features, offsets)``: int32 features ``[B, S]`` and int64
        ``offsets [B, S, 2]``, the character span ``[start, end)`` in the
        context of each context token, ``(-1, -1)`` elsewhere.
    """
    question = tokenizer.tokenize(questions)[:, :max_query_length]
    context, starts, ends = tokenizer.tokenize_with_offsets(contexts)
    budget = sequence_length - 3 - question.row_lengths()
    keep = tf.ragged.range(context.row_lengths()) < budget[:, None]
    context = tf.ragged.boolean_mask(context, keep)
    starts = tf.ragged.boolean_mask(starts, keep)
    ends = tf.ragged.boolean_mask(ends, keep)
    rows = question.nrows()
    ids_dtype = context.dtype

    def column(value):
        return _column(rows, value, ids_dtype)

    ids = tf.concat(
        [
            column(tokenizer.cls_id),
            tf.cast(question, ids_dtype),
            column(tokenizer.sep_id),
            context,
            column(tokenizer.sep_id),
        ],
        axis=1,
    )
    first = tf.concat([column(0), tf.zeros_like(question, ids_dtype), column(0)], 1)
    second = tf.concat([tf.ones_like(context), column(1)], axis=1)
    segments = tf.concat([first, second], axis=1)
    features = {
        "input_ids": tf.cast(_dense(ids, tokenizer.pad_id, sequence_length), tf.int32),
        "input_mask": tf.cast(_dense(tf.ones_like(ids), 0, sequence_length), tf.int32),
        "segment_ids": tf.cast(_dense(segments, 0, sequence_length), tf.int32),
    }

    def span(values: tf.RaggedTensor) -> tf.Tensor:
        none = _column(rows, -1, tf.int64)
        question_part = tf.ones_like(question, tf.int64) * -1
        parts = [none, question_part, none, tf.cast(values, tf.int64), none]
        return _dense(tf.concat(parts, axis=1), -1, sequence_length)

    offsets = tf.stack([span(starts), span(ends)], axis=-1)
    return features, offsets


def pack_words(
    tokenizer: Any, words: tf.RaggedTensor, sequence_length: int
) -> tuple[Features, tf.Tensor]:
    """Pre-split words ``[B, (W)]`` -> features and first-piece positions.

    Each word is tokenized on its own (as Hugging Face does for
    ``is_split_into_words=True``), the pieces are packed as one segment and
    truncated to ``S - 2``.

    Returns:
        ``(features, word_positions)``: int32 features ``[B, S]`` and int32
        ``word_positions [B, S - 2]``: the position of word w's first piece,
        or -1 for words that were truncated away, that have no pieces (only
        characters BERT's cleaning drops), or that do not exist.
    """
    pieces = words.with_flat_values(tokenizer.tokenize(words.flat_values))
    counts = pieces.row_lengths(axis=2)  # ragged [B, (W)]
    dense_counts = counts.to_tensor()
    first = tf.math.cumsum(dense_counts, axis=1) - dense_counts + 1  # after [CLS]
    capacity = sequence_length - 2
    found = (dense_counts > 0) & (first <= capacity)
    positions = tf.RaggedTensor.from_tensor(
        tf.where(found, first, tf.constant(-1, first.dtype)),
        lengths=counts.row_lengths(),
    )
    positions = _dense(positions[:, :capacity], -1, capacity)
    packer = InputPacker.for_tokenizer(tokenizer, sequence_length)
    features = packer(pieces.merge_dims(1, 2))
    features = {name: tf.cast(value, tf.int32) for name, value in features.items()}
    return features, tf.cast(positions, tf.int32)


def split_words(sentences: tf.Tensor) -> tf.RaggedTensor:
    """Whitespace-split words of raw sentences ``[B]`` -> ``[B, (W)]``."""
    return tf.strings.split(sentences)
