"""What each kind of model returns when served: its signature outputs.

A head maps the packed features (int32 ``[batch, seq]`` ``input_ids``,
``input_mask``, ``segment_ids``) to a dict of output tensors, all with the
batch as their first axis (so TF Serving's batcher can split them):

=====================  =====================================================
model                  outputs
=====================  =====================================================
Encoder                ``sequence_output`` [B,S,H], ``pooled_output`` [B,H]
SentenceEncoder        ``embedding`` [B,H]
SequenceClassifier     ``probabilities`` [B,C], ``logits`` [B,C]; with one
                       class (regression) ``score`` [B]
TokenClassifier        ``probabilities`` [B,S,C], ``input_mask`` [B,S]
SpanQuestionAnswerer   ``start_logits``, ``end_logits`` [B,S], ``tokens`` [B,S]
MaskedLanguageModel    at the first P ``[MASK]`` tokens of each text:
                       ``mask_positions`` [B,P] (-1: no such mask),
                       ``top_ids`` [B,P,K], ``top_tokens`` [B,P,K],
                       ``top_probabilities`` [B,P,K]
=====================  =====================================================

Float outputs are float32 whatever the model's compute dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from kerasbert.models import (
    Encoder,
    MaskedLanguageModel,
    SentenceEncoder,
    SequenceClassifier,
    SpanQuestionAnswerer,
    TokenClassifier,
)

Features = dict[str, tf.Tensor]
Outputs = dict[str, tf.Tensor]


@dataclass(frozen=True)
class HeadOptions:
    """Settings some heads need.

    Attributes:
        vocabulary: id -> token string (for token outputs).
        mask_id: id of ``[MASK]`` (MLM).
        top_k: candidates per masked position (MLM).
        max_predictions: masked positions scored per text (MLM).
    """

    vocabulary: tuple[str, ...]
    mask_id: int
    top_k: int = 5
    max_predictions: int = 8


def _float32(outputs: Outputs) -> Outputs:
    return {
        name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
        for name, value in outputs.items()
    }


def _encoder_inputs(model: keras.Model, features: Features) -> Features:
    encoder = model if isinstance(model, Encoder) else model.encoder
    return {name: features[name] for name in encoder.input_names}


def encoder_head(model: Encoder, features: Features, options: HeadOptions) -> Outputs:
    outputs = model(_encoder_inputs(model, features), training=False)
    return {k: v for k, v in outputs.items() if k != "hidden_states"}


def sentence_head(
    model: SentenceEncoder, features: Features, options: HeadOptions
) -> Outputs:
    return {"embedding": model(_encoder_inputs(model, features), training=False)}


def classifier_head(
    model: SequenceClassifier, features: Features, options: HeadOptions
) -> Outputs:
    logits = tf.cast(
        model(_encoder_inputs(model, features), training=False), tf.float32
    )
    if model.num_classes == 1:
        return {"score": logits[:, 0]}
    return {"probabilities": tf.nn.softmax(logits), "logits": logits}


def token_classifier_head(
    model: TokenClassifier, features: Features, options: HeadOptions
) -> Outputs:
    logits = tf.cast(
        model(_encoder_inputs(model, features), training=False), tf.float32
    )
    return {
        "probabilities": tf.nn.softmax(logits),
        "input_mask": features["input_mask"],
    }


def span_head(
    model: SpanQuestionAnswerer, features: Features, options: HeadOptions
) -> Outputs:
    outputs = model(_encoder_inputs(model, features), training=False)
    vocabulary = tf.constant(options.vocabulary)
    return {**outputs, "tokens": tf.gather(vocabulary, features["input_ids"])}


def mask_positions(input_ids: tf.Tensor, mask_id: int, count: int) -> tf.Tensor:
    """Positions of the first ``count`` ``mask_id`` tokens per row, -1 padded.

    Args:
        input_ids: int32 ``[batch, seq]``.

    Returns:
        int32 ``[batch, min(count, seq)]``.
    """
    is_mask = tf.equal(input_ids, mask_id)
    # A stable sort on "not a mask" puts mask positions first, in order.
    order = tf.argsort(tf.cast(~is_mask, tf.int32), axis=1, stable=True)[:, :count]
    found = tf.gather(is_mask, order, batch_dims=1)
    return tf.where(found, tf.cast(order, tf.int32), -1)


def mlm_head(
    model: MaskedLanguageModel, features: Features, options: HeadOptions
) -> Outputs:
    positions = mask_positions(
        features["input_ids"], options.mask_id, options.max_predictions
    )
    found = positions >= 0
    inputs = {
        **_encoder_inputs(model, features),
        "masked_lm_positions": tf.maximum(positions, 0),
    }
    logits = tf.cast(model(inputs, training=False)["mlm_logits"], tf.float32)
    probabilities, ids = tf.math.top_k(tf.nn.softmax(logits), k=options.top_k)
    found = found[:, :, None]
    ids = tf.where(found, ids, -1)
    vocabulary = tf.constant(options.vocabulary)
    return {
        "mask_positions": positions,
        "top_ids": ids,
        "top_tokens": tf.where(found, tf.gather(vocabulary, tf.maximum(ids, 0)), ""),
        "top_probabilities": tf.where(found, probabilities, 0.0),
    }


Head = Callable[[keras.Model, Features, HeadOptions], Outputs]

# Most specific first: task models are checked before the bare Encoder.
HEADS: tuple[tuple[type, Head], ...] = (
    (MaskedLanguageModel, mlm_head),
    (SpanQuestionAnswerer, span_head),
    (SequenceClassifier, classifier_head),
    (TokenClassifier, token_classifier_head),
    (SentenceEncoder, sentence_head),
    (Encoder, encoder_head),
)


def head_for(model: keras.Model) -> Head:
    """The head serving ``model``'s type.

    Raises:
        TypeError: a model type with no serving head (e.g.
            MultipleChoiceClassifier, whose inputs are [B, choices, S]).
    """
    for model_type, head in HEADS:
        if isinstance(model, model_type):
            return lambda m, f, o, head=head: _float32(head(m, f, o))
    supported = ", ".join(t.__name__ for t, _ in HEADS)
    raise TypeError(
        f"Cannot export a {type(model).__name__} for serving; supported: {supported}."
    )
