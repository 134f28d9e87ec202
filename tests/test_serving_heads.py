"""Serving outputs of every model type, checked in-process against Keras."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import tiny_encoder

from kerasbert import (
    Encoder,
    MultipleChoiceClassifier,
    SequenceClassifier,
    SpanQuestionAnswerer,
    TokenClassifier,
)
from kerasbert.tokenizers import BertWordPieceTokenizer
from serving.heads import head_for, mask_positions
from serving.signatures import ServingModule
from serving.tensors import text_example

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefgh", "."]
TEXTS = ["a b c.", "d e f g h"]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return tiny_encoder(
        len(VOCABULARY),
        0,
        num_layers=1,
        hidden_size=16,
        intermediate_size=32,
        max_sequence_length=16,
    )


def _served(model, texts=TEXTS) -> tuple[dict, dict]:
    """(serving outputs of ``texts``, the packed features), eagerly."""
    module = ServingModule(model, BertWordPieceTokenizer(VOCABULARY), 8)
    features = module.pack(tf.constant(texts))
    return module.outputs(features), features


def test_encoder_and_token_classifier_outputs(encoder):
    outputs, features = _served(encoder)
    expected = encoder({n: features[n] for n in encoder.input_names})
    assert sorted(outputs) == ["pooled_output", "sequence_output"]
    np.testing.assert_allclose(
        outputs["sequence_output"], expected["sequence_output"], atol=1e-5
    )
    tagger = TokenClassifier(encoder, 4, dropout_rate=0.0)
    outputs, features = _served(tagger)
    logits = tagger({n: features[n] for n in encoder.input_names})
    np.testing.assert_allclose(
        outputs["probabilities"], tf.nn.softmax(logits), atol=1e-6
    )
    np.testing.assert_array_equal(outputs["input_mask"], features["input_mask"])


def test_span_outputs_name_the_tokens(encoder):
    outputs, features = _served(SpanQuestionAnswerer(encoder, dropout_rate=0.0))
    assert outputs["start_logits"].shape == (2, 8)
    tokens = outputs["tokens"].numpy()
    assert [t.decode() for t in tokens[0, :5]] == ["[CLS]", "a", "b", "c", "."]


def test_regression_signature_reads_tf_examples(encoder):
    regressor = SequenceClassifier(encoder, 1, dropout_rate=0.0, pooling="mean")
    module = ServingModule(regressor, BertWordPieceTokenizer(VOCABULARY), 8)
    assert module.method_names() == {"regress": "tensorflow/serving/regress"}
    examples = tf.constant([text_example(t).SerializeToString() for t in TEXTS])
    scores = module.outputs_from_examples(examples)["outputs"]
    features = module.pack(tf.constant(TEXTS))
    expected = regressor({n: features[n] for n in encoder.input_names})[:, 0]
    np.testing.assert_allclose(scores, expected, atol=1e-6)


def test_unservable_model_and_bad_options_are_refused(encoder):
    with pytest.raises(TypeError, match="MultipleChoiceClassifier"):
        head_for(MultipleChoiceClassifier(encoder))
    tokenizer = BertWordPieceTokenizer(VOCABULARY)
    with pytest.raises(ValueError, match="exceeds the encoder's max_sequence_length"):
        ServingModule(encoder, tokenizer, sequence_length=64)
    with pytest.raises(ValueError, match="2 labels for 3 classes"):
        ServingModule(SequenceClassifier(encoder, 3), tokenizer, 8, labels=["x", "y"])


def test_mask_positions_pads_with_minus_one():
    ids = tf.constant([[2, 4, 5, 4, 3], [2, 5, 3, 0, 0]])
    np.testing.assert_array_equal(
        mask_positions(ids, mask_id=4, count=3), [[1, 3, -1], [-1, -1, -1]]
    )
