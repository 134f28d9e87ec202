"""Pretraining heads on an ``Encoder``: masked LM plus an optional sentence task."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from kerasbert.layers.masked_lm_head import MaskedLMHead
from kerasbert.models.encoder import Encoder
from kerasbert.models.task import EncoderTask, encoder_inputs, logits_layer

SENTENCE_TASKS = (None, "nsp", "sop")


def _head_outputs(
    mlm_head: MaskedLMHead,
    sentence_head: keras.layers.Dense | None,
    sequence_output,
    pooled_output=None,
    masked_positions=None,
) -> dict:
    """The pretraining heads' outputs: ``mlm_logits`` (and ``sentence_logits``).

    Args:
        sequence_output: ``[batch, seq, H]``, or ``[batch, P, H]`` already at
            the masked positions when ``masked_positions`` is ``None``.
        pooled_output: ``[batch, H]``; read only with a ``sentence_head``.
        masked_positions: int32 ``[batch, P]`` to gather, or ``None``.
    """
    outputs = {"mlm_logits": mlm_head(sequence_output, masked_positions)}
    if sentence_head is not None:
        outputs["sentence_logits"] = sentence_head(pooled_output)
    return outputs


@keras.saving.register_keras_serializable(package="kerasbert")
class MaskedLanguageModel(EncoderTask):
    """The encoder with BERT's pretraining heads.

    ``sentence_task=None`` is RoBERTa-style MLM only; ``"nsp"`` adds BERT's
    next-sentence head and ``"sop"`` ALBERT's sentence-order head (both are a
    2-way classifier on the pooled output; only the training data differs).

    Inputs: the encoder's input dict plus ``masked_lm_positions`` (int32
    ``[batch, num_predictions]``).
    Outputs: ``{"mlm_logits": [batch, num_predictions, vocab]}`` and, with a
    sentence task, ``"sentence_logits": [batch, 2]``; all float32.
    """

    def __init__(self, encoder: Encoder, sentence_task: str | None = None, **kwargs):
        if sentence_task not in SENTENCE_TASKS:
            raise ValueError(
                f"sentence_task must be one of {SENTENCE_TASKS}, got {sentence_task!r}."
            )
        if sentence_task and not encoder.use_pooler:
            raise ValueError(
                f"sentence_task={sentence_task!r} needs an encoder with "
                "use_pooler=True."
            )
        inputs = encoder_inputs(encoder)
        inputs["masked_lm_positions"] = keras.Input(
            (None,), dtype="int32", name="masked_lm_positions"
        )
        encoded = encoder({name: inputs[name] for name in encoder.input_names})
        mlm_head = MaskedLMHead(
            encoder.token_embedding,
            hidden_activation=encoder.hidden_activation,
            layer_norm_epsilon=encoder.layer_norm_epsilon,
            initializer_range=encoder.initializer_range,
            dtype=encoder.dtype_policy,
            name="mlm_head",
        )
        sentence_head = None
        if sentence_task:
            sentence_head = logits_layer(2, encoder.initializer_range, "sentence_head")
        outputs = _head_outputs(
            mlm_head,
            sentence_head,
            encoded["sequence_output"],
            encoded.get("pooled_output"),
            inputs["masked_lm_positions"],
        )
        super().__init__(encoder, inputs=inputs, outputs=outputs, **kwargs)
        self.sentence_task = sentence_task

    def masked_outputs(self, inputs: dict, training=None) -> dict:
        """``self(inputs)``'s outputs, with the last block run only where read.

        The heads read the last layer at ``masked_lm_positions`` (and at
        [CLS] for the sentence head), so the encoder's last block computes
        just those positions (``Encoder.encode_positions``); the outputs
        equal ``call``'s. Pretraining steps use this.
        """
        positions = tf.cast(inputs["masked_lm_positions"], tf.int32)
        sentence_head = self.get_layer("sentence_head") if self.sentence_task else None
        if sentence_head is None:
            selected = self.encoder.encode_positions(inputs, positions, training)
            return _head_outputs(self.get_layer("mlm_head"), None, selected)
        with_cls = tf.concat([tf.zeros_like(positions[:, :1]), positions], 1)
        selected = self.encoder.encode_positions(inputs, with_cls, training)
        return _head_outputs(
            self.get_layer("mlm_head"),
            sentence_head,
            selected[:, 1:],
            self.encoder.pooler(selected[:, 0]),
        )

    def head_config(self) -> dict[str, Any]:
        return {"sentence_task": self.sentence_task}

    def uses_pooler(self) -> bool:
        return bool(getattr(self, "sentence_task", None))
