"""Sentence-similarity evaluation: STS files, rank correlation, text embedding."""

from kerasbert.evaluation.embedding import TextEmbedder
from kerasbert.evaluation.ranking import average_ranks, pearson, spearman
from kerasbert.evaluation.sts import (
    StsPairs,
    cosine_similarities,
    evaluate_sts,
    read_sts,
)
from kerasbert.evaluation.texts import pack_texts, read_lines

__all__ = [
    "StsPairs",
    "TextEmbedder",
    "average_ranks",
    "cosine_similarities",
    "evaluate_sts",
    "pack_texts",
    "pearson",
    "read_lines",
    "read_sts",
    "spearman",
]
