"""Mirror-BERT: contrastive self-duplication fine-tuning of sentence encoders."""

from kerasbert.contrastive.augment import random_span_mask
from kerasbert.contrastive.data import mirror_dataset, unique_texts
from kerasbert.contrastive.losses import info_nce_loss
from kerasbert.contrastive.mirror import (
    SENTENCE_TEMPERATURE,
    WORD_TEMPERATURE,
    MirrorBERT,
    with_dropout,
)

__all__ = [
    "SENTENCE_TEMPERATURE",
    "WORD_TEMPERATURE",
    "MirrorBERT",
    "info_nce_loss",
    "mirror_dataset",
    "random_span_mask",
    "unique_texts",
    "with_dropout",
]
