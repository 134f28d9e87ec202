"""Input embeddings: token + (optional) segment + learned absolute position."""

from __future__ import annotations

import keras

from kerasbert.layers.dropout import Dropout
from kerasbert.layers.renamed_arguments import LoadsRenamedArguments


def truncated_normal(stddev: float) -> keras.initializers.Initializer:
    """BERT's initializer: a normal truncated at two standard deviations."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="kerasbert")
class EncoderEmbeddings(LoadsRenamedArguments, keras.layers.Layer):
    """Sums token, segment and position embeddings, then LayerNorm and dropout.

    When ``embedding_size != hidden_size`` the embeddings are *factorized*
    (ALBERT): the vocabulary is embedded into ``embedding_size`` (E) dimensions
    and a dense layer projects E to ``hidden_size`` (H), so the vocabulary
    matrix costs V*E instead of V*H parameters.

    Args:
        shared_embeddings: a built ``EncoderEmbeddings`` whose token, segment
            and position tables, LayerNorm and dropout this layer uses as its
            own (Keras layer sharing: the variables are counted and trained
            once); only the E->H projection is this layer's. ELECTRA's
            generator reads the discriminator's embeddings this way. Its sizes
            must equal this layer's; not part of the config (the owner of both
            rebuilds the sharing).

    Call arguments:
        input_ids: int tensor ``[batch, seq]``.
        segment_ids: int tensor ``[batch, seq]``; required when
            ``type_vocabulary_size > 0`` and rejected otherwise.

    Returns:
        ``[batch, seq, hidden_size]`` in the layer's compute dtype.
    """

    def __init__(
        self,
        vocabulary_size: int,
        hidden_size: int,
        embedding_size: int | None = None,
        max_sequence_length: int = 512,
        type_vocabulary_size: int = 2,
        dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        initializer_range: float = 0.02,
        shared_embeddings: EncoderEmbeddings | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_size = hidden_size
        self.embedding_size = embedding_size or hidden_size
        self.max_sequence_length = max_sequence_length
        self.type_vocabulary_size = type_vocabulary_size
        self.dropout_rate = dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.shares_tables = shared_embeddings is not None

        initializer = truncated_normal(initializer_range)
        if shared_embeddings is not None:
            self._share_tables_of(shared_embeddings)
        else:
            self.token_embedding = keras.layers.Embedding(
                vocabulary_size,
                self.embedding_size,
                embeddings_initializer=initializer,
                dtype=self.dtype_policy,
                name="token_embedding",
            )
            self.segment_embedding = None
            if type_vocabulary_size > 0:
                self.segment_embedding = keras.layers.Embedding(
                    type_vocabulary_size,
                    self.embedding_size,
                    embeddings_initializer=initializer,
                    dtype=self.dtype_policy,
                    name="segment_embedding",
                )
            self.layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
            )
            self.dropout = Dropout(dropout_rate, dtype=self.dtype_policy)
        self.projection = None
        if self.embedding_size != hidden_size:
            self.projection = keras.layers.Dense(
                hidden_size,
                kernel_initializer=initializer,
                dtype=self.dtype_policy,
                name="projection",
            )

    def _share_tables_of(self, other: EncoderEmbeddings) -> None:
        """Takes ``other``'s tables, LayerNorm and dropout as this layer's own."""
        keys = (
            "vocabulary_size",
            "embedding_size",
            "max_sequence_length",
            "type_vocabulary_size",
            "dropout_rate",
            "layer_norm_epsilon",
        )
        different = [key for key in keys if getattr(self, key) != getattr(other, key)]
        if different:
            raise ValueError(f"Shared embeddings differ in {different}.")
        if not other.built:
            raise ValueError("Shared embeddings must be built first.")
        self.token_embedding = other.token_embedding
        self.segment_embedding = other.segment_embedding
        self.layer_norm = other.layer_norm
        self.dropout = other.dropout
        self.position_embeddings = other.position_embeddings

    @property
    def factorized(self) -> bool:
        return self.projection is not None

    def build(self, input_ids_shape, segment_ids_shape=None):
        if not self.shares_tables:
            self.token_embedding.build(input_ids_shape)
            if self.segment_embedding is not None:
                self.segment_embedding.build(input_ids_shape)
            self.position_embeddings = self.add_weight(
                name="position_embeddings",
                shape=(self.max_sequence_length, self.embedding_size),
                initializer=truncated_normal(self.initializer_range),
            )
            self.layer_norm.build((None, None, self.embedding_size))
        if self.projection is not None:
            self.projection.build((None, None, self.embedding_size))
        self.built = True

    def call(self, input_ids, segment_ids=None, training=None):
        if (segment_ids is None) != (self.segment_embedding is None):
            raise ValueError(
                "segment_ids must be given exactly when the embeddings have "
                f"segment embeddings (type_vocabulary_size="
                f"{self.type_vocabulary_size})."
            )
        sequence_length = input_ids.shape[1]
        if sequence_length is not None and sequence_length > self.max_sequence_length:
            raise ValueError(
                f"Sequence length {sequence_length} exceeds "
                f"max_sequence_length={self.max_sequence_length}."
            )
        if sequence_length is None:
            sequence_length = keras.ops.shape(input_ids)[1]
        embeddings = self.token_embedding(input_ids)
        positions = keras.ops.cast(
            self.position_embeddings[:sequence_length], embeddings.dtype
        )
        embeddings = embeddings + positions[None, :, :]
        if self.segment_embedding is not None:
            embeddings = embeddings + self.segment_embedding(segment_ids)
        embeddings = self.layer_norm(embeddings)
        embeddings = self.dropout(embeddings, training=training)
        if self.projection is not None:
            embeddings = self.projection(embeddings)
        return embeddings

    def compute_output_shape(self, input_ids_shape, segment_ids_shape=None):
        return (*input_ids_shape, self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            hidden_size=self.hidden_size,
            embedding_size=self.embedding_size,
            max_sequence_length=self.max_sequence_length,
            type_vocabulary_size=self.type_vocabulary_size,
            dropout_rate=self.dropout_rate,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config
