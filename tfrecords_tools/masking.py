"""Masked-LM target selection in NumPy: token, whole-word, n-gram and span masking.

Candidate positions are the non-special tokens; each sequence predicts
``min(max_predictions, max(1, round(candidates * prob)))`` tokens (its budget).

* ``token`` (BERT): a uniform random subset of the candidates, drawn for a
  whole batch at once (random keys, ``argsort``).
* word strategies, one sequence at a time, each an exact sampler for its
  length distribution:

  1. candidates group into *words* (a piece that does not start a word joins
     the previous one);
  2. span lengths in words are drawn i.i.d.: 1 for ``whole_word``;
     ``p(n) ∝ 1/n`` for ``n <= max_ngram`` (``ngram``, ALBERT); geometric
     ``span_p`` clipped to ``max_span`` (``span``, SpanBERT), as many as fit;
  3. the spans are placed uniformly at random without overlap (stars and
     bars), then accepted in draw order while their tokens fit the budget.

Unlike ALBERT's reference (global NumPy RNG, overlap rejection that skews
lengths), every draw comes from the caller's seeded ``numpy.random.Generator``.
``corrupt`` then replaces the chosen positions of a whole batch 80% by
``[MASK]``, 10% by a random non-special token and keeps 10%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASKING_STRATEGIES = ("token", "whole_word", "ngram", "span")


@dataclass(frozen=True)
class MaskingConfig:
    """How many and which positions to mask.

    Attributes:
        masked_lm_prob: fraction of candidate tokens to predict.
        max_predictions: fixed length of the ``masked_lm_*`` features.
        strategy: one of ``MASKING_STRATEGIES``.
        max_ngram: longest n-gram (in words) for ``ngram``.
        span_p: geometric parameter of SpanBERT span lengths.
        max_span: longest span (in words) for ``span``.
    """

    masked_lm_prob: float = 0.15
    max_predictions: int = 20
    strategy: str = "token"
    max_ngram: int = 3
    span_p: float = 0.2
    max_span: int = 10

    def __post_init__(self) -> None:
        if self.strategy not in MASKING_STRATEGIES:
            raise ValueError(
                f"strategy must be one of {MASKING_STRATEGIES}: {self.strategy}"
            )
        if not 0.0 < self.masked_lm_prob < 1.0:
            raise ValueError(f"masked_lm_prob must be in (0, 1): {self.masked_lm_prob}")
        if self.max_predictions < 1:
            raise ValueError("max_predictions must be >= 1")


@dataclass(frozen=True)
class Vocab:
    """The vocabulary facts masking needs.

    Attributes:
        mask_id: id of ``[MASK]``.
        is_word_start: bool ``[vocab_size]``, True where a token starts a word.
        is_special: bool ``[vocab_size]``, True for ids never masked
            (``[CLS]``, ``[SEP]``, ``[PAD]``...).
        random_pool: int32 ids used for the "random token" replacement.
    """

    mask_id: int
    is_word_start: np.ndarray
    is_special: np.ndarray
    random_pool: np.ndarray


def sample_span_lengths(
    config: MaskingConfig, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` span lengths in words, int64, from the strategy's distribution."""
    if config.strategy == "ngram":
        n = np.arange(1, config.max_ngram + 1)
        return rng.choice(n, size=count, p=(1.0 / n) / (1.0 / n).sum())
    if config.strategy == "span":
        return np.minimum(rng.geometric(config.span_p, size=count), config.max_span)
    return np.ones(count, dtype=np.int64)


