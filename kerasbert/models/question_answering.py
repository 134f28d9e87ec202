"""Extractive span question answering (SQuAD-style start/end logits)."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.layers.masking import MASK_NEGATIVE
from kerasbert.models.encoder import Encoder
from kerasbert.models.task import EncoderTask, encoder_inputs, logits_layer


@keras.saving.register_keras_serializable(package="kerasbert")
class SpanLogits(keras.layers.Layer):
    """Splits ``[batch, seq, 2]`` scores into masked start and end logits.

    Padding positions get ``MASK_NEGATIVE`` so a softmax over the sequence
    never picks them.

    Returns:
        ``{"start_logits": [batch, seq], "end_logits": [batch, seq]}``, float32.
    """

    def call(self, scores, input_mask):
        scores = keras.ops.cast(scores, "float32")
        padding = (1.0 - keras.ops.cast(input_mask, "float32")) * MASK_NEGATIVE
        return {
            "start_logits": scores[:, :, 0] + padding,
            "end_logits": scores[:, :, 1] + padding,
        }

    def compute_output_shape(self, scores_shape, input_mask_shape):
        shape = tuple(scores_shape[:2])
        return {"start_logits": shape, "end_logits": shape}


@keras.saving.register_keras_serializable(package="kerasbert")
class SpanQuestionAnswerer(EncoderTask):
    """Predicts the answer span of a question inside a context passage.

    Inputs: the encoder's input dict (question and context packed as
    segments A and B, ``[batch, seq]`` each).
    Outputs: ``{"start_logits", "end_logits"}``, float32 ``[batch, seq]``.
    """

    def __init__(self, encoder: Encoder, dropout_rate: float = 0.1, **kwargs):
        inputs = encoder_inputs(encoder)
        sequence = encoder(inputs)["sequence_output"]
        sequence = keras.layers.Dropout(dropout_rate, name="head_dropout")(sequence)
        scores = logits_layer(2, encoder.initializer_range, "span_scores")(sequence)
        outputs = SpanLogits(name="span_logits")(scores, inputs["input_mask"])
        super().__init__(encoder, inputs=inputs, outputs=outputs, **kwargs)
        self.dropout_rate = dropout_rate

    def head_config(self) -> dict[str, Any]:
        return {"dropout_rate": self.dropout_rate}

    def uses_pooler(self) -> bool:
        return False
