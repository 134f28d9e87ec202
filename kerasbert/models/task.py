"""Base class for models made of an ``Encoder`` plus a task head."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.layers.renamed_arguments import (
    reject_unknown_arguments,
    with_current_names,
)
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
        reject_unknown_arguments(kwargs, type(self).__name__)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.encoder = encoder

    def head_config(self) -> dict[str, Any]:
        """Hyperparameters of the head (everything but the encoder)."""
        return {}

    def uses_pooler(self) -> bool:
        """Whether the head reads the encoder's ``pooled_output``.

        True unless a subclass says otherwise, so that a head that does use
        it is never silently left with an untrained pooler.
        """
        return True

    @property
    def trainable_weights(self) -> list:
        """The trainable weights, without the pooler's when the head skips it.

        An unused pooler gets no gradient: Keras would warn "Gradients do not
        exist for variables ['pooler/kernel', 'pooler/bias']" on every fit and
        the optimizer would keep moments for it. Its weights still belong to
        the model (``weights``), so saving and converting keep them.
        """
        weights = super().trainable_weights
        encoder = getattr(self, "encoder", None)
        if encoder is None or encoder.pooler is None or self.uses_pooler():
            return weights
        unused = {id(variable) for variable in encoder.pooler.weights}
        return [variable for variable in weights if id(variable) not in unused]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            **self.head_config(),
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        """Rebuilds the model; configs with the old argument names load too."""
        config = with_current_names(config)
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