def select_batch(
    input_ids: np.ndarray,
    lengths: np.ndarray,
    vocab: Vocab,
    config: MaskingConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions to predict for a batch of sequences.

    Args:
        input_ids: int ``[N, seq]`` ids with ``[CLS]``/``[SEP]``, zero-padded.
        lengths: int ``[N]`` real lengths.
        vocab: special ids and word starts.
        config: budget and strategy.
        rng: the generator of this (chunk, dupe round).

    Returns:
        ``(positions, real)``: int64 ``[N, max_predictions]`` sorted positions
        (0 in padding slots) and bool ``[N, max_predictions]`` real slots.
    """
    count, seq = input_ids.shape
    preds = config.max_predictions
    positions = np.full((count, preds), seq, dtype=np.int64)
    if config.strategy == "token":
        valid = np.arange(seq)[None, :] < lengths[:, None]
        candidate = valid & ~vocab.is_special[input_ids]
        budget = np.minimum(
            preds, np.maximum(1, np.rint(candidate.sum(1) * config.masked_lm_prob))
        )
        keys = np.where(candidate, rng.random((count, seq)), 2.0)
        ranked = np.argsort(keys, axis=1, kind="stable")[:, :preds]
        keep = (np.arange(ranked.shape[1])[None, :] < budget[:, None]) & (
            np.take_along_axis(keys, ranked, axis=1) < 2.0
        )
        positions[:, : ranked.shape[1]] = np.sort(np.where(keep, ranked, seq), axis=1)
    else:
        for row in range(count):
            chosen = _select_words(input_ids[row, : lengths[row]], vocab, config, rng)
            positions[row, : chosen.size] = chosen
    real = positions < seq
    return np.where(real, positions, 0), real


def _select_words(
    tokens: np.ndarray, vocab: Vocab, config: MaskingConfig, rng: np.random.Generator
) -> np.ndarray:
    """Sorted positions ``[k]`` of one sequence for the word strategies."""
    is_candidate = ~vocab.is_special[tokens]
    candidates = np.flatnonzero(is_candidate)
    if candidates.size == 0:
        return np.zeros(0, dtype=np.int64)
    budget = min(
        config.max_predictions,
        max(1, int(round(candidates.size * config.masked_lm_prob))),
    )
    follows_special = ~is_candidate[candidates - 1]  # position 0 is [CLS]
    starts = vocab.is_word_start[tokens[candidates]] | follows_special
    starts[0] = True
    word_bounds = np.append(np.flatnonzero(starts), candidates.size)
    starts_chosen, sizes_chosen, _ = choose_spans(word_bounds, budget, config, rng)
    total = int(sizes_chosen.sum())
    # Expand (start, size) runs into candidate indices, then into positions.
    run_offsets = np.repeat(
        starts_chosen - (np.cumsum(sizes_chosen) - sizes_chosen), sizes_chosen
    )
    return np.sort(candidates[np.arange(total) + run_offsets])


def choose_spans(
    word_bounds: np.ndarray,
    budget: int,
    config: MaskingConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws, places and accepts spans of whole words (steps 2-3 above).

    Args:
        word_bounds: int ``[W + 1]``: word ``w`` covers candidates
            ``word_bounds[w]:word_bounds[w + 1]``.
        budget: most tokens to choose.
        config: the length distribution.
        rng: the generator of this (chunk, dupe round).

    Returns:
        For each accepted span, in draw order: its first candidate index, its
        size in tokens and its length in words.
    """
    n_words = word_bounds.size - 1
    lengths = np.minimum(sample_span_lengths(config, budget, rng), n_words)
    lengths = lengths[np.cumsum(lengths) <= n_words]
    k = lengths.size
    # Uniform non-overlapping placement: k slots among (free + k) gap choices.
    gaps = np.sort(rng.permutation(n_words - int(lengths.sum()) + k)[:k])
    order = rng.permutation(k)
    slot_lengths = lengths[order]
    slot_starts = gaps - np.arange(k) + np.cumsum(slot_lengths) - slot_lengths
    span_start = np.empty(k, dtype=np.int64)
    span_start[order] = slot_starts
    first = word_bounds[span_start]
    sizes = word_bounds[span_start + lengths] - first

    # Accept spans in draw order while they fit: the prefix that fits at once,
    # then (rarely more than a few) later spans that fill the remaining budget.
    fits = np.cumsum(sizes) <= budget
    accepted = int(np.argmin(fits)) if not fits.all() else k
    used = int(sizes[:accepted].sum())
    chosen = list(range(accepted))
    for span in range(accepted, k):
        if used == budget:
            break
        if used + sizes[span] <= budget:
            chosen.append(span)
            used += int(sizes[span])
    return first[chosen], sizes[chosen], lengths[chosen]


def corrupt(
    input_ids: np.ndarray,
    positions: np.ndarray,
    real: np.ndarray,
    vocab: Vocab,
    rng: np.random.Generator,
) -> None:
    """Applies 80% ``[MASK]`` / 10% random / 10% kept, in place, to a batch.

    Args:
        input_ids: int ``[N, seq]`` original ids; overwritten.
        positions: int ``[N, P]`` masked positions.
        real: bool ``[N, P]``, True where ``positions`` is real.
        vocab: ``mask_id`` and the random-replacement pool.
        rng: the generator of this (chunk, dupe round).
    """
    rows, slots = np.nonzero(real)
    columns = positions[rows, slots]
    draw = rng.random(rows.size)
    input_ids[rows[draw < 0.8], columns[draw < 0.8]] = vocab.mask_id
    replace = draw >= 0.9
    picks = rng.integers(0, vocab.random_pool.size, size=int(replace.sum()))
    input_ids[rows[replace], columns[replace]] = vocab.random_pool[picks]
