"""Sequence, token and multiple-choice classifiers on an ``Encoder``."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.layers.pooling import SequencePooling
from kerasbert.models.encoder import Encoder
from kerasbert.models.task import EncoderTask, encoder_inputs, logits_layer


def _sentence_features(encoder: Encoder, inputs: dict, pooling: str):
    """``[batch, hidden]`` features of each sequence for a classifier.

    ``"pooled"`` uses the encoder's tanh pooler (BERT's choice); ``"cls"``,
    ``"mean"`` and ``"max"`` pool the sequence output directly.
    """
    outputs = encoder(inputs)
    if pooling == "pooled":
        if "pooled_output" not in outputs:
            raise ValueError(
                "pooling='pooled' needs an encoder with use_pooler=True; "
                "use 'cls', 'mean' or 'max' instead."
            )
        return outputs["pooled_output"]
    return SequencePooling(pooling, dtype=encoder.dtype_policy, name="pooling")(
        outputs["sequence_output"], inputs["input_mask"]
    )


@keras.saving.register_keras_serializable(package="kerasbert")
class SequenceClassifier(EncoderTask):
    """Classifies (or regresses) whole sequences.

    Inputs: the encoder's input dict (``[batch, seq]`` each).
    Output: float32 logits ``[batch, num_classes]`` (use ``num_classes=1``
    for regression such as STS-B scores).
    """

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        dropout_rate: float = 0.1,
        pooling: str = "pooled",
        **kwargs,
    ):
        inputs = encoder_inputs(encoder)
        features = _sentence_features(encoder, inputs, pooling)
        features = keras.layers.Dropout(dropout_rate, name="head_dropout")(features)
        logits = logits_layer(num_classes, encoder.initializer_range, "logits")(
            features
        )
        super().__init__(encoder, inputs=inputs, outputs=logits, **kwargs)
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate
        self.pooling = pooling

    def head_config(self) -> dict[str, Any]:
        return {
            "num_classes": self.num_classes,
            "dropout_rate": self.dropout_rate,
            "pooling": self.pooling,
        }

    def uses_pooler(self) -> bool:
        return getattr(self, "pooling", None) == "pooled"


@keras.saving.register_keras_serializable(package="kerasbert")
class TokenClassifier(EncoderTask):
    """Labels every token (NER, POS tagging).

    Inputs: the encoder's input dict (``[batch, seq]`` each).
    Output: float32 logits ``[batch, seq, num_classes]``.
    """

    def __init__(
        self, encoder: Encoder, num_classes: int, dropout_rate: float = 0.1, **kwargs
    ):
        inputs = encoder_inputs(encoder)
        sequence = encoder(inputs)["sequence_output"]
        sequence = keras.layers.Dropout(dropout_rate, name="head_dropout")(sequence)
        logits = logits_layer(num_classes, encoder.initializer_range, "logits")(
            sequence
        )
        super().__init__(encoder, inputs=inputs, outputs=logits, **kwargs)
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate

    def head_config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "dropout_rate": self.dropout_rate}

    def uses_pooler(self) -> bool:
        return False


@keras.saving.register_keras_serializable(package="kerasbert")
class FoldChoices(keras.layers.Layer):
    """Folds choices into the batch: ``[B, choices, seq] -> [B*choices, seq]``.

    Lets the encoder score every choice as an ordinary sequence.
    """

    def call(self, inputs):
        return keras.ops.reshape(inputs, (-1, keras.ops.shape(inputs)[-1]))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[-1])


@keras.saving.register_keras_serializable(package="kerasbert")
class UnfoldChoices(keras.layers.Layer):
    """Splits per-choice scores back: ``[batch*choices, 1] -> [batch, choices]``.

    ``reference`` is any ``[batch, choices, ...]`` tensor giving the two sizes.
    """

    def call(self, scores, reference):
        shape = keras.ops.shape(reference)
        return keras.ops.reshape(scores, (shape[0], shape[1]))

    def compute_output_shape(self, scores_shape, reference_shape):
        return (reference_shape[0], reference_shape[1])


@keras.saving.register_keras_serializable(package="kerasbert")
class MultipleChoiceClassifier(EncoderTask):
    """Scores each of several candidate sequences and compares them (SWAG, RACE).

    Inputs: the encoder's input names, each int32 ``[batch, choices, seq]``.
    Output: float32 logits ``[batch, choices]`` (softmax over choices).
    """

    def __init__(
        self,
        encoder: Encoder,
        dropout_rate: float = 0.1,
        pooling: str = "pooled",
        **kwargs,
    ):
        inputs = encoder_inputs(encoder, leading_shape=(None,))
        folded = {
            name: FoldChoices(name=f"fold_{name}")(x) for name, x in inputs.items()
        }
        features = _sentence_features(encoder, folded, pooling)
        features = keras.layers.Dropout(dropout_rate, name="head_dropout")(features)
        scores = logits_layer(1, encoder.initializer_range, "choice_score")(features)
        logits = UnfoldChoices(name="unfold_choices")(scores, inputs["input_ids"])
        super().__init__(encoder, inputs=inputs, outputs=logits, **kwargs)
        self.dropout_rate = dropout_rate
        self.pooling = pooling

    def head_config(self) -> dict[str, Any]:
        return {"dropout_rate": self.dropout_rate, "pooling": self.pooling}

    def uses_pooler(self) -> bool:
        return getattr(self, "pooling", None) == "pooled"
