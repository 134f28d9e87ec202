"""The residual wrapper shared by the attention and feed-forward sublayers."""

from __future__ import annotations

import keras

from kerasbert.layers.dropout import Dropout
from kerasbert.layers.embeddings import truncated_normal
from kerasbert.layers.renamed_arguments import LoadsRenamedArguments


class ResidualSublayer(LoadsRenamedArguments, keras.layers.Layer):
    """Base for ``x + dropout(transform(x))`` with a LayerNorm before or after.

    Post-LN (BERT, ALBERT, ``norm_first=False``): ``LN(x + dropout(f(x)))``.
    Pre-LN (``norm_first=True``): ``x + dropout(f(LN(x)))``; the encoder then
    adds a final LayerNorm after the last block.

    Subclasses create their weights in ``build_transform`` and compute ``f`` in
    ``transform``; the LayerNorm belongs to the sublayer so that sharing a
    sublayer across depths (ALBERT) shares its LayerNorm too, as in the paper.
    """

    def __init__(
        self,
        hidden_size: int,
        dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        norm_first: bool = False,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.dropout_rate = dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.initializer_range = initializer_range
        self.kernel_initializer = truncated_normal(initializer_range)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.dropout = Dropout(dropout_rate, dtype=self.dtype_policy)

    def dense(self, units: int, name: str, activation=None) -> keras.layers.Dense:
        """A dense layer with BERT's initializer and this layer's dtype policy."""
        return keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        self.layer_norm.build(input_shape)
        self.build_transform(input_shape)
        self.built = True

    def build_transform(self, input_shape) -> None:
        raise NotImplementedError

    def transform(self, x, *args, training=None, **kwargs):
        raise NotImplementedError

    def residual_rows(self, x, *args, **kwargs):
        """The rows of ``x`` that ``transform``'s output rows add to: all of them.

        Overridden by sublayers whose output covers only some input rows.
        """
        return x

    def call(self, x, *args, training=None, **kwargs):
        y = self.layer_norm(x) if self.norm_first else x
        y = self.transform(y, *args, training=training, **kwargs)
        y = self.dropout(y, training=training)
        x = self.residual_rows(x, *args, **kwargs) + y
        return x if self.norm_first else self.layer_norm(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            dropout_rate=self.dropout_rate,
            layer_norm_epsilon=self.layer_norm_epsilon,
            norm_first=self.norm_first,
            initializer_range=self.initializer_range,
        )
        return config
