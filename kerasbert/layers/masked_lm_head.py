"""Masked-language-model head with output weights tied to the token embedding."""

from __future__ import annotations

import keras

from kerasbert.layers.activations import get_activation
from kerasbert.layers.embeddings import truncated_normal


class _TiedWeights:
    """Holds the token-embedding layer without Keras tracking it.

    The embedding belongs to the encoder; tracking it here too would list and
    save the vocabulary matrix twice.
    """

    __slots__ = ("layer",)

    def __init__(self, layer: keras.layers.Embedding):
        self.layer = layer


@keras.saving.register_keras_serializable(package="kerasbert")
class MaskedLMHead(keras.layers.Layer):
    """Predicts the vocabulary distribution at selected positions.

    ``gather(positions) -> dense(E) -> activation -> LayerNorm -> x @ Wᵀ + b``
    where ``W`` is the encoder's token-embedding matrix ``[vocab, E]`` (tied,
    not copied) and ``b`` is a per-token bias owned by this head. With a
    factorized embedding (ALBERT) the transform maps H to E.

    Args:
        token_embedding: the encoder's ``keras.layers.Embedding`` to tie to.

    Call arguments:
        sequence_output: ``[batch, seq, hidden]``.
        masked_positions: int ``[batch, num_predictions]``; positions to score.
            ``None`` when ``sequence_output`` already holds only those
            positions (``[batch, num_predictions, hidden]``, as an encoder
            run with ``output_positions`` returns it).

    Returns:
        float32 logits ``[batch, num_predictions, vocab]``.
    """

    def __init__(
        self,
        token_embedding: keras.layers.Embedding,
        hidden_activation: str = "gelu",
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._tied = _TiedWeights(token_embedding)
        self.vocabulary_size = token_embedding.input_dim
        self.embedding_size = token_embedding.output_dim
        self.hidden_activation = hidden_activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.transform = keras.layers.Dense(
            self.embedding_size,
            activation=get_activation(hidden_activation),
            kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy,
            name="transform",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )

    def build(self, sequence_output_shape, masked_positions_shape=None):
        self.transform.build(sequence_output_shape)
        self.layer_norm.build((None, None, self.embedding_size))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.vocabulary_size,), initializer="zeros"
        )
        self.built = True

    def call(self, sequence_output, masked_positions=None):
        selected = sequence_output
        if masked_positions is not None:
            selected = keras.ops.take_along_axis(
                sequence_output,
                keras.ops.expand_dims(keras.ops.cast(masked_positions, "int32"), -1),
                axis=1,
            )
        hidden = self.layer_norm(self.transform(selected))
        embedding_matrix = keras.ops.cast(self._tied.layer.embeddings, hidden.dtype)
        logits = keras.ops.matmul(hidden, keras.ops.transpose(embedding_matrix))
        return keras.ops.cast(logits, "float32") + keras.ops.cast(
            self.output_bias, "float32"
        )

    def compute_output_shape(self, sequence_output_shape, masked_positions_shape=None):
        if masked_positions_shape is None:
            return (*sequence_output_shape[:-1], self.vocabulary_size)
        return (*masked_positions_shape, self.vocabulary_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_activation=self.hidden_activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config
