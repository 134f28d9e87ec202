"""Sentence embeddings from an ``Encoder`` (for similarity search, STS)."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.layers.pooling import SequencePooling
from kerasbert.models.encoder import Encoder
from kerasbert.models.task import EncoderTask, encoder_inputs


@keras.saving.register_keras_serializable(package="kerasbert")
class L2Normalize(keras.layers.Layer):
    """Scales each row to unit Euclidean norm (in float32)."""

    def call(self, inputs):
        inputs = keras.ops.cast(inputs, "float32")
        norm = keras.ops.sqrt(
            keras.ops.sum(keras.ops.square(inputs), axis=-1, keepdims=True)
        )
        return inputs / keras.ops.maximum(norm, 1e-12)


@keras.saving.register_keras_serializable(package="kerasbert")
class SentenceEncoder(EncoderTask):
    """Maps each sequence to one vector by mask-aware pooling.

    Inputs: the encoder's input dict (``[batch, seq]`` each).
    Output: float32 ``[batch, hidden]`` embeddings; unit-length when
    ``normalize`` (so a dot product is the cosine similarity).
    """

    def __init__(
        self, encoder: Encoder, pooling: str = "mean", normalize: bool = False, **kwargs
    ):
        inputs = encoder_inputs(encoder)
        sequence = encoder(inputs)["sequence_output"]
        embedding = SequencePooling(
            pooling, dtype=encoder.dtype_policy, name="pooling"
        )(sequence, inputs["input_mask"])
        if normalize:
            embedding = L2Normalize(name="l2_normalize")(embedding)
        else:
            embedding = keras.layers.Activation(
                "linear", dtype="float32", name="embedding"
            )(embedding)
        super().__init__(encoder, inputs=inputs, outputs=embedding, **kwargs)
        self.pooling = pooling
        self.normalize = normalize

    def head_config(self) -> dict[str, Any]:
        return {"pooling": self.pooling, "normalize": self.normalize}

    def uses_pooler(self) -> bool:
        return False
