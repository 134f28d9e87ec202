"""Mirror-BERT: span masking, InfoNCE, the trainer, the CLI."""

import argparse
import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_helpers import ENCODER_H16

from kerasbert import Encoder, SentenceEncoder
from kerasbert.contrastive import (
    MirrorBERT,
    info_nce_loss,
    mirror_dataset,
    random_span_mask,
    unique_texts,
    with_dropout,
)
from kerasbert.tokenizers import BertWordPieceTokenizer
from kerasbert.training import create_optimizer
from kerasbert_cli.commands import mirror as mirror_command

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "dog", "sat", "on", "mat", "ran", "a", "big", "small", "red"]
VOCABULARY = SPECIALS + WORDS
SENTENCES = [
    "the cat sat on the mat",
    "a dog ran",
    "the big dog sat on a small mat",
    "a small cat ran on the mat",
    "the dog sat",
    "a big red cat",
    "the small dog ran on a big mat",
    "a cat sat on the red dog",
]
MASK_ID = 4


def packed(lengths, width=12):
    """Rows [CLS] 10 11 .. [SEP] [PAD].. with ``lengths`` content tokens."""
    ids = np.zeros((len(lengths), width), np.int32)
    for row, n in enumerate(lengths):
        ids[row, : n + 2] = [2, *range(10, 10 + n), 3]
    return ids, (ids > 0).astype(np.int32)


def test_random_span_mask_masks_one_inner_span():
    lengths = [8, 6, 5, 3, 2, 1, 0]
    ids, mask = packed(lengths)
    for seed in range(5):
        out = random_span_mask(ids, mask, MASK_ID, span_length=5, seed=seed).numpy()
        for row, n in enumerate(lengths):
            masked = np.flatnonzero(out[row] == MASK_ID)
            assert len(masked) == min(5, max(n - 1, 0))
            if len(masked):
                assert masked[0] >= 1 and masked[-1] <= n  # inside the content
                np.testing.assert_array_equal(np.diff(masked), 1)  # contiguous
            unmasked = out[row] != MASK_ID
            np.testing.assert_array_equal(out[row][unmasked], ids[row][unmasked])


def test_random_span_mask_covers_all_starts_and_can_be_off():
    ids, mask = packed([8] * 400)
    out = random_span_mask(ids, mask, MASK_ID, span_length=5, seed=0).numpy()
    starts = np.argmax(out == MASK_ID, axis=1)
    assert set(starts) == {1, 2, 3, 4}  # 8 - 5 + 1 = 4 possible starts
    np.testing.assert_array_equal(random_span_mask(ids, mask, MASK_ID, 0), ids)
    with pytest.raises(ValueError, match=">= 0"):
        random_span_mask(ids, mask, MASK_ID, -1)


def test_info_nce_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4)).astype(np.float32)
    b = rng.normal(size=(3, 4)).astype(np.float32)
    z = np.concatenate([a, b])
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    logits = z @ z.T / 0.1
    np.fill_diagonal(logits, -np.inf)
    positives = np.r_[np.arange(3, 6), np.arange(3)]
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -log_softmax[np.arange(6), positives].mean()
    assert float(info_nce_loss(a, b, 0.1)) == pytest.approx(expected, rel=1e-5)


def test_info_nce_prefers_aligned_views():
    base = np.eye(4, dtype=np.float32)
    aligned = float(info_nce_loss(base, base, 0.05))
    shuffled = float(info_nce_loss(base, base[[1, 2, 3, 0]], 0.05))
    assert aligned < 1e-3 < shuffled
    with pytest.raises(ValueError, match="positive"):
        info_nce_loss(base, base, 0.0)


def tiny_encoder(**overrides):
    keras.utils.set_random_seed(0)
    return Encoder(**{**ENCODER_H16, "vocabulary_size": len(VOCABULARY), **overrides})


