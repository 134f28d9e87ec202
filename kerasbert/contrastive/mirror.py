"""``MirrorBERT``: self-supervised contrastive fine-tuning of a sentence encoder."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from kerasbert.contrastive.losses import info_nce_loss
from kerasbert.models.encoder import Encoder
from kerasbert.models.sentence_encoder import SentenceEncoder

# Mirror-BERT's temperatures (Liu et al. 2021).
SENTENCE_TEMPERATURE = 0.04
WORD_TEMPERATURE = 0.2


def with_dropout(encoder: Encoder, rate: float) -> Encoder:
    """A copy of ``encoder`` (same weights) whose dropout rates are ``rate``.

    Mirror-BERT's feature-level augmentation is the encoder's own dropout
    (hidden and attention), so a checkpoint saved with other rates is rebuilt.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"Dropout rate must be in [0, 1), got {rate}.")
    config = {
        **encoder.get_config(),
        "dropout_rate": rate,
        "attention_dropout_rate": rate,
    }
    copy = Encoder.from_config(config)
    copy.set_weights(encoder.get_weights())
    return copy


@keras.saving.register_keras_serializable(package="kerasbert")
class MirrorBERT(keras.Model):
    """Trains a ``SentenceEncoder`` so both views of each string agree.

    Each training element is ``{"view_a": inputs, "view_b": inputs}``: two
    packings of the same ``B`` strings (``view_b`` usually span-masked, see
    ``mirror_dataset``). Both views run through the encoder in one
    ``[2B, S]`` batch with dropout on, so every row gets its own dropout
    mask; the loss is ``info_nce_loss`` over the ``2B`` pooled embeddings.

    Args:
        sentence_encoder: pooling (``"cls"`` or ``"mean"``) and encoder being
            trained; export it (or its ``encoder``) after training.
        temperature: InfoNCE temperature tau.
    """

    def __init__(
        self,
        sentence_encoder: SentenceEncoder,
        temperature: float = SENTENCE_TEMPERATURE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.sentence_encoder = sentence_encoder
        self.temperature = float(temperature)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker]

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """Embeddings ``[B, H]`` of one view."""
        return self.sentence_encoder(inputs, training=training)

    def contrastive_loss(
        self, data: dict[str, dict[str, tf.Tensor]], training: bool = False
    ) -> tf.Tensor:
        """InfoNCE of one ``{"view_a", "view_b"}`` batch."""
        view_a, view_b = data["view_a"], data["view_b"]
        both = {name: tf.concat([view_a[name], view_b[name]], 0) for name in view_a}
        embeddings = self.sentence_encoder(both, training=training)
        embedding_a, embedding_b = tf.split(embeddings, 2, axis=0)
        return info_nce_loss(embedding_a, embedding_b, self.temperature)

    def train_step(self, data):
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.contrastive_loss(data, training=True)
        gradients = tape.gradient(loss, variables)
        # The encoder's pooler (unused by SentenceEncoder) gets no gradient; a
        # zero one keeps the optimizer's variable list equal to
        # ``trainable_variables``, which BackupAndRestore relies on.
        gradients = [
            tf.zeros_like(v) if g is None else g
            for g, v in zip(gradients, variables, strict=True)
        ]
        self.optimizer.apply(gradients, variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        self.loss_tracker.update_state(self.contrastive_loss(data, training=False))
        return {"loss": self.loss_tracker.result()}

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sentence_encoder": keras.saving.serialize_keras_object(
                self.sentence_encoder
            ),
            "temperature": self.temperature,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MirrorBERT:
        config = dict(config)
        config["sentence_encoder"] = keras.saving.deserialize_keras_object(
            config["sentence_encoder"]
        )
        return cls(**config)
