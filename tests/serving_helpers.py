"""Vocabulary and tiny encoders shared by the serving tests."""

from __future__ import annotations

import keras
import numpy as np

from kerasbert import Encoder

WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "paris",
    "is", "capital", "of", "france", "hello", "world", "sentence", "what",
    "where", "who",
]  # fmt: skip
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = list("abcdefghijklmnopqrstuvwxyz")


def wordpiece_vocabulary(size: int | None = None) -> list[str]:
    """WordPiece tokens over WORDS, letters and punctuation: any ASCII text
    tokenizes. ``size`` pads with filler tokens to that many ids."""
    tokens = SPECIAL_TOKENS + WORDS + LETTERS + list(".,!?")
    tokens += [f"##{letter}" for letter in LETTERS]
    if size is not None:
        tokens += [f"filler{i}" for i in range(size - len(tokens))]
    return tokens


def tiny_encoder(vocabulary_size: int, seed: int, **sizes: int) -> Encoder:
    """A seeded encoder without dropout (2 blocks, H=64 unless ``sizes`` say)."""
    keras.utils.set_random_seed(seed)
    config = dict(
        num_layers=2,
        num_heads=2,
        hidden_size=64,
        intermediate_size=128,
        max_sequence_length=32,
    )
    config.update(sizes)
    return Encoder(
        vocabulary_size=vocabulary_size,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        **config,
    )


def assert_outputs_equal(
    actual: dict[str, np.ndarray], expected: dict[str, np.ndarray], where: str
) -> None:
    """Same names, shapes and dtypes; floats to 1e-5, the rest exactly."""
    assert sorted(actual) == sorted(expected), where
    for name, want in expected.items():
        got = actual[name]
        assert (got.shape, got.dtype) == (want.shape, want.dtype), f"{where}: {name}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(
                got, want, rtol=0, atol=1e-5, err_msg=f"{where} {name}"
            )
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{where} {name}")
