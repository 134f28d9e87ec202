"""ELECTRA: a small MLM generator trains a replaced-token-detection discriminator."""

from __future__ import annotations

import inspect
from typing import Any

import keras
import tensorflow as tf

from kerasbert.layers.activations import get_activation
from kerasbert.layers.embeddings import EncoderEmbeddings, truncated_normal
from kerasbert.layers.masked_lm_head import MaskedLMHead
from kerasbert.layers.masking import attention_bias_from_mask
from kerasbert.layers.transformer_encoder import SharedTransformerEncoder
from kerasbert.models.encoder import Encoder
from kerasbert.pretraining.corruption import (
    gumbel_max_sample,
    mask_positions,
    scatter_at_positions,
)
from kerasbert.pretraining.objectives import binary_statistics, masked_lm_statistics

_TRANSFORMER_KEYS = (
    "num_layers",
    "num_heads",
    "hidden_size",
    "intermediate_size",
    "num_groups",
    "shared_components",
    "hidden_activation",
    "dropout",
    "attention_dropout",
    "layer_norm_epsilon",
    "norm_first",
    "initializer_range",
)


def encoder_config(overrides: dict[str, Any]) -> dict[str, Any]:
    """``Encoder`` keyword arguments: its defaults updated with ``overrides``.

    Raises:
        ValueError: a key that ``Encoder`` does not accept.
    """
    parameters = inspect.signature(Encoder.__init__).parameters
    accepted = set(parameters) - {"self", "kwargs", "dtype"}
    unknown = set(overrides) - accepted
    if unknown:
        raise ValueError(f"Unknown encoder options: {sorted(unknown)}.")
    defaults = {
        name: parameters[name].default
        for name in accepted
        if parameters[name].default is not inspect.Parameter.empty
    }
    config = {**defaults, **overrides}
    config["embedding_size"] = config["embedding_size"] or config["hidden_size"]
    config["num_groups"] = config["num_groups"] or config["num_layers"]
    return config


