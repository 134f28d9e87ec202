"""kerasbert.load: every format it reads, detected from disk, same numbers back."""

from __future__ import annotations

import numpy as np
import pytest

import kerasbert
from kerasbert.checkpoints import write_encoder
from kerasbert.models import Encoder, SequenceClassifier

CONFIG = dict(
    vocabulary_size=40,
    hidden_size=16,
    num_layers=2,
    num_heads=2,
    intermediate_size=32,
    max_sequence_length=16,
)


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(**CONFIG, dropout_rate=0.0)


def inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "input_ids": rng.integers(1, 40, size=(2, 9)).astype("int32"),
        "segment_ids": np.zeros((2, 9), "int32"),
        "input_mask": np.ones((2, 9), "int32"),
    }


def sequence_output(encoder: Encoder) -> np.ndarray:
    return np.asarray(encoder(inputs())["sequence_output"])


@pytest.mark.parametrize("format_name", ["hf", "google", "keras-hub"])
def test_checkpoints_load_as_encoders(encoder, tmp_path, format_name):
    path = tmp_path / ("model.keras" if format_name == "keras-hub" else "ckpt")
    write_encoder(format_name, encoder, path)
    loaded = kerasbert.load(path)
    assert isinstance(loaded, Encoder)
    atol = 1e-3 if format_name == "keras-hub" else 1e-5  # keras-hub: tanh GELU
    np.testing.assert_allclose(
        sequence_output(loaded), sequence_output(encoder), atol=atol
    )


def test_kerasbert_files_load_as_saved(encoder, tmp_path):
    classifier = SequenceClassifier(encoder, num_classes=3)
    classifier(inputs())
    classifier.save(tmp_path / "classifier.keras")
    loaded = kerasbert.load(tmp_path / "classifier.keras")
    assert type(loaded) is SequenceClassifier
    np.testing.assert_array_equal(loaded(inputs()), classifier(inputs()))


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        kerasbert.load(tmp_path / "missing.keras")
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ValueError, match="Cannot tell the format"):
        kerasbert.load(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="Unknown format"):
        kerasbert.load(tmp_path / "notes.txt", format_name="onnx")
