"""Every Hugging Face architecture: outputs vs transformers, exact round trips.

Each test builds a tiny random model in ``transformers`` (torch CPU), saves
it, loads it into an ``Encoder`` and compares every hidden state on padded
inputs; then writes the encoder back with ``save_hf`` and checks that
``transformers`` loads it with no missing or unexpected weights, bit-exact.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from checkpoint_helpers import (  # noqa: E402
    TINY_HF_BERT,
    TINY_HF_DISTILBERT,
    assert_same_weights,
    max_difference,
    padded_batch,
    random_hf_model,
)

from kerasbert import Encoder  # noqa: E402
from kerasbert.checkpoints import load_hf, save_hf  # noqa: E402

VOCAB, LENGTH = TINY_HF_BERT["vocab_size"], 12
BERT_LIKE = TINY_HF_BERT

# model_type -> (config, HF class saved, base class to compare, pad id, segments)
CASES = {
    "bert": (
        transformers.BertConfig(**BERT_LIKE),
        transformers.BertForPreTraining,
        transformers.BertModel,
        0,
        2,
    ),
    "albert": (
        transformers.AlbertConfig(
            **{**BERT_LIKE, "num_hidden_layers": 4},
            embedding_size=16,
            num_hidden_groups=2,
        ),
        transformers.AlbertForPreTraining,
        transformers.AlbertModel,
        0,
        2,
    ),
    "electra": (
        transformers.ElectraConfig(**BERT_LIKE, embedding_size=16),
        transformers.ElectraForPreTraining,
        transformers.ElectraModel,
        0,
        2,
    ),
    "distilbert": (
        transformers.DistilBertConfig(**TINY_HF_DISTILBERT),
        transformers.DistilBertForMaskedLM,
        transformers.DistilBertModel,
        0,
        0,
    ),
    "roberta": (
        transformers.RobertaConfig(
            **{**BERT_LIKE, "max_position_embeddings": 26},
            type_vocab_size=1,
            pad_token_id=1,
        ),
        transformers.RobertaModel,
        transformers.RobertaModel,
        1,
        1,
    ),
}


def _hf_outputs(model, inputs):
    arguments = {
        "input_ids": torch.from_numpy(inputs["input_ids"]).long(),
        "attention_mask": torch.from_numpy(inputs["input_mask"]).long(),
    }
    if "segment_ids" in inputs:
        arguments["token_type_ids"] = torch.from_numpy(inputs["segment_ids"]).long()
    with torch.no_grad():
        return model(**arguments, output_hidden_states=True)


def _base_state(model, prefix):
    """The base model's tensors of a (task) model, prefix removed."""
    return {
        name.removeprefix(prefix): tensor.numpy()
        for name, tensor in model.state_dict().items()
        if name.startswith(prefix) or not prefix
    }


