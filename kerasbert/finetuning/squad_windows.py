"""SQuAD windows: overlapping (question, context chunk) inputs and their answer labels.

A SQuAD context is usually longer than the encoder's ``max_seq_length``, so each
(question, context) pair is cut into windows ``[CLS] question [SEP] chunk [SEP]``
whose context chunks overlap, exactly as Hugging Face tokenizers do with
``truncation="only_second", stride=doc_stride, return_overflowing_tokens=True``
(the ``run_qa.py --doc_stride`` setting):

* chunks hold at most ``chunk_length = max_seq_length - len(question) - 3``
  context tokens; chunk ``k`` starts at token ``k * (chunk_length - doc_stride)``,
  so consecutive chunks share ``doc_stride`` tokens, and the first chunk that
  reaches the end of the context is the last one (it may be shorter);
* a context that fits is a single window (``doc_stride`` is then irrelevant).

Unlike ``run_qa.py`` (and like Google's ``run_squad.py``) the question is first
cut to ``max_query_length`` tokens, so the chunk length never falls below
``max_seq_length - max_query_length - 3``; ``doc_stride`` must be smaller than that.

Each window records, per context token, whether it is the window where that
token has the most context on both sides (Google BERT's ``_check_is_max_context``);
decoding (``squad_decoding``) scores tokens only there, so overlapping windows
never propose the same span.

Everything here is plain Python and numpy: no TensorFlow import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Window", "answer_positions", "make_windows"]

# [CLS] question [SEP] chunk [SEP]
_NUM_SPECIAL_TOKENS = 3


@dataclass(frozen=True, eq=False)
class Window:
    """One model input cut from a (question, context) pair.

    Attributes:
        input_ids: int32 ``[max_seq_length]``, ``[CLS] q [SEP] chunk [SEP]``
            then ``pad_id``.
        input_mask: int32 ``[max_seq_length]``, 1 on real tokens, 0 on padding.
        segment_ids: int32 ``[max_seq_length]``, 0 for ``[CLS] q [SEP]`` and
            padding, 1 for the chunk and its closing ``[SEP]``.
        context_start: position in the window of the chunk's first token
            (``len(question) + 2``), also when the chunk is empty.
        token_offsets: int64 ``[max_seq_length, 2]``: for chunk positions the
            ``[start, end)`` character span of the token in the context string;
            ``(-1, -1)`` everywhere else. ``token_offsets[:, 0] >= 0`` is thus
            the context mask (HF ``sequence_ids(i) == 1``).
        max_context: bool ``[max_seq_length]``: True at chunk positions whose
            token has its maximal context in this window among all windows of
            the pair; False elsewhere. Decoding only starts answers there.
        chunk_start: index, in the whole context's token sequence, of the
            chunk's first token (``k * (chunk_length - doc_stride)``).
    """

    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    context_start: int
    token_offsets: np.ndarray
    max_context: np.ndarray
    chunk_start: int

    @property
    def context_mask(self) -> np.ndarray:
        """bool ``[max_seq_length]``: True at the context chunk's positions."""
        return self.token_offsets[:, 0] >= 0

    @property
    def num_context_tokens(self) -> int:
        """Number of context tokens in this window's chunk."""
        return int(np.count_nonzero(self.context_mask))


