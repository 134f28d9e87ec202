"""``Distiller``: trains a student encoder to imitate a frozen teacher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from kerasbert.distillation.losses import (
    cosine_loss,
    hidden_mse_loss,
    masked_lm_loss,
    soft_target_loss,
)
from kerasbert.distillation.student import validate_layer_map
from kerasbert.layers.masking import attention_bias_from_mask
from kerasbert.models.encoder import Encoder
from kerasbert.models.masked_lm import MaskedLanguageModel

LOSS_NAMES = ("soft_target", "mlm", "cosine", "hidden_mse")


def split_model(model: Encoder | MaskedLanguageModel) -> tuple[Encoder, Any]:
    """``(encoder, mlm_head or None)`` of an encoder or a masked LM."""
    if isinstance(model, MaskedLanguageModel):
        return model.encoder, model.get_layer("mlm_head")
    if isinstance(model, Encoder):
        return model, None
    raise TypeError(
        f"Expected an Encoder or MaskedLanguageModel, got {type(model).__name__}."
    )


def encoder_hidden_states(
    encoder: Encoder, batch: dict[str, tf.Tensor], training: bool
) -> list[tf.Tensor]:
    """All ``L + 1`` hidden states ``[B, S, H]`` of ``encoder`` on ``batch``.

    Runs the encoder's own embedding and transformer layers, whatever its
    ``output_hidden_states`` setting. Encoders with segment embeddings get
    ``batch["segment_ids"]`` or, when absent, all zeros (single segment).
    """
    segment_ids = None
    if encoder.type_vocabulary_size > 0:
        segment_ids = batch.get("segment_ids", tf.zeros_like(batch["input_ids"]))
    embedded = encoder.embeddings(batch["input_ids"], segment_ids, training=training)
    bias = attention_bias_from_mask(batch["input_mask"])
    return encoder.transformer(embedded, bias, training=training)


@keras.saving.register_keras_serializable(package="kerasbert")
class Distiller(keras.Model):
    """DistilBERT training: a frozen teacher, a student, a weighted loss.

    ``loss = soft_target_weight * KL(teacher/T || student/T) * T²``
    ``     + mlm_weight * CE(student MLM logits, masked ids)``
    ``     + cosine_weight * (1 - cos) of the last hidden states``
    ``     + hidden_mse_weight * MSE(student block i, teacher block layer_map[i])``

    A weight of 0 switches a loss off (and skips computing it). The two MLM
    losses need both models to be ``MaskedLanguageModel``s; the others work on
    plain ``Encoder``s, which is how teachers without an MLM head (e.g.
    sentence-transformer checkpoints) are distilled. Student and teacher must
    have the same hidden size (``build_student`` guarantees it).

    Training data (``fit``): dicts with int32 ``[B, S]`` ``input_ids`` and
    ``input_mask`` and, for the MLM losses, ``masked_lm_positions``,
    ``masked_lm_ids`` (int32 ``[B, P]``) and ``masked_lm_weights`` (float32
    ``[B, P]``). A teacher with segment embeddings sees segment 0.

    Args:
        teacher: frozen (set non-trainable here).
        student: the model being trained.
        layer_map: teacher block each student block imitates (for
            ``hidden_mse``); length = student depth.
        temperature: softmax temperature T of the soft-target loss.
    """

    def __init__(
        self,
        teacher: Encoder | MaskedLanguageModel,
        student: Encoder | MaskedLanguageModel,
        layer_map: Sequence[int],
        temperature: float = 2.0,
        soft_target_weight: float = 5.0,
        mlm_weight: float = 2.0,
        cosine_weight: float = 1.0,
        hidden_mse_weight: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        teacher_encoder, teacher_head = split_model(teacher)
        student_encoder, student_head = split_model(student)
        self.layer_map = validate_layer_map(layer_map, teacher_encoder.num_layers)
        if len(self.layer_map) != student_encoder.num_layers:
            raise ValueError(
                f"layer_map has {len(self.layer_map)} entries but the student has "
                f"{student_encoder.num_layers} blocks."
            )
        if teacher_encoder.hidden_size != student_encoder.hidden_size:
            raise ValueError(
                "Teacher and student hidden sizes differ "
                f"({teacher_encoder.hidden_size} vs {student_encoder.hidden_size})."
            )
        self.loss_weights = {
            "soft_target": float(soft_target_weight),
            "mlm": float(mlm_weight),
            "cosine": float(cosine_weight),
            "hidden_mse": float(hidden_mse_weight),
        }
        if any(weight < 0 for weight in self.loss_weights.values()):
            raise ValueError(f"Loss weights must be >= 0, got {self.loss_weights}.")
        if not any(self.loss_weights.values()):
            raise ValueError("At least one loss weight must be positive.")
        needs_heads = self.loss_weights["soft_target"] or self.loss_weights["mlm"]
        if needs_heads and (teacher_head is None or student_head is None):
            raise ValueError(
                "soft_target and mlm losses need MaskedLanguageModel teacher and "
                "student; set their weights to 0 for plain encoders (use "
                "hidden_mse_weight and cosine_weight instead)."
            )
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        teacher.trainable = False
        self.teacher = teacher
        self.student = student
        self.temperature = float(temperature)
        self.uses_mlm = bool(needs_heads)
        self.loss_trackers = {
            name: keras.metrics.Mean(name=f"{name}_loss")
            for name in ("total", *LOSS_NAMES)
            if name == "total" or self.loss_weights[name]
        }

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.loss_trackers.values())

    def _forward(self, model, batch: dict[str, tf.Tensor], training: bool):
        encoder, head = split_model(model)
        states = encoder_hidden_states(encoder, batch, training)
        logits = None
        if self.uses_mlm:
            logits = head(states[-1], batch["masked_lm_positions"])
        return states, logits

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """The student's last hidden state ``[B, S, H]``."""
        return self._forward(self.student, inputs, training)[0][-1]

    def compute_losses(
        self, batch: dict[str, tf.Tensor], training: bool = False
    ) -> dict[str, tf.Tensor]:
        """The enabled (unweighted) losses and their weighted ``"total"``."""
        teacher_states, teacher_logits = self._forward(self.teacher, batch, False)
        teacher_states = [tf.stop_gradient(state) for state in teacher_states]
        student_states, student_logits = self._forward(self.student, batch, training)
        mask = batch["input_mask"]
        losses = {}
        if self.loss_weights["soft_target"]:
            losses["soft_target"] = soft_target_loss(
                student_logits,
                tf.stop_gradient(teacher_logits),
                batch["masked_lm_weights"],
                self.temperature,
            )
        if self.loss_weights["mlm"]:
            losses["mlm"] = masked_lm_loss(
                student_logits, batch["masked_lm_ids"], batch["masked_lm_weights"]
            )
        if self.loss_weights["cosine"]:
            losses["cosine"] = cosine_loss(student_states[-1], teacher_states[-1], mask)
        if self.loss_weights["hidden_mse"]:
            losses["hidden_mse"] = hidden_mse_loss(
                student_states[1:],
                [teacher_states[index + 1] for index in self.layer_map],
                mask,
            )
        losses["total"] = tf.add_n(
            [self.loss_weights[name] * value for name, value in losses.items()]
        )
        return losses

    def _update_metrics(self, losses: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        for name, value in losses.items():
            self.loss_trackers[name].update_state(value)
        return {tracker.name: tracker.result() for tracker in self.metrics}

    def train_step(self, data):
        variables = self.trainable_variables  # the student's: the teacher is frozen
        with tf.GradientTape() as tape:
            losses = self.compute_losses(data, training=True)
        gradients = tape.gradient(losses["total"], variables)
        self.optimizer.apply(gradients, variables)
        return self._update_metrics(losses)

    def test_step(self, data):
        return self._update_metrics(self.compute_losses(data, training=False))

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "student": keras.saving.serialize_keras_object(self.student),
            "layer_map": list(self.layer_map),
            "temperature": self.temperature,
            **{f"{name}_weight": weight for name, weight in self.loss_weights.items()},
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Distiller:
        config = dict(config)
        for key in ("teacher", "student"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
