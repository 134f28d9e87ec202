"""Tiny configs, inputs and comparisons shared by the checkpoint tests."""

from __future__ import annotations

import numpy as np

from kerasbert.checkpoints.mapping import variable_arrays

# Keyword arguments of a tiny Hugging Face ``BertConfig`` (also the field names
# of Google's bert_config.json).
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

# The same sizes as ``Encoder`` keyword arguments: two blocks of width 32.
ENCODER_H32 = dict(
    vocabulary_size=TINY_HF_BERT["vocab_size"],
    num_layers=2,
    num_heads=4,
    hidden_size=32,
    intermediate_size=48,
    max_sequence_length=24,
    dropout_rate=0.0,
    attention_dropout_rate=0.0,
)


def random_hf_model(cls, config, seed: int = 0):
    """A ``transformers`` model of class ``cls`` with random N(0, 0.2) weights."""
    import torch

    torch.manual_seed(seed)
    model = cls(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.2)
    return model


def padded_batch(
    vocabulary_size: int,
    length: int = 12,
    batch: int = 4,
    segments: int = 2,
    pad_id: int = 0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """int32 inputs with different right-padding per row; real ids avoid ``pad_id``."""
    rng = np.random.default_rng(seed)
    lengths = np.array([length, length - 3, 5, 2][:batch])
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = rng.integers(2, vocabulary_size, size=(batch, length)).astype(np.int32)
    inputs = {"input_ids": np.where(mask == 1, ids, pad_id), "input_mask": mask}
    if segments:
        segment_ids = rng.integers(0, segments, size=(batch, length)).astype(np.int32)
        inputs["segment_ids"] = segment_ids * mask
    return inputs


def assert_same_weights(first, second) -> None:
    """Bit-exact equality of every variable, matched by path."""
    a, b = variable_arrays(first), variable_arrays(second)
    assert sorted(a) == sorted(b)
    for path in a:
        assert a[path].dtype == b[path].dtype, path
        assert np.array_equal(a[path], b[path]), path


def max_difference(actual, expected, mask) -> float:
    """Largest |actual - expected| over the real (mask == 1) tokens."""
    real = np.asarray(mask).astype(bool)
    return float(np.abs(np.asarray(actual)[real] - np.asarray(expected)[real]).max())