def _check_window_options(
    max_seq_length: int, doc_stride: int, max_query_length: int
) -> int:
    """Validates the sizes; returns the shortest possible chunk length.

    The check is static (it assumes a question of ``max_query_length`` tokens) so
    that a bad configuration fails on the first example, not on the first long
    question. Hugging Face fails the same way, only later: its Rust tokenizer
    panics ("`stride` must be strictly less than `max_len`") on the first pair
    that needs truncating with a stride of at least the chunk length.
    """
    if max_query_length < 1:
        raise ValueError(f"max_query_length must be >= 1, got {max_query_length}")
    if doc_stride < 0:
        raise ValueError(f"doc_stride must be >= 0, got {doc_stride}")
    min_chunk = max_seq_length - max_query_length - _NUM_SPECIAL_TOKENS
    if min_chunk < 1:
        raise ValueError(
            f"max_seq_length={max_seq_length} leaves no room for context after a "
            f"question of max_query_length={max_query_length} tokens and 3 special "
            "tokens; raise max_seq_length or lower max_query_length"
        )
    if doc_stride >= min_chunk:
        raise ValueError(
            f"doc_stride={doc_stride} must be smaller than the context chunk "
            f"length, which is as small as max_seq_length - max_query_length - 3 = "
            f"{min_chunk}: consecutive windows overlap by doc_stride tokens, so "
            "each new window must bring at least one new token"
        )
    return min_chunk


def _chunk_starts(num_tokens: int, chunk_length: int, doc_stride: int) -> list[int]:
    """Start token of each context chunk (HF ``Encoding.truncate`` semantics).

    Chunks are ``[start, min(start + chunk_length, num_tokens))`` for starts
    ``0, step, 2 * step, ...`` with ``step = chunk_length - doc_stride``, up to and
    including the first chunk that reaches ``num_tokens``.
    """
    if num_tokens <= chunk_length:
        return [0]
    step = chunk_length - doc_stride
    starts = [0]
    while starts[-1] + chunk_length < num_tokens:
        starts.append(starts[-1] + step)
    return starts


def _max_context_windows(
    chunk_starts: Sequence[int], chunk_lengths: Sequence[int], num_tokens: int
) -> np.ndarray:
    """For each context token, the window where it has the most context.

    Score of token ``t`` in a chunk ``[s, s + n)``:
    ``min(t - s, s + n - 1 - t) + 0.01 * n`` (Google BERT's
    ``_check_is_max_context``); ties go to the earlier window.

    Returns:
        int64 ``[num_tokens]``: the best window's index per token.
    """
    tokens = np.arange(num_tokens)[None, :]
    starts = np.asarray(chunk_starts, np.int64)[:, None]
    lengths = np.asarray(chunk_lengths, np.int64)[:, None]
    left = tokens - starts
    right = starts + lengths - 1 - tokens
    scores = np.minimum(left, right) + 0.01 * lengths
    scores = np.where((left >= 0) & (right >= 0), scores, -np.inf)
    return np.argmax(scores, axis=0)  # first maximum wins a tie


def _build_window(
    question_ids: Sequence[int],
    chunk_ids: Sequence[int],
    chunk_offsets: np.ndarray,
    chunk_is_max_context: np.ndarray,
    chunk_start: int,
    *,
    max_seq_length: int,
    cls_id: int,
    sep_id: int,
    pad_id: int,
) -> Window:
    """Packs ``[CLS] q [SEP] chunk [SEP]`` and pads it to ``max_seq_length``.

    Args:
        chunk_offsets: int64 ``[len(chunk_ids), 2]`` character spans.
        chunk_is_max_context: bool ``[len(chunk_ids)]``.
    """
    ids = [cls_id, *question_ids, sep_id, *chunk_ids, sep_id]
    length = len(ids)
    context_start = len(question_ids) + 2
    context_stop = context_start + len(chunk_ids)

    input_ids = np.full(max_seq_length, pad_id, np.int32)
    input_ids[:length] = ids
    input_mask = np.zeros(max_seq_length, np.int32)
    input_mask[:length] = 1
    segment_ids = np.zeros(max_seq_length, np.int32)
    segment_ids[context_start:length] = 1
    token_offsets = np.full((max_seq_length, 2), -1, np.int64)
    token_offsets[context_start:context_stop] = chunk_offsets
    max_context = np.zeros(max_seq_length, np.bool_)
    max_context[context_start:context_stop] = chunk_is_max_context
    return Window(
        input_ids=input_ids,
        input_mask=input_mask,
        segment_ids=segment_ids,
        context_start=context_start,
        token_offsets=token_offsets,
        max_context=max_context,
        chunk_start=chunk_start,
    )


