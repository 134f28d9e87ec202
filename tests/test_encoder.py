"""The shared-weights encoder: sizes, sharing, masking, configs and saving."""

import keras
import numpy as np
import pytest
from model_helpers import ENCODER_H16, numpy_encoder, random_inputs, randomize

from kerasbert import Encoder
from kerasbert.layers.transformer_stack import group_of_layer

# Parameter counts with pooler and without MLM head; the BERT numbers are the
# published ones (e.g. BERT-base 109,482,240), ALBERT's are computed from the
# paper's configurations (the paper rounds them to 12M/18M/60M/235M).
PRESET_PARAMETERS_MILLIONS = {
    "bert_tiny": 4.39,
    "bert_mini": 11.17,
    "bert_small": 28.76,
    "bert_medium": 41.37,
    "bert_base": 109.48,
    "bert_large": 335.14,
    "albert_base": 11.7,
    "albert_large": 17.7,
    "albert_xlarge": 58.7,
    "albert_xxlarge": 222.6,
}


@pytest.mark.parametrize("preset", sorted(PRESET_PARAMETERS_MILLIONS))
def test_preset_parameter_counts(preset):
    encoder = Encoder.from_preset(preset)
    expected = PRESET_PARAMETERS_MILLIONS[preset]
    decimals = 2 if preset.startswith("bert") else 1
    assert round(encoder.count_params() / 1e6, decimals) == expected


def test_bert_base_count_is_exact():
    assert Encoder.from_preset("bert_base").count_params() == 109_482_240


def test_group_assignment_spreads_layers_evenly():
    assert [group_of_layer(i, 12, 1) for i in range(12)] == [0] * 12
    assert [group_of_layer(i, 12, 12) for i in range(12)] == list(range(12))
    assert [group_of_layer(i, 6, 2) for i in range(6)] == [0, 0, 0, 1, 1, 1]
    assert [group_of_layer(i, 4, 3) for i in range(4)] == [0, 0, 1, 2]


def _block_parameters(encoder: Encoder) -> int:
    return encoder.transformer.count_params()


@pytest.mark.parametrize(
    "num_groups, shared, attention_sets, feed_forward_sets",
    [
        (4, "all", 4, 4),
        (1, "all", 1, 1),
        (2, "all", 2, 2),
        (1, "attention", 1, 4),
        (1, "feed_forward", 4, 1),
    ],
)
def test_sharing_modes_create_the_expected_parameter_sets(
    num_groups, shared, attention_sets, feed_forward_sets
):
    config = dict(
        ENCODER_H16, num_layers=4, num_groups=num_groups, shared_components=shared
    )
    encoder = Encoder(**config)
    transformer = encoder.transformer
    assert len(transformer.attention_blocks) == attention_sets
    assert len(transformer.feed_forward_blocks) == feed_forward_sets
    one_attention = transformer.attention_blocks[0].count_params()
    one_feed_forward = transformer.feed_forward_blocks[0].count_params()
    assert _block_parameters(encoder) == (
        attention_sets * one_attention + feed_forward_sets * one_feed_forward
    )
    outputs = encoder(random_inputs())
    assert outputs["sequence_output"].shape == (3, 10, 16)


def test_shared_blocks_reuse_the_same_sublayers():
    encoder = Encoder(**dict(ENCODER_H16, num_layers=4, num_groups=2))
    blocks = [encoder.transformer.block_sublayers(i) for i in range(4)]
    assert blocks[0][0] is blocks[1][0] and blocks[2][0] is blocks[3][0]
    assert blocks[1][0] is not blocks[2][0]


def test_invalid_group_and_sharing_options_are_rejected():
    with pytest.raises(ValueError, match="num_groups"):
        Encoder(**dict(ENCODER_H16, num_groups=3))
    with pytest.raises(ValueError, match="shared_components"):
        Encoder(**dict(ENCODER_H16, shared_components="ffn"))
    with pytest.raises(ValueError, match="divisible"):
        Encoder(**dict(ENCODER_H16, num_heads=3))


def assert_outputs_match_numpy(encoder, inputs):
    """Every output equals BERT's equations recomputed in NumPy from the weights."""
    outputs = encoder(inputs)
    expected = numpy_encoder(encoder, inputs)
    assert sorted(outputs) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, atol=1e-5, err_msg=name)