@keras.saving.register_keras_serializable(package="kerasbert")
class ElectraPretrainer(keras.Model):
    """ELECTRA's generator + discriminator with shared embeddings.

    The generator is an encoder ``generator_fraction`` as wide as the
    discriminator (hidden ``H_g = H * fraction``, ``max(1, H_g // 64)`` heads,
    FFN scaled alike, same depth). Both read one embedding layer (token,
    position and segment embeddings of width E plus its LayerNorm) and each
    projects E to its own width when they differ. The generator's MLM head is
    tied to the token embedding.

    Step: the selected positions (``masked_lm_positions``/``_ids``/
    ``_weights`` from the data; ``input_ids`` may already be corrupted, the
    originals are restored from ``masked_lm_ids``) are replaced by ``[MASK]``
    with probability ``mask_token_rate`` (else kept); the generator predicts
    them; each is replaced by a Gumbel-max sample of the generator (no
    gradient through the sample); the discriminator labels every real token
    as replaced (sample != original) or not.
    Loss: ``MLM_generator + rtd_weight * RTD`` with RTD the sigmoid
    cross-entropy averaged over real tokens.

    Args:
        discriminator: ``Encoder`` keyword arguments of the discriminator
            (``use_pooler``/``output_hidden_states`` are not accepted).
        mask_token_id: id of ``[MASK]``.
        generator_fraction: generator width relative to the discriminator.
        rtd_weight: λ, the weight of the discriminator loss.
        mask_token_rate: share of selected positions shown as ``[MASK]``.
    """

    def __init__(
        self,
        discriminator: dict[str, Any],
        mask_token_id: int,
        generator_fraction: float = 0.25,
        rtd_weight: float = 50.0,
        mask_token_rate: float = 0.85,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for key in ("use_pooler", "output_hidden_states"):
            if key in discriminator:
                raise ValueError(f"discriminator must not set {key!r}.")
        config = encoder_config(discriminator)
        del config["use_pooler"], config["output_hidden_states"]
        if not 0 <= mask_token_id < config["vocabulary_size"]:
            raise ValueError(
                f"mask_token_id {mask_token_id} is outside the vocabulary."
            )
        if not 0.0 < generator_fraction <= 1.0:
            raise ValueError(
                f"generator_fraction must be in (0, 1]: {generator_fraction}"
            )
        self.discriminator_config = config
        self.mask_token_id = mask_token_id
        self.generator_fraction = generator_fraction
        self.rtd_weight = rtd_weight
        self.mask_token_rate = mask_token_rate

        generator_hidden = max(1, int(config["hidden_size"] * generator_fraction))
        self.generator_config = {
            **config,
            "hidden_size": generator_hidden,
            "num_heads": max(1, generator_hidden // 64),
            "intermediate_size": max(
                1, int(config["intermediate_size"] * generator_fraction)
            ),
        }
        width = config["embedding_size"]
        init = truncated_normal(config["initializer_range"])
        self.embeddings = EncoderEmbeddings(
            vocabulary_size=config["vocabulary_size"],
            hidden_size=width,
            embedding_size=width,
            max_sequence_length=config["max_sequence_length"],
            type_vocabulary_size=config["type_vocabulary_size"],
            dropout=config["dropout"],
            layer_norm_epsilon=config["layer_norm_epsilon"],
            initializer_range=config["initializer_range"],
            dtype=self.dtype_policy,
            name="embeddings",
        )
        self.generator_projection = self._projection(self.generator_config, "generator")
        self.generator_transformer = SharedTransformerEncoder(
            **{k: self.generator_config[k] for k in _TRANSFORMER_KEYS},
            dtype=self.dtype_policy,
            name="generator_transformer",
        )
        self.generator_head = MaskedLMHead(
            self.embeddings.token_embedding,
            hidden_activation=config["hidden_activation"],
            layer_norm_epsilon=config["layer_norm_epsilon"],
            initializer_range=config["initializer_range"],
            dtype=self.dtype_policy,
            name="generator_head",
        )
        self.discriminator_projection = self._projection(config, "discriminator")
        self.discriminator_transformer = SharedTransformerEncoder(
            **{k: config[k] for k in _TRANSFORMER_KEYS},
            dtype=self.dtype_policy,
            name="discriminator_transformer",
        )
        self.rtd_transform = keras.layers.Dense(
            config["hidden_size"],
            activation=get_activation(config["hidden_activation"]),
            kernel_initializer=init,
            dtype=self.dtype_policy,
            name="rtd_transform",
        )
        self.rtd_logits = keras.layers.Dense(
            1, kernel_initializer=init, dtype="float32", name="rtd_logits"
        )
        self._build_all()

    def _projection(
        self, config: dict[str, Any], role: str
    ) -> keras.layers.Dense | None:
        if config["hidden_size"] == self.discriminator_config["embedding_size"]:
            return None
        return keras.layers.Dense(
            config["hidden_size"],
            kernel_initializer=truncated_normal(config["initializer_range"]),
            dtype=self.dtype_policy,
            name=f"{role}_projection",
        )

    def _build_all(self) -> None:
        """Creates every weight now, so ``.keras`` files load without a call."""
        width = self.discriminator_config["embedding_size"]
        self.embeddings.build((None, None))
        for projection in (self.generator_projection, self.discriminator_projection):
            if projection is not None:
                projection.build((None, None, width))
        generator_hidden = self.generator_config["hidden_size"]
        hidden = self.discriminator_config["hidden_size"]
        self.generator_transformer.build((None, None, generator_hidden))
        self.generator_head.build((None, None, generator_hidden))
        self.discriminator_transformer.build((None, None, hidden))
        self.rtd_transform.build((None, hidden))
        self.rtd_logits.build((None, hidden))
        self.built = True

    def _encode(
        self, projection, transformer, input_ids, features, training, positions=None
    ):
        """``[batch, seq, H]`` sequence output of one of the two encoders.

        With ``positions`` (int32 ``[batch, P]``), only those: ``[batch, P, H]``.
        """
        x = self.embeddings(input_ids, features.get("segment_ids"), training=training)
        if projection is not None:
            x = projection(x)
        bias = attention_bias_from_mask(features["input_mask"])
        return transformer(x, bias, training=training, output_positions=positions)[-1]

    def call(self, features: dict, training: bool = False, seed=None) -> dict:
        """Runs generator, sampling and discriminator.

        Args:
            features: ``input_ids``, ``input_mask`` (``segment_ids``) int32
                ``[batch, seq]``; ``masked_lm_positions``, ``masked_lm_ids``
                int32 and ``masked_lm_weights`` float32 ``[batch, P]``.
            seed: int32 ``[2]`` stateless seed (default ``[0, 0]``).

        Returns:
            ``mlm_logits`` float32 ``[batch, P, vocab]``, ``rtd_logits`` float32
            ``[batch, seq]``, ``rtd_labels`` int32 ``[batch, seq]`` (1 =
            replaced) and ``corrupted_ids`` int32 ``[batch, seq]``.
        """
        seed = tf.zeros([2], tf.int32) if seed is None else tf.cast(seed, tf.int32)
        mask_seed, sample_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 2)
        )
        positions = tf.cast(features["masked_lm_positions"], tf.int32)
        weights = features["masked_lm_weights"]
        original = scatter_at_positions(
            features["input_ids"], positions, features["masked_lm_ids"], weights
        )
        generator_input = mask_positions(
            original,
            positions,
            weights,
            self.mask_token_id,
            self.mask_token_rate,
            mask_seed,
        )
        generated = self._encode(
            self.generator_projection,
            self.generator_transformer,
            generator_input,
            features,
            training,
            positions=positions,
        )
        mlm_logits = self.generator_head(generated)
        samples = gumbel_max_sample(mlm_logits, sample_seed)
        corrupted = scatter_at_positions(original, positions, samples, weights)
        discriminated = self._encode(
            self.discriminator_projection,
            self.discriminator_transformer,
            corrupted,
            features,
            training,
        )
        rtd_logits = self.rtd_logits(self.rtd_transform(discriminated))[..., 0]
        return {
            "mlm_logits": mlm_logits,
            "rtd_logits": tf.cast(rtd_logits, tf.float32),
            "rtd_labels": tf.cast(tf.not_equal(corrupted, original), tf.int32),
            "corrupted_ids": corrupted,
        }

    @property
    def objective_weights(self) -> dict[str, float]:
        return {"mlm": 1.0, "rtd": self.rtd_weight}

    def objective_counts(self, features: dict) -> dict[str, tf.Tensor]:
        return {
            "mlm": tf.reduce_sum(tf.cast(features["masked_lm_weights"], tf.float32)),
            "rtd": tf.reduce_sum(tf.cast(features["input_mask"], tf.float32)),
        }

    def compute_statistics(
        self, features: dict, training: bool, seed: tf.Tensor | None = None
    ) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        """See ``kerasbert.pretraining.objectives.Pretrainer``."""
        outputs = self(features, training=training, seed=seed)
        mlm_total, sums = masked_lm_statistics(
            outputs["mlm_logits"],
            features["masked_lm_ids"],
            features["masked_lm_weights"],
        )
        rtd_total, rtd_sums = binary_statistics(
            outputs["rtd_logits"], outputs["rtd_labels"], features["input_mask"], "rtd"
        )
        sums.update(rtd_sums)
        return {"mlm": mlm_total, "rtd": rtd_total}, sums

    def discriminator(self, use_pooler: bool = False) -> Encoder:
        """A standalone ``Encoder`` holding a copy of the discriminator's weights.

        Its forward pass equals the discriminator's (shared embeddings, own
        projection, transformer); ``use_pooler=True`` adds a freshly
        initialised pooler for classifiers that want one. It records that it
        is an ELECTRA discriminator (``architecture``), so checkpoint writers
        name it as one whatever its sizes.
        """
        # Recorded so converters write it as ELECTRA, whatever its sizes.
        config = {**self.discriminator_config, "architecture": "electra"}
        encoder = Encoder(**config, use_pooler=use_pooler, dtype=self.dtype_policy)
        target, source = encoder.embeddings, self.embeddings
        pairs = [
            (target.token_embedding, source.token_embedding),
            (target.layer_norm, source.layer_norm),
            (encoder.transformer, self.discriminator_transformer),
        ]
        if source.segment_embedding is not None:
            pairs.append((target.segment_embedding, source.segment_embedding))
        if self.discriminator_projection is not None:
            pairs.append((target.projection, self.discriminator_projection))
        for destination, origin in pairs:
            destination.set_weights(origin.get_weights())
        target.position_embeddings.assign(source.position_embeddings)
        return encoder

    def get_config(self) -> dict[str, Any]:
        discriminator = dict(self.discriminator_config)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "discriminator": discriminator,
            "mask_token_id": self.mask_token_id,
            "generator_fraction": self.generator_fraction,
            "rtd_weight": self.rtd_weight,
            "mask_token_rate": self.mask_token_rate,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ElectraPretrainer:
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)
