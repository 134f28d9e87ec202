"""Keras models: the shared encoder and the task models built on it."""

from kerasbert.models.classifiers import (
    MultipleChoiceClassifier,
    SequenceClassifier,
    TokenClassifier,
)
from kerasbert.models.encoder import Encoder
from kerasbert.models.masked_lm import MaskedLanguageModel
from kerasbert.models.presets import PRESETS, preset_config
from kerasbert.models.question_answering import SpanQuestionAnswerer
from kerasbert.models.sentence_encoder import SentenceEncoder

__all__ = [
    "PRESETS",
    "Encoder",
    "MaskedLanguageModel",
    "MultipleChoiceClassifier",
    "SentenceEncoder",
    "SequenceClassifier",
    "SpanQuestionAnswerer",
    "TokenClassifier",
    "preset_config",
]