def make_windows(
    question_ids: Sequence[int],
    context_ids: Sequence[int],
    context_offsets: Sequence[tuple[int, int]],
    *,
    max_seq_length: int,
    doc_stride: int,
    max_query_length: int,
    cls_id: int,
    sep_id: int,
    pad_id: int,
) -> list[Window]:
    """Cuts one (question, context) pair into overlapping, padded windows.

    Args:
        question_ids: the question's token ids, without special tokens; only the
            first ``max_query_length`` are kept.
        context_ids: the context's token ids, without special tokens.
        context_offsets: ``[len(context_ids)]`` pairs ``(start, end)``: each
            context token's character span in the context string (code points,
            like HF ``return_offsets_mapping``).
        max_seq_length: window length, special tokens and padding included.
        doc_stride: tokens shared by consecutive chunks (HF ``stride``), in
            ``[0, max_seq_length - max_query_length - 3)``.
        max_query_length: question tokens kept.
        cls_id, sep_id, pad_id: the special tokens' ids.

    Returns:
        At least one window; windows are ordered by chunk start. With a question
        of at most ``max_query_length`` tokens they equal HF's overflowing
        encodings (``padding="max_length"``, batched call) token for token.

    Raises:
        ValueError: on inconsistent sizes (see ``_check_window_options``) or when
            ``context_offsets`` and ``context_ids`` differ in length.
    """
    _check_window_options(max_seq_length, doc_stride, max_query_length)
    if len(context_offsets) != len(context_ids):
        raise ValueError(
            f"{len(context_ids)} context ids but {len(context_offsets)} offsets"
        )
    question_ids = list(question_ids[:max_query_length])
    offsets = np.asarray(context_offsets, np.int64).reshape(len(context_ids), 2)
    chunk_length = max_seq_length - len(question_ids) - _NUM_SPECIAL_TOKENS
    starts = _chunk_starts(len(context_ids), chunk_length, doc_stride)
    lengths = [min(chunk_length, len(context_ids) - start) for start in starts]
    best_window = _max_context_windows(starts, lengths, len(context_ids))

    windows = []
    for index, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        stop = start + length
        windows.append(
            _build_window(
                question_ids,
                context_ids[start:stop],
                offsets[start:stop],
                best_window[start:stop] == index,
                start,
                max_seq_length=max_seq_length,
                cls_id=cls_id,
                sep_id=sep_id,
                pad_id=pad_id,
            )
        )
    return windows


def answer_positions(
    window: Window, answer_start: int, answer_end: int
) -> tuple[int, int]:
    """Token span (inclusive) of the character span ``[answer_start, answer_end)``.

    The start token is the last context token starting at or before
    ``answer_start`` (so the token containing that character, or the one before
    a whitespace gap); the end token is the first context token ending at or
    after ``answer_end``. That is Hugging Face ``run_qa.py``'s labelling, except
    that run_qa's start search can run past the chunk into ``[SEP]`` and padding
    (whose offsets are ``(0, 0)``) when the answer starts in the chunk's last
    token; here it stays inside the chunk.

    Returns:
        ``(start, end)`` window positions, or ``(0, 0)`` (the ``[CLS]`` position,
        the "no answer here" label) when the span is empty or not entirely
        inside the window's context chunk.
    """
    positions = np.flatnonzero(window.context_mask)
    if positions.size == 0 or answer_end <= answer_start:
        return 0, 0
    starts = window.token_offsets[positions, 0]
    ends = window.token_offsets[positions, 1]
    if not (starts[0] <= answer_start and ends[-1] >= answer_end):
        return 0, 0
    first = np.searchsorted(starts, answer_start, side="right") - 1
    last = np.searchsorted(ends, answer_end, side="left")
    return int(positions[first]), int(positions[last])
