"""BERT (MLM + NSP), ALBERT (MLM + SOP) and RoBERTa (MLM only) pretrainers.

The three differ only in the sentence task (and in the data: ALBERT's SOP
pairs, RoBERTa's dynamic masking come from the record builder / reader), so
one class covers them: ``MaskedLanguageModel`` plus the pretraining losses.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasbert.models.encoder import Encoder
from kerasbert.models.masked_lm import MaskedLanguageModel
from kerasbert.pretraining.objectives import (
    SummedStatistics,
    classification_statistics,
    masked_lm_statistics,
)


@keras.saving.register_keras_serializable(package="kerasbert")
class MaskedLMPretrainer(SummedStatistics, MaskedLanguageModel):
    """``MaskedLanguageModel`` with its pretraining objectives.

    Features (a dict of ``[batch, ...]`` tensors, as written by the record
    builders): the encoder inputs, ``masked_lm_positions``/``masked_lm_ids``
    int32 ``[batch, P]``, ``masked_lm_weights`` float32 ``[batch, P]`` and,
    with a sentence task, ``next_sentence_labels`` int32 ``[batch]`` or
    ``[batch, 1]``.

    Loss: ``sum(w * CE_mlm) / sum(w) + mean(CE_sentence)``, both normalized
    over the global batch by the trainer.
    """

    @property
    def objective_weights(self) -> dict[str, float]:
        weights = {"mlm": 1.0}
        if self.sentence_task:
            weights[self.sentence_task] = 1.0
        return weights

    @property
    def fine_tuning_encoder(self) -> Encoder:
        """The encoder: see ``Pretrainer.fine_tuning_encoder``."""
        return self.encoder

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Features this model reads."""
        names = (
            *self.encoder.input_names,
            "masked_lm_positions",
            "masked_lm_ids",
            "masked_lm_weights",
        )
        return names + (("next_sentence_labels",) if self.sentence_task else ())

    def objective_counts(self, features: dict) -> dict[str, tf.Tensor]:
        counts = {
            "mlm": tf.reduce_sum(tf.cast(features["masked_lm_weights"], tf.float32))
        }
        if self.sentence_task:
            batch = tf.shape(features["input_ids"])[0]
            counts[self.sentence_task] = tf.cast(batch, tf.float32)
        return counts

    def compute_statistics(
        self, features: dict, training: bool, seed: tf.Tensor | None = None
    ) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        """See ``Pretrainer.compute_statistics``; ``seed`` is unused (no sampling)."""
        del seed
        missing = [name for name in self.feature_names if name not in features]
        if missing:
            raise KeyError(f"Features {missing} are missing; got {sorted(features)}.")
        model_inputs = {
            name: features[name]
            for name in (*self.encoder.input_names, "masked_lm_positions")
        }
        outputs = self.masked_outputs(model_inputs, training=training)
        mlm_total, sums = masked_lm_statistics(
            outputs["mlm_logits"],
            features["masked_lm_ids"],
            features["masked_lm_weights"],
        )
        totals = {"mlm": mlm_total}
        if self.sentence_task:
            sentence_total, sentence_sums = classification_statistics(
                outputs["sentence_logits"],
                features["next_sentence_labels"],
                self.sentence_task,
            )
            totals[self.sentence_task] = sentence_total
            sums.update(sentence_sums)
        return totals, sums
