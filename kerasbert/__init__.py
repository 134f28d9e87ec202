"""kerasbert: BERT-family encoders for TensorFlow/Keras 3."""

from kerasbert.models import (
    PRESETS,
    Encoder,
    MaskedLanguageModel,
    MultipleChoiceClassifier,
    SentenceEncoder,
    SequenceClassifier,
    SpanQuestionAnswerer,
    TokenClassifier,
)

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Encoder",
    "MaskedLanguageModel",
    "MultipleChoiceClassifier",
    "SentenceEncoder",
    "SequenceClassifier",
    "SpanQuestionAnswerer",
    "TokenClassifier",
    "__version__",
]
