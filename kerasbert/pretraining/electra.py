"""ELECTRA: a small MLM generator trains a replaced-token-detection discriminator."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from kerasbert.layers.activations import get_activation
from kerasbert.layers.embeddings import truncated_normal
from kerasbert.layers.masked_lm_head import MaskedLMHead
from kerasbert.layers.renamed_arguments import with_current_names
from kerasbert.models.encoder import Encoder
from kerasbert.pretraining.corruption import (
    gumbel_max_sample,
    replace_with_mask,
    scatter_at_positions,
)
from kerasbert.pretraining.objectives import (
    SummedStatistics,
    binary_statistics,
    masked_lm_statistics,
)

#: ``Encoder`` arguments the pretrainer sets itself (or Keras' own).
_SET_HERE = (
    "name",
    "trainable",
    "dtype",
    "architecture",
    "use_pooler",
    "output_hidden_states",
)


@keras.saving.register_keras_serializable(package="kerasbert")
class ElectraPretrainer(SummedStatistics, keras.Model):
    """ELECTRA's generator + discriminator: two ``Encoder``s, one embedding.

    As Model Garden composes a generator network and a discriminator network,
    ``generator`` and ``discriminator`` are ``Encoder``s (no pooler). The
    generator is ``generator_fraction`` as wide as the discriminator (hidden
    ``H_g = H * fraction``, ``max(1, H_g // 64)`` heads, FFN scaled alike,
    same depth) and shares the discriminator's embedding layer (token,
    position and segment tables of width E, LayerNorm, dropout); each encoder
    projects E to its own width when they differ. The generator's MLM head is
    tied to the token embedding. ``discriminator`` is the encoder to
    fine-tune, an ``Encoder`` with ``architecture="electra"``.

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
            (``use_pooler``/``output_hidden_states`` are not accepted). Old
            argument names (``dropout``) are read as the current ones.
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
        if not 0.0 < generator_fraction <= 1.0:
            raise ValueError(
                f"generator_fraction must be in (0, 1]: {generator_fraction}"
            )
        self.discriminator = Encoder(
            **{**discriminator, "architecture": "electra"},
            use_pooler=False,
            dtype=self.dtype_policy,
            name="discriminator",
        )
        config = self.discriminator.get_config()
        if not 0 <= mask_token_id < config["vocabulary_size"]:
            raise ValueError(
                f"mask_token_id {mask_token_id} is outside the vocabulary."
            )
        #: The discriminator's ``Encoder`` arguments, defaults filled in.
        self.discriminator_config = {
            key: value for key, value in config.items() if key not in _SET_HERE
        }
        self.mask_token_id = mask_token_id
        self.generator_fraction = generator_fraction
        self.rtd_weight = rtd_weight
        self.mask_token_rate = mask_token_rate

        generator_hidden = max(1, int(config["hidden_size"] * generator_fraction))
        generator_sizes = {
            "hidden_size": generator_hidden,
            "num_heads": max(1, generator_hidden // 64),
            "intermediate_size": max(
                1, int(config["intermediate_size"] * generator_fraction)
            ),
        }
        self.generator = Encoder(
            **{**self.discriminator_config, **generator_sizes},
            use_pooler=False,
            shared_embeddings=self.discriminator.embeddings,
            dtype=self.dtype_policy,
            name="generator",
        )
        self.generator_head = MaskedLMHead(
            self.generator.token_embedding,
            hidden_activation=config["hidden_activation"],
            layer_norm_epsilon=config["layer_norm_epsilon"],
            initializer_range=config["initializer_range"],
            dtype=self.dtype_policy,
            name="generator_head",
        )
        init = truncated_normal(config["initializer_range"])
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
        # Every weight now, so ``.keras`` files load without a call.
        self.generator_head.build((None, None, generator_hidden))
        self.rtd_transform.build((None, config["hidden_size"]))
        self.rtd_logits.build((None, config["hidden_size"]))
        self.built = True

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
        generator_input = replace_with_mask(
            original,
            positions,
            weights,
            self.mask_token_id,
            self.mask_token_rate,
            mask_seed,
        )
        generated = self.generator.encode_positions(
            {**features, "input_ids": generator_input}, positions, training
        )
        mlm_logits = self.generator_head(generated)
        samples = gumbel_max_sample(mlm_logits, sample_seed)
        corrupted = scatter_at_positions(original, positions, samples, weights)
        discriminated = self.discriminator.encode_positions(
            {**features, "input_ids": corrupted}, training=training
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

    @property
    def fine_tuning_encoder(self) -> Encoder:
        """The discriminator: see ``Pretrainer.fine_tuning_encoder``."""
        return self.discriminator

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            discriminator=dict(self.discriminator_config),
            mask_token_id=self.mask_token_id,
            generator_fraction=self.generator_fraction,
            rtd_weight=self.rtd_weight,
            mask_token_rate=self.mask_token_rate,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ElectraPretrainer:
        config = dict(config)
        config["discriminator"] = with_current_names(config["discriminator"])
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)
