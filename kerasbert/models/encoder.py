"""The encoder every kerasbert variant is built on."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.layers.embeddings import EncoderEmbeddings, truncated_normal
from kerasbert.layers.masking import attention_bias_from_mask
from kerasbert.layers.renamed_arguments import (
    reject_unknown_arguments,
    with_current_names,
)
from kerasbert.layers.transformer_stack import SharedTransformerEncoder
from kerasbert.models.presets import preset_config


def _encode(
    embeddings: EncoderEmbeddings,
    transformer: SharedTransformerEncoder,
    inputs: dict,
    training=None,
    output_positions=None,
) -> list:
    """The encoder's forward pass: embeddings, then every block.

    Args:
        inputs: ``input_ids``, ``input_mask`` and (when the embeddings have
            segments) ``segment_ids``, int32 ``[batch, seq]``; other keys are
            ignored.
        output_positions: optional int32 ``[batch, P]``: the last block
            computes only these positions.

    Returns:
        ``transformer``'s list of ``num_layers + 1`` states ``[batch, seq, H]``
        (the last ``[batch, P, H]`` with ``output_positions``).
    """
    segment_ids = inputs["segment_ids"] if embeddings.type_vocabulary_size else None
    x = embeddings(inputs["input_ids"], segment_ids, training=training)
    return transformer(
        x,
        attention_bias_from_mask(inputs["input_mask"]),
        training=training,
        output_positions=output_positions,
    )


@keras.saving.register_keras_serializable(package="kerasbert")
class Encoder(keras.Model):
    """A BERT-family transformer encoder as a functional ``keras.Model``.

    One class covers BERT (``num_groups == num_layers``), ALBERT (factorized
    ``embedding_size`` and ``num_groups == 1``), RoBERTa/ELECTRA-style encoders
    and DistilBERT (``type_vocabulary_size=0``, ``use_pooler=False``).

    Inputs (a dict; all int32 ``[batch, seq]``):
        input_ids: token ids.
        input_mask: 1 for real tokens, 0 for padding.
        segment_ids: segment (token type) ids; present only when
            ``type_vocabulary_size > 0``.

    Outputs (a dict):
        sequence_output: ``[batch, seq, hidden_size]``.
        pooled_output: ``[batch, hidden_size]``, ``tanh(dense(h_[CLS]))``;
            only when ``use_pooler``.
        hidden_states: list of ``num_layers + 1`` tensors ``[batch, seq,
            hidden_size]`` (embeddings, then each block); only when
            ``output_hidden_states``.

    Args:
        vocabulary_size: number of token ids.
        num_layers: transformer blocks (L).
        num_heads: attention heads per block.
        hidden_size: model width (H).
        intermediate_size: feed-forward width (usually 4H).
        embedding_size: token-embedding width (E); defaults to H. E != H
            adds an E->H projection (ALBERT's factorization).
        num_groups: distinct parameter sets (G); block i uses set
            floor(i*G/L). Defaults to L (no sharing).
        shared_components: ``"all"``, ``"attention"`` or ``"feed_forward"``:
            which sublayers the groups share.
        max_sequence_length: number of learned positions.
        type_vocabulary_size: number of segment ids; 0 drops segment
            embeddings and the ``segment_ids`` input.
        hidden_activation: ``"gelu"`` (exact) or ``"gelu_approximate"`` etc.
        dropout_rate: dropout on embeddings and sublayer outputs.
        attention_dropout_rate: dropout on attention probabilities.
        layer_norm_epsilon: LayerNorm epsilon.
        norm_first: pre-LN blocks instead of BERT's post-LN.
        use_pooler: add the tanh pooler on [CLS].
        output_hidden_states: also return every block's output.
        initializer_range: stddev of the truncated-normal initializer.
        architecture: the model family the weights were read as (``"bert"``,
            ``"albert"``, ``"electra"``, ``"distilbert"``, ``"roberta"``), set
            by the checkpoint readers so that writers keep it rather than
            guess it from the shapes (an ELECTRA with E == H looks like BERT).
            ``None``: unknown, the writers guess.
        shared_embeddings: another encoder's ``EncoderEmbeddings`` whose
            tables, LayerNorm and dropout this encoder uses (it keeps its own
            E->H projection); see ``EncoderEmbeddings``. ELECTRA's generator
            shares the discriminator's this way. Not part of the config.

    Raises:
        ValueError: an unknown keyword argument (Keras would ignore it).
    """

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_size: int,
        intermediate_size: int,
        embedding_size: int | None = None,
        num_groups: int | None = None,
        shared_components: str = "all",
        max_sequence_length: int = 512,
        type_vocabulary_size: int = 2,
        hidden_activation: str = "gelu",
        dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-12,
        norm_first: bool = False,
        use_pooler: bool = True,
        output_hidden_states: bool = False,
        initializer_range: float = 0.02,
        architecture: str | None = None,
        shared_embeddings: EncoderEmbeddings | None = None,
        dtype: Any = None,
        **kwargs,
    ):
        reject_unknown_arguments(kwargs, "encoder")
        embeddings = EncoderEmbeddings(
            vocabulary_size=vocabulary_size,
            hidden_size=hidden_size,
            embedding_size=embedding_size,
            max_sequence_length=max_sequence_length,
            type_vocabulary_size=type_vocabulary_size,
            dropout_rate=dropout_rate,
            layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
            shared_embeddings=shared_embeddings,
            dtype=dtype,
            name="embeddings",
        )
        transformer = SharedTransformerEncoder(
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_groups=num_groups,
            shared_components=shared_components,
            hidden_activation=hidden_activation,
            dropout_rate=dropout_rate,
            attention_dropout_rate=attention_dropout_rate,
            layer_norm_epsilon=layer_norm_epsilon,
            norm_first=norm_first,
            initializer_range=initializer_range,
            dtype=dtype,
            name="transformer",
        )

        inputs = {
            "input_ids": keras.Input((None,), dtype="int32", name="input_ids"),
            "input_mask": keras.Input((None,), dtype="int32", name="input_mask"),
        }
        if type_vocabulary_size > 0:
            inputs["segment_ids"] = keras.Input(
                (None,), dtype="int32", name="segment_ids"
            )
        hidden_states = _encode(embeddings, transformer, inputs)
        outputs = {"sequence_output": hidden_states[-1]}
        if use_pooler:
            pooler = keras.layers.Dense(
                hidden_size,
                activation="tanh",
                kernel_initializer=truncated_normal(initializer_range),
                dtype=dtype,
                name="pooler",
            )
            outputs["pooled_output"] = pooler(hidden_states[-1][:, 0, :])
        if output_hidden_states:
            outputs["hidden_states"] = hidden_states
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.embedding_size = embeddings.embedding_size
        self.num_groups = transformer.num_groups
        self.shared_components = shared_components
        self.max_sequence_length = max_sequence_length
        self.type_vocabulary_size = type_vocabulary_size
        self.hidden_activation = hidden_activation
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.use_pooler = use_pooler
        self.output_hidden_states = output_hidden_states
        self.initializer_range = initializer_range
        self.architecture = architecture

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> Encoder:
        """Builds a randomly initialised encoder of a named architecture.

        Only the architecture: unlike keras-hub's ``from_preset``, no weights
        are loaded (or downloaded). ``kerasbert.load(path)`` reads pretrained
        ones. ``overrides`` replace preset values, e.g. ``dropout_rate=0.0``.
        See ``kerasbert.models.presets.PRESETS`` for the names.
        """
        return cls(**preset_config(name, **overrides))

    @property
    def embeddings(self) -> EncoderEmbeddings:
        return self.get_layer("embeddings")

    @property
    def transformer(self) -> SharedTransformerEncoder:
        return self.get_layer("transformer")

    @property
    def pooler(self) -> keras.layers.Dense | None:
        """The tanh dense layer on [CLS] (``None`` without ``use_pooler``)."""
        return self.get_layer("pooler") if self.use_pooler else None

    def encode_positions(self, inputs: dict, positions=None, training=None):
        """The sequence output at ``positions`` only, ``[batch, P, hidden_size]``.

        Equals ``self(inputs)["sequence_output"]`` gathered at ``positions``
        (int32 ``[batch, P]``; ``None``: every position), but the last block
        computes only those rows (see ``SharedTransformerEncoder``).
        Pretraining losses read the last layer at the masked positions (and
        [CLS]) only; for BERT-mini at seq 128 with 20 predictions this skips
        ~60% of the last block. ``inputs`` may hold other features too.
        """
        states = _encode(
            self.embeddings,
            self.transformer,
            inputs,
            training=training,
            output_positions=positions,
        )
        return states[-1]

    @property
    def token_embedding(self) -> keras.layers.Embedding:
        """The ``[vocab, E]`` token embedding (what MLM heads tie to)."""
        return self.embeddings.token_embedding

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the inputs this encoder expects."""
        names = ("input_ids", "input_mask")
        return names + (("segment_ids",) if self.type_vocabulary_size > 0 else ())

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            embedding_size=self.embedding_size,
            num_groups=self.num_groups,
            shared_components=self.shared_components,
            max_sequence_length=self.max_sequence_length,
            type_vocabulary_size=self.type_vocabulary_size,
            hidden_activation=self.hidden_activation,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            layer_norm_epsilon=self.layer_norm_epsilon,
            norm_first=self.norm_first,
            use_pooler=self.use_pooler,
            output_hidden_states=self.output_hidden_states,
            initializer_range=self.initializer_range,
            architecture=self.architecture,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Encoder:
        """Rebuilds an encoder; configs with the old argument names load too."""
        config = with_current_names(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)
