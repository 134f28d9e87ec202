"""Pretraining objectives: BERT (MLM+NSP), ALBERT (MLM+SOP), RoBERTa (MLM), ELECTRA.

Every pretrainer is a Keras model that also implements the ``Pretrainer``
protocol of ``kerasbert.pretraining.objectives``, which is all the trainer in
``kerasbert.training`` needs.
"""

from kerasbert.pretraining.electra import ElectraPretrainer
from kerasbert.pretraining.factory import PRETRAINER_KINDS, build_pretrainer
from kerasbert.pretraining.masked_lm import MaskedLMPretrainer
from kerasbert.pretraining.objectives import Pretrainer, summarize

__all__ = [
    "PRETRAINER_KINDS",
    "ElectraPretrainer",
    "MaskedLMPretrainer",
    "Pretrainer",
    "build_pretrainer",
    "summarize",
]