def test_factorized_embedding_projects_to_hidden_size():
    encoder = Encoder(**dict(ENCODER_H16, embedding_size=8))
    assert encoder.embeddings.factorized
    assert tuple(encoder.token_embedding.embeddings.shape) == (97, 8)
    randomize(encoder)
    assert_outputs_match_numpy(encoder, random_inputs())


def test_outputs_for_real_tokens_do_not_depend_on_padding():
    encoder = Encoder(**ENCODER_H16)
    inputs = random_inputs(batch=2, length=8)
    padded = {
        name: np.concatenate([x, np.zeros((2, 6), np.int32)], axis=1)
        for name, x in inputs.items()
    }
    short = encoder(inputs)
    long = encoder(padded)
    mask = inputs["input_mask"].astype(bool)
    np.testing.assert_allclose(
        np.asarray(short["sequence_output"])[mask],
        np.asarray(long["sequence_output"])[:, :8][mask],
        atol=1e-5,
    )
    np.testing.assert_allclose(short["pooled_output"], long["pooled_output"], atol=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"norm_first": True},
        {"num_groups": 1, "embedding_size": 8},
        {"type_vocabulary_size": 0, "use_pooler": False},
    ],
    ids=["post_ln", "pre_ln", "albert", "no_segments"],
)
def test_encode_positions_equals_gathered_sequence_output(overrides):
    encoder = Encoder(**dict(ENCODER_H16, **overrides))
    inputs = random_inputs(batch=3, length=10)
    # Repeated and padding positions are allowed too.
    positions = np.array([[0, 3, 3], [9, 1, 0], [2, 0, 1]], np.int32)
    full = encoder({name: inputs[name] for name in encoder.input_names})
    full = np.asarray(full["sequence_output"])
    # Inputs the encoder does not take (segment_ids here) are ignored.
    selected = encoder.encode_positions(inputs, positions)
    assert selected.shape == (3, 3, 16)
    expected = np.take_along_axis(full, positions[..., None], axis=1)
    np.testing.assert_allclose(selected, expected, atol=1e-5)


def test_hidden_states_and_pre_ln_variant():
    encoder = Encoder(
        **dict(
            ENCODER_H16,
            norm_first=True,
            output_hidden_states=True,
            use_pooler=False,
            hidden_activation="gelu_approximate",
        )
    )
    outputs = encoder(random_inputs())
    assert "pooled_output" not in outputs
    assert len(outputs["hidden_states"]) == 3
    # The last hidden state is the final-LayerNorm'd sequence output.
    np.testing.assert_array_equal(
        outputs["hidden_states"][-1], outputs["sequence_output"]
    )
    final = np.asarray(outputs["sequence_output"])
    np.testing.assert_allclose(final.mean(-1), 0.0, atol=1e-4)


def test_encoder_without_segments_takes_no_segment_input():
    encoder = Encoder(**dict(ENCODER_H16, type_vocabulary_size=0))
    assert encoder.input_names == ("input_ids", "input_mask")
    randomize(encoder)
    assert_outputs_match_numpy(encoder, random_inputs(with_segments=False))


def test_too_long_input_is_a_clear_error():
    encoder = Encoder(**ENCODER_H16)
    with pytest.raises(ValueError, match="max_sequence_length"):
        encoder(random_inputs(length=40))


def test_config_round_trip_rebuilds_the_same_architecture():
    config = dict(
        ENCODER_H16,
        embedding_size=8,
        num_layers=4,
        num_groups=2,
        shared_components="attention",
        norm_first=True,
    )
    encoder = Encoder(**config)
    clone = Encoder.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()
    clone.set_weights(encoder.get_weights())
    inputs = random_inputs()
    np.testing.assert_allclose(
        encoder(inputs)["sequence_output"], clone(inputs)["sequence_output"], atol=1e-6
    )


def test_keras_file_round_trip(tmp_path):
    encoder = Encoder(**dict(ENCODER_H16, num_layers=3, num_groups=1, embedding_size=8))
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, Encoder)
    inputs = random_inputs()
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(encoder(inputs)[name], restored(inputs)[name])


def test_dropout_is_active_only_in_training():
    encoder = Encoder(**dict(ENCODER_H16, dropout_rate=0.5, attention_dropout_rate=0.5))
    inputs = random_inputs()
    first = encoder(inputs, training=False)["sequence_output"]
    np.testing.assert_array_equal(
        first, encoder(inputs, training=False)["sequence_output"]
    )
    assert not np.allclose(first, encoder(inputs, training=True)["sequence_output"])
