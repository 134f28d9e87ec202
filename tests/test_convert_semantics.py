"""Conversions keep what the model computes (issue #20), checked with the peers.

Each test reads kerasbert's output with the peer's own code (transformers,
keras-hub, TensorFlow's checkpoint reader) where that code is installed.
"""

import warnings

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from checkpoint_helpers import (  # noqa: E402
    ENCODER_H32,
    TINY_HF_BERT,
    assert_same_weights,
    max_difference,
    padded_batch,
    random_hf_model,
)
from safetensors.numpy import load_file, save_file  # noqa: E402

from kerasbert import Encoder  # noqa: E402
from kerasbert.checkpoints import (  # noqa: E402
    from_keras_hub,
    load_google,
    load_hf,
    load_hf_masked_lm,
    save_google,
    save_hf,
    to_keras_hub,
)
from kerasbert.checkpoints.google import read_google_checkpoint  # noqa: E402
from kerasbert.checkpoints.hf_masked_lm import save_hf_masked_lm  # noqa: E402

VOCAB, LENGTH = TINY_HF_BERT["vocab_size"], 12


def _random_hf(cls, config, path):
    """A tiny ``transformers`` model with random weights, saved at ``path``."""
    model = random_hf_model(cls, config)
    model.save_pretrained(path)
    return model


def _torch_inputs(inputs):
    return {
        "input_ids": torch.from_numpy(inputs["input_ids"]).long(),
        "attention_mask": torch.from_numpy(inputs["input_mask"]).long(),
        "token_type_ids": torch.from_numpy(inputs["segment_ids"]).long(),
    }


def _hf_sequence(model, inputs):
    with torch.no_grad():
        return model(**_torch_inputs(inputs)).last_hidden_state.numpy()


def _mlm_logits(model, inputs):
    """The masked-LM logits of a ``*ForMaskedLM`` or ``*ForPreTraining``."""
    with torch.no_grad():
        output = model(**_torch_inputs(inputs))
    if hasattr(output, "prediction_logits"):
        return output.prediction_logits
    return output.logits


def _electra_config(embedding_size, **overrides):
    return transformers.ElectraConfig(
        **TINY_HF_BERT, embedding_size=embedding_size, **overrides
    )


@pytest.mark.parametrize("embedding_size", [16, 32])
def test_electra_goes_to_keras_hub_and_back(embedding_size, tmp_path):
    config = _electra_config(embedding_size, hidden_act="gelu_new")
    reference = _random_hf(transformers.ElectraModel, config, tmp_path / "hf")
    encoder = load_hf(tmp_path / "hf")
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", UserWarning
        )  # tanh GELU, epsilon 1e-12: no drift
        backbone = to_keras_hub(encoder)
    assert type(backbone).__name__ == "ElectraBackbone"  # also when E == H
    backbone.save(tmp_path / "electra.keras")
    loaded = keras.saving.load_model(tmp_path / "electra.keras")

    inputs = padded_batch(VOCAB, LENGTH)
    outputs = loaded(
        {
            "token_ids": inputs["input_ids"],
            "segment_ids": inputs["segment_ids"],
            "padding_mask": inputs["input_mask"],
        }
    )
    expected = _hf_sequence(reference, inputs)
    mask = inputs["input_mask"]
    assert max_difference(outputs["sequence_output"], expected, mask) <= 1e-4
    assert not np.asarray(outputs["pooled_output"]).any()

    back = from_keras_hub(loaded)
    assert not back.use_pooler and back.architecture == "electra"
    assert_same_weights(encoder, back)


def test_electra_with_embedding_size_equal_hidden_size_stays_electra(tmp_path):
    _random_hf(transformers.ElectraModel, _electra_config(32), tmp_path / "hf")
    encoder = load_hf(tmp_path / "hf")
    assert encoder.architecture == "electra"
    encoder.save(tmp_path / "electra.keras")
    encoder = keras.saving.load_model(tmp_path / "electra.keras")
    assert encoder.architecture == "electra"

    save_hf(encoder, tmp_path / "out")
    _, info = transformers.AutoModel.from_pretrained(
        tmp_path / "out", output_loading_info=True
    )
    assert not any(info.values()), info
    assert type(_).__name__ == "ElectraModel"

    save_google(encoder, tmp_path / "google")
    names = read_google_checkpoint(tmp_path / "google")
    assert all(name.startswith("electra/") for name in names), sorted(names)
    again = load_google(tmp_path / "google")
    assert again.architecture == "electra"
    assert_same_weights(encoder, again)