def test_with_dropout_keeps_weights():
    encoder = tiny_encoder()
    copy = with_dropout(encoder, 0.1)
    assert copy.dropout_rate == copy.attention_dropout_rate == 0.1
    for a, b in zip(encoder.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Dropout rate"):
        with_dropout(encoder, 1.0)


def test_mirror_dataset_views():
    tokenizer = BertWordPieceTokenizer(VOCABULARY)
    names = ("input_ids", "input_mask", "segment_ids")
    dataset = mirror_dataset(SENTENCES, tokenizer, names, 12, batch_size=4)
    batches = list(dataset)
    assert len(batches) == 2
    view_a, view_b = batches[0]["view_a"], batches[0]["view_b"]
    assert set(view_a) == set(names) and view_a["input_ids"].shape == (4, 12)
    np.testing.assert_array_equal(view_a["input_mask"], view_b["input_mask"])
    differs = view_a["input_ids"].numpy() != view_b["input_ids"].numpy()
    assert np.all(view_b["input_ids"].numpy()[differs] == tokenizer.mask_id)
    assert np.all(differs.sum(1) >= 1)
    assert unique_texts(["b", "a", "b"]) == ["b", "a"]
    with pytest.raises(ValueError, match="at least batch_size"):
        mirror_dataset(SENTENCES[:2], tokenizer, names, 12, batch_size=4)


def test_mirror_training_reduces_the_loss_and_round_trips(tmp_path):
    encoder = tiny_encoder(dropout_rate=0.1, attention_dropout_rate=0.1)
    model = MirrorBERT(SentenceEncoder(encoder, pooling="cls"), temperature=0.2)
    tokenizer = BertWordPieceTokenizer(VOCABULARY)
    dataset = mirror_dataset(
        SENTENCES, tokenizer, encoder.input_names, 12, batch_size=8, seed=0
    )
    batch = next(iter(dataset))
    model(batch["view_a"])
    tf.random.set_seed(0)
    before = float(model.contrastive_loss(batch))
    model.compile(optimizer=create_optimizer("adamw", 3e-3, 40))
    model.fit(dataset.repeat(), steps_per_epoch=40, epochs=1, verbose=0, shuffle=False)
    after = float(model.contrastive_loss(batch))
    assert after < before
    path = tmp_path / "mirror.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, MirrorBERT) and restored.temperature == 0.2
    np.testing.assert_allclose(
        restored(batch["view_a"]), model(batch["view_a"]), atol=1e-5
    )


def parse_command(argv):
    parser = argparse.ArgumentParser()
    mirror_command.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_mirror_cli_writes_encoder_sentence_encoder_and_savedmodel(tmp_path):
    encoder_path = tmp_path / "encoder_in.keras"
    tiny_encoder().save(encoder_path)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(SENTENCES + SENTENCES[:3]) + "\n")  # duplicates
    output = tmp_path / "out"
    args = parse_command(
        ["mirror", "--encoder", str(encoder_path), "--texts", str(texts)]
        + ["--output", str(output), "--batch-size", "4", "--pooling", "mean"]
        + ["--level", "word", "--export-savedmodel"]
    )
    assert args.func(args) == 0
    report = json.loads((output / "mirror.json").read_text())
    assert report["num_texts"] == 8 and report["steps"] == 4  # 2 epochs x 2
    assert report["temperature"] == 0.2 and report["sequence_length"] == 25
    sentence_encoder = keras.saving.load_model(output / "sentence_encoder.keras")
    assert isinstance(sentence_encoder, SentenceEncoder)
    assert sentence_encoder.pooling == "mean"
    encoder = keras.saving.load_model(output / "encoder.keras")
    assert encoder.dropout_rate == 0.1
    loaded = tf.saved_model.load(str(output / "serving" / "sentence_encoder" / "1"))
    inputs = {
        "input_ids": tf.constant([[2, 5, 6, 3]]),
        "input_mask": tf.constant([[1, 1, 1, 1]]),
        "segment_ids": tf.constant([[0, 0, 0, 0]]),
    }
    np.testing.assert_allclose(
        loaded.signatures["tensors"](**inputs)["embedding"],
        sentence_encoder(inputs),
        atol=1e-5,
    )


def test_level_defaults_are_what_the_help_says(capsys):
    with pytest.raises(SystemExit):
        parse_command(["mirror", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    documented = re.findall(r"(sentence|word): ([\d.]+) / ([\d.]+) / (\d+)", text)
    assert sorted(level for level, *_ in documented) == ["sentence", "word"]
    required = ["mirror", "--encoder", "e.keras", "--texts", "t.txt", "--output", "o"]
    assert parse_command(required).level == "sentence"
    for level, *values in documented:
        args = parse_command([*required, "--level", level])
        resolved = mirror_command.resolve_level_defaults(args)
        assert [
            resolved["temperature"],
            resolved["epochs"],
            resolved["sequence_length"],
        ] == [float(value) for value in values]
    given = parse_command([*required, "--temperature", "0.5"])
    assert mirror_command.resolve_level_defaults(given)["temperature"] == 0.5
