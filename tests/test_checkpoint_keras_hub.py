"""keras-hub backbones built from config: outputs match, round trips are exact."""

import warnings

import keras_hub
import numpy as np
import pytest
from checkpoint_helpers import (
    ENCODER_H32,
    assert_same_weights,
    max_difference,
    padded_batch,
)
from model_helpers import randomize

from kerasbert import Encoder
from kerasbert.checkpoints.keras_hub import (
    KERAS_HUB_ARCHITECTURES,
    from_keras_hub,
    to_keras_hub,
)
from kerasbert.checkpoints.mapping import variable_arrays

COMMON = dict(
    num_layers=2,
    num_heads=4,
    hidden_dim=32,
    intermediate_dim=48,
    dropout=0.0,
    max_sequence_length=24,
)
BACKBONES = {
    "bert": lambda: keras_hub.models.BertBackbone(vocabulary_size=99, **COMMON),
    "albert": lambda: keras_hub.models.AlbertBackbone(
        vocabulary_size=99,
        embedding_dim=16,
        num_groups=2,
        **{**COMMON, "num_layers": 4},
    ),
    "electra": lambda: keras_hub.models.ElectraBackbone(
        vocab_size=99, embedding_dim=16, **COMMON
    ),
    "distilbert": lambda: keras_hub.models.DistilBertBackbone(
        vocabulary_size=99, **COMMON
    ),
    "roberta": lambda: keras_hub.models.RobertaBackbone(vocabulary_size=99, **COMMON),
}


def _keras_hub_inputs(inputs):
    renamed = {"token_ids": inputs["input_ids"], "padding_mask": inputs["input_mask"]}
    if "segment_ids" in inputs:
        renamed["segment_ids"] = inputs["segment_ids"]
    return renamed


def _compare(encoder, backbone):
    """Max |diff| of sequence (and pooled) outputs on padded inputs."""
    inputs = padded_batch(99, 12, segments=encoder.type_vocabulary_size)
    ours = encoder(inputs)
    theirs = backbone(_keras_hub_inputs(inputs))
    if not isinstance(theirs, dict):
        theirs = {"sequence_output": theirs}
    differences = [
        max_difference(
            ours["sequence_output"], theirs["sequence_output"], inputs["input_mask"]
        )
    ]
    if "pooled_output" in theirs:
        differences.append(
            float(np.abs(ours["pooled_output"] - theirs["pooled_output"]).max())
        )
    return max(differences)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_to_encoder_and_back(name):
    backbone = BACKBONES[name]()
    randomize(backbone, seed=3)
    encoder = from_keras_hub(backbone)
    difference = _compare(encoder, backbone)
    print(f"keras-hub {name}: max |diff| {difference:.3g}")
    assert difference <= 1e-4
    again = to_keras_hub(encoder, name)
    assert type(again) is type(backbone)
    original, copied = variable_arrays(backbone), variable_arrays(again)
    assert sorted(original) == sorted(copied)
    for path, array in original.items():
        assert np.array_equal(array, copied[path]), path


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_encoder_to_backbone_and_back_is_bit_exact(name):
    spec = KERAS_HUB_ARCHITECTURES[name]
    fits = {
        "bert": {},
        "albert": dict(embedding_size=16, num_groups=1),
        "electra": dict(embedding_size=16),
        "distilbert": dict(type_vocabulary_size=0, use_pooler=False),
        "roberta": dict(type_vocabulary_size=0, use_pooler=False),
    }[name]
    encoder = Encoder(
        **ENCODER_H32,
        **fits,
        hidden_activation=spec.activation,
        layer_norm_epsilon=spec.layer_norm_epsilon,
    )
    randomize(encoder, seed=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backbone = to_keras_hub(encoder, name)
    assert not [w for w in caught if "keras-hub's" in str(w.message)]
    assert type(backbone).__name__ == spec.backbone
    assert _compare(encoder, backbone) <= 1e-4
    assert_same_weights(encoder, from_keras_hub(backbone))


def test_zero_single_segment_row_is_dropped_exactly_and_nonzero_refused():
    encoder = Encoder(
        **ENCODER_H32,
        type_vocabulary_size=1,
        use_pooler=False,
        layer_norm_epsilon=1e-5,
    )
    randomize(encoder, seed=5)
    segment = encoder.embeddings.segment_embedding.embeddings
    with pytest.raises(ValueError, match="segment_embedding"):
        to_keras_hub(encoder, "roberta")
    segment.assign(np.zeros(segment.shape, np.float32))
    backbone = to_keras_hub(encoder, "roberta")
    inputs = padded_batch(99, 12, segments=1)
    ours = encoder(inputs)["sequence_output"]
    without_segments = {k: v for k, v in inputs.items() if k != "segment_ids"}
    theirs = backbone(_keras_hub_inputs(without_segments))
    assert max_difference(ours, theirs, inputs["input_mask"]) <= 1e-4


@pytest.mark.filterwarnings("ignore:keras-hub's")
def test_mismatched_hyperparameters_warn_and_unfit_encoders_are_refused():
    encoder = Encoder(**ENCODER_H32, hidden_activation="gelu")
    with pytest.warns(UserWarning, match="gelu_approximate"):
        to_keras_hub(encoder, "bert")
    with pytest.raises(ValueError, match="embedding_size == hidden_size"):
        to_keras_hub(Encoder(**ENCODER_H32, num_groups=1), "albert")
    with pytest.raises(ValueError, match="pooler"):
        to_keras_hub(Encoder(**ENCODER_H32, type_vocabulary_size=0), "distilbert")
    with pytest.raises(ValueError, match="Unsupported keras-hub backbone"):
        from_keras_hub(keras_hub.models.GPT2Backbone(50, 1, 2, 8, 16))