@pytest.mark.parametrize("model_type", sorted(CASES))
def test_import_matches_transformers_and_round_trips(model_type, tmp_path):
    config, saved_class, base_class, pad_id, segments = CASES[model_type]
    task_model = random_hf_model(saved_class, config)
    task_model.save_pretrained(tmp_path / "hf")
    reference = base_class.from_pretrained(tmp_path / "hf").eval()

    encoder = load_hf(tmp_path / "hf", output_hidden_states=True)
    assert encoder.use_pooler == (model_type in ("bert", "albert", "roberta"))
    inputs = padded_batch(VOCAB, LENGTH, segments=segments, pad_id=pad_id)
    expected = _hf_outputs(reference, inputs)
    actual = encoder(inputs)
    differences = [
        max_difference(ours, theirs.numpy(), inputs["input_mask"])
        for ours, theirs in zip(
            actual["hidden_states"], expected.hidden_states, strict=True
        )
    ]
    print(f"{model_type}: max |diff| per hidden state {differences}")
    assert max(differences) <= 1e-4
    if encoder.use_pooler:
        pooled = np.abs(actual["pooled_output"] - expected.pooler_output.numpy())
        assert pooled.max() <= 1e-4

    # kerasbert -> HF: transformers finds every weight, with the same values.
    save_hf(encoder, tmp_path / "out", model_type)
    reloaded, info = base_class.from_pretrained(
        tmp_path / "out", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    original = _base_state(reference, "")
    written = _base_state(reloaded, "")
    assert sorted(original) == sorted(written)
    for name, value in original.items():
        if model_type == "roberta" and name.endswith("position_embeddings.weight"):
            # Rows 0..padding_idx serve padding tokens only; they are written
            # as zeros (see hf_architectures).
            value, written[name] = value[2:], written[name][2:]
        assert np.array_equal(value, written[name]), name

    # HF -> kerasbert -> HF -> kerasbert is bit-exact.
    assert_same_weights(encoder, load_hf(tmp_path / "out", output_hidden_states=True))


def test_encoder_without_segments_exports_a_zero_segment_row(tmp_path):
    encoder = Encoder(
        vocabulary_size=VOCAB,
        num_layers=2,
        num_heads=4,
        hidden_size=32,
        intermediate_size=48,
        max_sequence_length=24,
        type_vocabulary_size=0,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
    )
    save_hf(encoder, tmp_path, "bert")
    reference = transformers.BertModel.from_pretrained(tmp_path).eval()
    inputs = padded_batch(VOCAB, LENGTH, segments=0)
    expected = _hf_outputs(reference, inputs).last_hidden_state.numpy()
    actual = encoder(inputs)["sequence_output"]
    assert max_difference(actual, expected, inputs["input_mask"]) <= 1e-4


@pytest.mark.parametrize(
    "model_type, overrides, message",
    [
        ("bert", dict(num_groups=1), "no parameter sharing"),
        ("electra", {}, r"no place for \['pooler/bias', 'pooler/kernel'\]"),
        ("albert", dict(num_groups=1), "embedding_size == hidden_size"),
        ("distilbert", dict(use_pooler=False), "segment_embedding"),
        ("bert", dict(norm_first=True), "pre-LN"),
    ],
)
def test_encoders_that_do_not_fit_are_refused(model_type, overrides, message, tmp_path):
    encoder = Encoder(
        **{
            **dict(
                vocabulary_size=VOCAB,
                num_layers=2,
                num_heads=4,
                hidden_size=32,
                intermediate_size=48,
            ),
            **overrides,
        }
    )
    with pytest.raises(ValueError, match=message):
        save_hf(encoder, tmp_path / "out", model_type)
    assert not (tmp_path / "out").exists()


def test_unknown_model_type_is_named(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="gpt2"):
        load_hf(tmp_path)


def test_corrupt_weights_file_is_a_clear_error(tmp_path):
    config, *_ = CASES["bert"]
    (tmp_path / "config.json").write_text(config.to_json_string())
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="Cannot read"):
        load_hf(tmp_path)


def test_pytorch_bin_checkpoint_loads_like_safetensors(tmp_path):
    config, saved_class, *_ = CASES["bert"]
    model = random_hf_model(saved_class, config, seed=5)
    model.save_pretrained(tmp_path / "safetensors")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_text(config.to_json_string())
    torch.save(model.state_dict(), tmp_path / "bin" / "pytorch_model.bin")
    assert_same_weights(load_hf(tmp_path / "safetensors"), load_hf(tmp_path / "bin"))


def test_distilbert_epsilon_mismatch_warns(tmp_path):
    encoder = Encoder(
        vocabulary_size=VOCAB,
        num_layers=1,
        num_heads=4,
        hidden_size=32,
        intermediate_size=48,
        type_vocabulary_size=0,
        use_pooler=False,
        layer_norm_epsilon=1e-5,
    )
    with pytest.warns(UserWarning, match="layer_norm_epsilon"):
        save_hf(encoder, tmp_path, "distilbert")
    assert load_hf(tmp_path).layer_norm_epsilon == 1e-12
