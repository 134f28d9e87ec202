"""Statistics of the written masks: rate, 80/10/10, n-gram lengths, whole words."""

from __future__ import annotations

import numpy as np
import pytest
from corpus_helpers import write_corpus, write_vocab

from tfrecords_tools.builder import build
from tfrecords_tools.inspection import read_features, summarize
from tfrecords_tools.masking import MaskingConfig, choose_spans, sample_span_lengths
from tfrecords_tools.settings import BuildConfig
from tfrecords_tools.tokenization import TextTokenizer


@pytest.fixture(scope="module")
def corpus_and_vocab(tmp_path_factory):
    directory = tmp_path_factory.mktemp("masking")
    return (
        write_corpus(directory / "corpus.txt", documents=600),
        write_vocab(directory / "vocab.txt"),
        directory,
    )


def built(corpus_and_vocab, name: str, **settings) -> dict[str, np.ndarray]:
    corpus, vocab, directory = corpus_and_vocab
    config = BuildConfig(seq_len=64, max_predictions=10, **settings)
    manifest = build([corpus], vocab, directory / name, config, progress=False)
    files = [directory / name / shard for shard in sorted(manifest["shards"])]
    return read_features(files)


def test_mask_rate_and_80_10_10(corpus_and_vocab):
    features = built(corpus_and_vocab, "bert", task="mlm-nsp")
    stats = summarize(features, mask_id=4)
    assert stats["examples"] > 3000
    assert stats["mask_rate"] == pytest.approx(0.15, abs=0.005)
    assert stats["mask_split"]["mask"] == pytest.approx(0.8, abs=0.01)
    assert stats["mask_split"]["random"] == pytest.approx(0.1, abs=0.01)
    assert stats["mask_split"]["kept"] == pytest.approx(0.1, abs=0.01)
    positions = features["masked_lm_positions"]
    weights = features["masked_lm_weights"] > 0
    for row in range(200):  # sorted, inside the sequence, never a special token
        real = positions[row][weights[row]]
        assert np.all(np.diff(real) > 0)
        targets = features["masked_lm_ids"][row][weights[row]]
        assert np.all(targets >= 5)


def test_ngram_lengths_follow_one_over_n():
    config = MaskingConfig(strategy="ngram", max_predictions=20)
    rng = np.random.default_rng(0)
    drawn = sample_span_lengths(config, 200_000, rng)
    expected = np.array([6, 3, 2]) / 11  # p(n) ∝ 1/n, n <= 3
    assert np.bincount(drawn)[1:] / drawn.size == pytest.approx(expected, abs=0.005)
    # Accepted spans: the budget edge favours short spans slightly.
    accepted = np.concatenate(
        [choose_spans(np.arange(126), 19, config, rng)[2] for _ in range(2000)]
    )
    observed = np.bincount(accepted, minlength=4)[1:] / accepted.size
    assert observed == pytest.approx(expected, abs=0.04)


def test_span_lengths_are_clipped_geometric():
    config = MaskingConfig(strategy="span", span_p=0.2, max_span=10)
    drawn = sample_span_lengths(config, 100_000, np.random.default_rng(1))
    assert drawn.min() == 1 and drawn.max() == 10
    assert np.mean(drawn == 1) == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize("masking", ["whole_word", "ngram", "span"])
def test_word_masking_never_splits_a_word(corpus_and_vocab, masking):
    _, vocab, _ = corpus_and_vocab
    features = built(corpus_and_vocab, masking, task="mlm-sop", masking=masking)
    is_start = TextTokenizer(vocab).is_word_start
    ids = features["input_ids"].copy()
    rows, slots = np.nonzero(features["masked_lm_weights"] > 0)
    original = ids.copy()
    original[rows, features["masked_lm_positions"][rows, slots]] = features[
        "masked_lm_ids"
    ][rows, slots]
    masked = np.zeros(ids.shape, dtype=bool)
    masked[rows, features["masked_lm_positions"][rows, slots]] = True
    continuation = ~is_start[original] & (features["input_mask"] > 0)
    # token_boundary marks word starts (and specials) in ALBERT's convention.
    boundary = features["token_boundary"].astype(bool)
    assert np.array_equal(boundary, ~continuation & (features["input_mask"] > 0))
    # A continuation piece is masked exactly when the piece before it is
    # (unless truncation left it first in its segment, after [CLS]/[SEP]).
    inside = continuation[:, 1:] & (original[:, :-1] >= 5)
    assert inside.sum() > 1000  # the corpus has many two-piece words
    assert np.array_equal(masked[:, 1:][inside], masked[:, :-1][inside])
