"""Shared pytest setup: quiet TensorFlow, tiny model configs, policy hygiene."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

TINY_ENCODER = dict(
    vocabulary_size=97,
    num_layers=2,
    num_heads=2,
    hidden_size=16,
    intermediate_size=32,
    max_sequence_length=32,
    dropout=0.0,
    attention_dropout=0.0,
)

# Keyword arguments of a tiny Hugging Face ``BertConfig`` (also the field names
# of Google's bert_config.json), shared by the checkpoint-interop tests.
TINY_HF_BERT = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=48,
    max_position_embeddings=24,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)

# The same sizes in DistilBERT's own config names.
TINY_HF_DISTILBERT = dict(
    vocab_size=TINY_HF_BERT["vocab_size"],
    dim=32,
    n_layers=2,
    n_heads=4,
    hidden_dim=48,
    max_position_embeddings=24,
    dropout=0.0,
    attention_dropout=0.0,
)


@pytest.fixture(autouse=True)
def _restore_dtype_policy():
    """Tests that switch to mixed precision must not leak it into others."""
    yield
    keras.mixed_precision.set_global_policy("float32")


def random_inputs(
    batch: int = 3,
    length: int = 10,
    vocabulary_size: int = 97,
    with_segments: bool = True,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Random int32 encoder inputs whose rows have different amounts of padding."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(1, vocabulary_size, size=(batch, length), dtype=np.int32)
    lengths = np.maximum(2, length - np.arange(batch) * 3)
    input_mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    inputs = {"input_ids": input_ids * input_mask, "input_mask": input_mask}
    if with_segments:
        segment_ids = (np.arange(length)[None, :] >= lengths[:, None] // 2).astype(
            np.int32
        )
        inputs["segment_ids"] = segment_ids * input_mask
    return inputs
