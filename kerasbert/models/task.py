"""Base class for models made of an ``Encoder`` plus a task head."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.models.encoder import Encoder


def encoder_inputs(encoder: Encoder, leading_shape: tuple = ()) -> dict:
    """Fresh ``keras.Input``s matching ``encoder``'s inputs.

    Args:
        encoder: the encoder whose input names to mirror.
        leading_shape: extra axes between batch and sequence, e.g.
            ``(None,)`` for multiple choice (``[batch, choices, seq]``).

    Returns:
        ``{name: keras.Input(shape=(*leading_shape, None), dtype="int32")}``.
    """
    return {
        name: keras.Input((*leading_shape, None), dtype="int32", name=name)
        for name in encoder.input_names
    }


class EncoderTask(keras.Model):
    """A functional model wrapping an ``Encoder``; serializes it with its config.

    Subclasses build their graph in ``__init__``, pass ``inputs``/``outputs``
    here, and return their own hyperparameters from ``head_config``. The
    encoder is serialized as a nested object so ``.keras`` files hold it once.
    """

    def __init__(self, encoder: Encoder, *, inputs, outputs, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.encoder = encoder

    def head_config(self) -> dict[str, Any]:
        """Hyperparameters of the head (everything but the encoder)."""
        return {}

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            **self.head_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def logits_layer(units: int, initializer_range: float, name: str) -> keras.layers.Dense:
    """The final projection of a head; float32 so losses see float32 logits."""
    return keras.layers.Dense(
        units,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
        dtype="float32",
        name=name,
    )
