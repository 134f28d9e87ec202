"""Files and configs saved under the old argument names still load, the same."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

from kerasbert.layers import EncoderEmbeddings, SharedTransformerEncoder
from kerasbert.layers.attention import SelfAttentionBlock
from kerasbert.layers.renamed_arguments import RENAMED_ARGUMENTS
from kerasbert.models import Encoder, SequenceClassifier

ENCODER = dict(
    vocabulary_size=40,
    num_layers=2,
    num_heads=2,
    hidden_size=16,
    intermediate_size=32,
    embedding_size=8,
    max_sequence_length=12,
    dropout_rate=0.2,
    attention_dropout_rate=0.3,
)


def with_old_names(value):
    """``value`` (a config tree) with every renamed key under its old name."""
    old_names = {new: old for old, new in RENAMED_ARGUMENTS.items()}
    if isinstance(value, dict):
        return {old_names.get(k, k): with_old_names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_old_names(v) for v in value]
    return value


def test_a_keras_file_saved_with_the_old_names_loads_the_same_model(tmp_path):
    model = SequenceClassifier(Encoder(**ENCODER), num_classes=3, dropout_rate=0.4)
    model.save(tmp_path / "new.keras")
    # A file as the previous release wrote it: same weights, old config keys.
    with (
        zipfile.ZipFile(tmp_path / "new.keras") as new,
        zipfile.ZipFile(tmp_path / "old.keras", "w") as old,
    ):
        for item in new.infolist():
            data = new.read(item)
            if item.filename == "config.json":
                data = json.dumps(with_old_names(json.loads(data))).encode()
                assert b'"dropout": 0.4' in data and b'"dropout_rate"' not in data
            old.writestr(item, data)
    restored = keras.models.load_model(tmp_path / "old.keras")
    assert restored.get_config() == model.get_config()
    assert restored.encoder.dropout_rate == 0.2
    assert restored.encoder.attention_dropout_rate == 0.3
    inputs = {
        "input_ids": np.arange(20, dtype=np.int32).reshape(2, 10) % 40,
        "input_mask": np.ones((2, 10), np.int32),
        "segment_ids": np.zeros((2, 10), np.int32),
    }
    np.testing.assert_array_equal(restored(inputs), model(inputs))


@pytest.mark.parametrize(
    "layer",
    [
        lambda: EncoderEmbeddings(40, 16, 8, dropout_rate=0.2),
        lambda: SelfAttentionBlock(
            num_heads=2, hidden_size=8, dropout_rate=0.2, attention_dropout_rate=0.3
        ),
        lambda: SharedTransformerEncoder(
            2, 2, 8, 16, dropout_rate=0.2, attention_dropout_rate=0.3
        ),
    ],
    ids=["embeddings", "attention", "stack"],
)
def test_layers_rebuild_from_old_style_configs(layer):
    layer = layer()
    config = layer.get_config()
    assert type(layer).from_config(with_old_names(config)).get_config() == config


def test_old_names_are_refused_where_keras_would_ignore_them():
    with pytest.raises(ValueError, match="attention_dropout is now"):
        Encoder(**dict(ENCODER, attention_dropout=0.0))
    with pytest.raises(ValueError, match="dropout is now dropout_rate"):
        SequenceClassifier(Encoder(**ENCODER), num_classes=2, dropout=0.0)