def test_encoder_configs_without_an_architecture_still_load():
    config = Encoder(**ENCODER_H32).get_config()
    del config["architecture"]
    encoder = Encoder.from_config(config)
    assert encoder.architecture is None
    encoder = Encoder(**ENCODER_H32, embedding_size=16, use_pooler=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert type(to_keras_hub(encoder)).__name__ == "ElectraBackbone"


def test_google_warns_about_gelu_and_epsilon_it_does_not_compute(tmp_path):
    exact = Encoder(**ENCODER_H32, hidden_activation="gelu")
    with pytest.warns(UserWarning, match="Google's bert code computes"):
        save_google(exact, tmp_path / "exact")
    tanh = Encoder(
        **ENCODER_H32,
        embedding_size=16,
        num_groups=1,
        hidden_activation="gelu_approximate",
        layer_norm_epsilon=1e-3,
    )
    with pytest.warns(UserWarning, match="always uses LayerNorm epsilon 1e-12"):
        save_google(tanh, tmp_path / "epsilon", "albert")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        save_google(Encoder(**ENCODER_H32, hidden_activation="relu"), tmp_path / "relu")


ALBERT_SIZES = dict(TINY_HF_BERT, embedding_size=16, hidden_act="gelu_new")


def test_albert_groups_that_hf_assigns_differently_are_refused(tmp_path):
    config = transformers.AlbertConfig(
        **{**ALBERT_SIZES, "num_hidden_layers": 18}, num_hidden_groups=14
    )
    _random_hf(transformers.AlbertModel, config, tmp_path / "hf")
    message = "layer 9: group 6 in Hugging Face, 7 in kerasbert"
    with pytest.raises(ValueError, match=message):
        load_hf(tmp_path / "hf")
    encoder = Encoder(
        **{**ENCODER_H32, "num_layers": 18}, embedding_size=16, num_groups=14
    )
    with pytest.raises(ValueError, match=message):
        save_hf(encoder, tmp_path / "out", "albert")


def test_albert_groups_that_agree_match_transformers(tmp_path):
    config = transformers.AlbertConfig(
        **{**ALBERT_SIZES, "num_hidden_layers": 6}, num_hidden_groups=4
    )
    reference = _random_hf(transformers.AlbertModel, config, tmp_path / "hf")
    inputs = padded_batch(VOCAB, LENGTH)
    encoder = load_hf(tmp_path / "hf")
    actual = encoder(inputs)["sequence_output"]
    expected = _hf_sequence(reference, inputs)
    assert max_difference(actual, expected, inputs["input_mask"]) <= 1e-4


def test_wrong_shaped_query_is_named_with_the_shape_it_needs(tmp_path):
    save_hf(Encoder(**ENCODER_H32), tmp_path)
    name = "encoder.layer.1.attention.self.query.weight"
    tensors = load_file(tmp_path / "model.safetensors")
    tensors[name] = tensors[name][:16]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(
        ValueError, match=rf"{name} \(16, 32\) does not fit.*must be \(32, 32\)"
    ):
        load_hf(tmp_path)


@pytest.mark.parametrize(
    "cls, config",
    [
        (transformers.BertForPreTraining, transformers.BertConfig(**TINY_HF_BERT)),
        (transformers.ElectraForMaskedLM, _electra_config(16)),
    ],
)
def test_masked_lm_heads_reach_transformers(cls, config, tmp_path):
    reference = _random_hf(cls, config, tmp_path / "hf")
    model = load_hf_masked_lm(tmp_path / "hf")
    save_hf_masked_lm(model, tmp_path / "out")
    written, info = cls.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info

    inputs = padded_batch(VOCAB, LENGTH)
    positions = np.tile(np.arange(4, dtype=np.int32), (len(inputs["input_ids"]), 1))
    ours = model({**inputs, "masked_lm_positions": positions})["mlm_logits"]
    logits = _mlm_logits(written, inputs)
    assert torch.equal(logits, _mlm_logits(reference, inputs))
    assert np.abs(np.asarray(ours) - logits[:, :4].numpy()).max() <= 1e-4
    assert_same_weights(model, load_hf_masked_lm(tmp_path / "out"))
