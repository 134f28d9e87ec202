"""``kerasbert.data`` readers: static int32 batches, dynamic masking, corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from corpus_helpers import write_corpus, write_vocab

from kerasbert.data import (
    DynamicMasking,
    feature_lengths,
    mask_batch,
    pretraining_dataset,
    read_build,
    tuned_options,
)
from tfrecords_tools.builder import build
from tfrecords_tools.settings import BuildConfig


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    directory = tmp_path_factory.mktemp("readers")
    corpus = write_corpus(directory / "corpus.txt", documents=80)
    vocab = write_vocab(directory / "vocab.txt")
    for task in ("mlm-sop", "rtd"):
        config = BuildConfig(
            task=task, seq_len=32, max_predictions=6, chunk_bytes=4000, dupe_factor=1
        )
        build([corpus], vocab, directory / task, config, progress=False)
    return directory


def test_batches_have_static_int32_shapes(builds):
    records = read_build(builds / "mlm-sop")
    files, lengths = records.files, records.lengths
    vocabulary = (builds / "vocab.txt").read_text().splitlines()
    assert records.vocabulary_size == len(vocabulary)
    dataset = pretraining_dataset(files, batch_size=8, lengths=lengths, seed=0)
    spec = dataset.element_spec
    assert spec["input_ids"].shape == (8, 32) and spec["input_ids"].dtype == tf.int32
    assert spec["masked_lm_weights"].dtype == tf.float32
    assert spec["masked_lm_positions"].shape == (8, 6)
    assert spec["next_sentence_labels"].shape == (8, 1)
    assert spec["token_boundary"].shape == (8, 32)
    total = sum(1 for _ in dataset)
    examples = sum(1 for path in files for _ in tf.data.TFRecordDataset(path))
    assert total == examples // 8  # drop_remainder, nothing lost otherwise


def test_dynamic_masking_statistics(builds):
    records = read_build(builds / "rtd")
    files, lengths = records.files, records.lengths
    assert "masked_lm_ids" not in lengths
    masking = DynamicMasking(
        mask_id=4,
        special_ids=[0, 1, 2, 3, 4],
        vocabulary_size=231,
        max_predictions=6,
        seed=5,
    )
    dataset = pretraining_dataset(
        files, 16, lengths, shuffle=False, dynamic_masking=masking
    )
    plain = pretraining_dataset(files, 16, lengths, shuffle=False)
    kinds = np.zeros(3)
    masked_tokens = candidates = 0
    for batch, original in zip(dataset, plain, strict=True):
        ids, before = batch["input_ids"].numpy(), original["input_ids"].numpy()
        positions = batch["masked_lm_positions"].numpy()
        weights = batch["masked_lm_weights"].numpy() > 0
        rows = np.nonzero(weights)[0]
        cols = positions[weights]
        assert np.array_equal(
            batch["masked_lm_ids"].numpy()[weights], before[rows, cols]
        )
        assert np.all(before[rows, cols] > 4)  # never a special token
        unmasked = np.ones(ids.shape, bool)
        unmasked[rows, cols] = False
        assert np.array_equal(ids[unmasked], before[unmasked])
        kinds += [
            np.sum(ids[rows, cols] == 4),
            np.sum((ids[rows, cols] != 4) & (ids[rows, cols] != before[rows, cols])),
            np.sum(ids[rows, cols] == before[rows, cols]),
        ]
        masked_tokens += weights.sum()
        candidates += original["input_mask"].numpy().sum() - 2 * len(ids)
        for row in range(len(ids)):
            real = positions[row][weights[row]]
            assert np.all(np.diff(real) > 0)
    assert masked_tokens / candidates == pytest.approx(0.15, abs=0.02)
    assert kinds / kinds.sum() == pytest.approx([0.8, 0.1, 0.1], abs=0.04)


def test_mask_batch_is_seeded():
    features = {
        "input_ids": tf.constant(np.arange(2, 34).reshape(2, 16) + 5, tf.int32),
        "input_mask": tf.ones([2, 16], tf.int32),
    }
    masking = DynamicMasking(4, [0, 1, 2, 3, 4], 100, max_predictions=4, seed=1)
    first = mask_batch(features, masking, tf.constant(3, tf.int64))
    again = mask_batch(features, masking, tf.constant(3, tf.int64))
    other = mask_batch(features, masking, tf.constant(4, tf.int64))
    assert np.array_equal(first["input_ids"], again["input_ids"])
    assert not np.array_equal(
        first["masked_lm_positions"], other["masked_lm_positions"]
    )


def test_corrupt_record_error_names_the_file(builds, tmp_path):
    records = read_build(builds / "mlm-sop")
    files, lengths = records.files, records.lengths
    broken = tmp_path / "broken.tfrecord"
    data = bytearray(Path(files[0]).read_bytes())
    data[len(data) // 2] ^= 0x55
    broken.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"broken\.tfrecord: corrupt record \d+"):
        pretraining_dataset([files[1], str(broken)], 4, lengths)
    with pytest.raises(FileNotFoundError, match="missing.tfrecord"):
        pretraining_dataset([str(tmp_path / "missing.tfrecord")], 4, lengths)


def test_incomplete_build_is_refused(builds, tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        read_build(tmp_path)


def test_feature_lengths_match_the_builder():
    lengths = feature_lengths("mlm-nsp", seq_len=128, max_predictions=20)
    assert lengths["masked_lm_weights"] == ("float32", 20)
    assert lengths["next_sentence_labels"] == ("int64", 1)
    assert "token_boundary" not in lengths
    options = tuned_options(threads=1)
    assert options.threading.private_threadpool_size == 1
