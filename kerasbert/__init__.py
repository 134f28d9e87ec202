"""kerasbert: BERT-family encoders for TensorFlow/Keras 3.

The public names below load lazily (PEP 562), so ``import kerasbert`` and the
CLI's ``--help`` do not pay TensorFlow's start-up cost until a model is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasbert.lazy_exports import lazy_attributes

__version__ = "0.1.0"

_EXPORTS = {
    "PRESETS": "kerasbert.models.presets",
    "Encoder": "kerasbert.models.encoder",
    "MaskedLanguageModel": "kerasbert.models.masked_lm",
    "MultipleChoiceClassifier": "kerasbert.models.classifiers",
    "SentenceEncoder": "kerasbert.models.sentence_encoder",
    "SequenceClassifier": "kerasbert.models.classifiers",
    "SpanQuestionAnswerer": "kerasbert.models.question_answering",
    "TokenClassifier": "kerasbert.models.classifiers",
    "load": "kerasbert.loading",
}

_SUBMODULES = (
    "layers",
    "models",
    "tokenizers",
    "checkpoints",
    "data",
    "pretraining",
    "training",
    "distillation",
    "contrastive",
    "evaluation",
)

__all__ = [*_EXPORTS, *_SUBMODULES, "__version__"]

if TYPE_CHECKING:
    from kerasbert.loading import load  # noqa: F401
    from kerasbert.models import (  # noqa: F401
        PRESETS,
        Encoder,
        MaskedLanguageModel,
        MultipleChoiceClassifier,
        SentenceEncoder,
        SequenceClassifier,
        SpanQuestionAnswerer,
        TokenClassifier,
    )

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)
