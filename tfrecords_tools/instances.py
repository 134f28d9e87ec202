"""Packing tokenized documents into training sequences (before masking).

* ``nsp`` (BERT): the reference algorithm: a per-document target length
  (``short_seq_prob`` picks a shorter one), segments accumulated up to it, a
  random A/B split at a segment boundary, B replaced 50% by a random stretch of
  another document (label 1), then the pair truncated from a random end of the
  longer side. Deviations, by design: (1) the other document comes from the
  documents of the same chunk (a bounded buffer, ~``chunk_bytes`` of text)
  rather than the whole corpus, which keeps memory flat; (2) a packed span of
  a single segment (a sentence longer than the target, e.g. a WikiText
  paragraph) is split at a random token for a true-next pair, where the
  reference always makes it random-next, so labels are 50/50 on any corpus.
* ``sop`` (ALBERT): the same packing, B always the true continuation, the pair
  swapped with p=0.5 (label 1 = swapped); a single segment is split the same
  way (ALBERT's reference makes it a random-next pair, not an order example).
* ``single`` (RoBERTa / ELECTRA / SpanBERT): each document's token stream cut
  into consecutive windows of the target length, one segment, no label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pair:
    """Segment A, optional segment B (int32 ids) and the sentence-order label."""

    a: np.ndarray
    b: np.ndarray | None
    label: int


def _target_length(
    max_num_tokens: int, short_seq_prob: float, rng: np.random.Generator
) -> int:
    if rng.random() < short_seq_prob:
        return int(rng.integers(2, max_num_tokens + 1))
    return max_num_tokens


def _truncate(
    a: np.ndarray, b: np.ndarray, max_num_tokens: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The reference truncation, one draw per side instead of one per token.

    The reference removes one token at a time from the longer segment (B on a
    tie), each from the front or the back with p=0.5. Which side loses how many
    tokens is deterministic, so the front/back split is one binomial draw.
    """
    excess = a.size + b.size - max_num_tokens
    if excess <= 0:
        return a, b
    gap = abs(a.size - b.size)
    first = min(excess, gap)
    rest = excess - first
    cut_a = (first if a.size > b.size else 0) + rest // 2
    cut_b = (first if a.size <= b.size else 0) + (rest + 1) // 2
    front_a = int(rng.binomial(cut_a, 0.5))
    front_b = int(rng.binomial(cut_b, 0.5))
    return (
        a[front_a : a.size - (cut_a - front_a)],
        b[front_b : b.size - (cut_b - front_b)],
    )


def sentence_pairs(
    documents: list[list[np.ndarray]],
    index: int,
    max_num_tokens: int,
    short_seq_prob: float,
    random_next: bool,
    rng: np.random.Generator,
) -> list[Pair]:
    """NSP (``random_next=True``) or SOP pairs of document ``index``.

    Args:
        documents: the chunk's documents, each a list of int32 segment arrays.
        index: which document to pack.
        max_num_tokens: ``seq_len - 3`` (room for ``[CLS]`` and two ``[SEP]``).
        short_seq_prob: probability of a shorter target length.
        random_next: NSP when True, SOP when False.
        rng: the generator of this (chunk, dupe round).
    """
    document = documents[index]
    target = _target_length(max_num_tokens, short_seq_prob, rng)
    pairs: list[Pair] = []
    current: list[np.ndarray] = []
    length = 0
    i = 0
    while i < len(document):
        current.append(document[i])
        length += document[i].size
        if i == len(document) - 1 or length >= target:
            a_end = 1 if len(current) < 2 else int(rng.integers(1, len(current)))
            a = np.concatenate(current[:a_end])
            label = 0
            if random_next and rng.random() < 0.5:
                label = 1
                b = _random_stretch(documents, index, target - a.size, rng)
                i -= len(current) - a_end  # unused segments are packed again
            elif len(current) > 1:
                b = np.concatenate(current[a_end:])
            elif a.size >= 2:  # a single segment: split it at a random token
                cut = int(rng.integers(1, a.size))
                a, b = a[:cut], a[cut:]
            else:
                b = None
            if b is not None:
                if not random_next and rng.random() < 0.5:
                    a, b, label = b, a, 1
                a, b = _truncate(a, b, max_num_tokens, rng)
                pairs.append(Pair(a, b, label))
            current, length = [], 0
        i += 1
    return pairs


def _random_stretch(
    documents: list[list[np.ndarray]],
    index: int,
    target: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Segments of another document from a random start, at least ``target`` long.

    Like the reference, up to 10 draws look for a different document; with a
    single document in the buffer the same one is used.
    """
    other = index
    for _ in range(10):
        other = int(rng.integers(0, len(documents)))
        if other != index:
            break
    source = documents[other]
    start = int(rng.integers(0, len(source)))
    taken = []
    size = 0
    for segment in source[start:]:
        taken.append(segment)
        size += segment.size
        if size >= target:
            break
    return np.concatenate(taken)


def single_segments(
    document: list[np.ndarray],
    max_num_tokens: int,
    short_seq_prob: float,
    rng: np.random.Generator,
) -> list[Pair]:
    """Consecutive windows of the document's token stream (``seq_len - 2`` long)."""
    stream = np.concatenate(document)
    pairs = []
    start = 0
    while start < stream.size:
        end = start + _target_length(max_num_tokens, short_seq_prob, rng)
        pairs.append(Pair(stream[start:end], None, 0))
        start = end
    return pairs
