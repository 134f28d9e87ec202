"""Position-wise feed-forward network as a residual sublayer."""

from __future__ import annotations

import keras

from kerasbert.layers.activations import get_activation
from kerasbert.layers.residual import ResidualSublayer


@keras.saving.register_keras_serializable(package="kerasbert")
class FeedForwardBlock(ResidualSublayer):
    """``dense(H -> I) -> activation -> dense(I -> H)`` with residual + LN.

    Call arguments:
        x: ``[..., hidden_size]`` (the encoder passes ``[batch * seq, hidden]``).

    Returns:
        Same shape as ``x``.
    """

    def __init__(
        self, intermediate_size: int, hidden_activation: str = "gelu", **kwargs
    ):
        super().__init__(**kwargs)
        self.intermediate_size = intermediate_size
        self.hidden_activation = hidden_activation
        self.intermediate = self.dense(
            intermediate_size,
            name="intermediate",
            activation=get_activation(hidden_activation),
        )
        self.output_projection = self.dense(self.hidden_size, name="output")

    def build_transform(self, input_shape):
        self.intermediate.build(input_shape)
        self.output_projection.build((*input_shape[:-1], self.intermediate_size))

    def transform(self, x, training=None):
        return self.output_projection(self.intermediate(x))

    def get_config(self):
        config = super().get_config()
        config.update(
            intermediate_size=self.intermediate_size,
            hidden_activation=self.hidden_activation,
        )
        return config
