"""Sentence-similarity evaluation: STS files, rank correlation, text embedding.

The names below load lazily (PEP 562), so that the NumPy-only
``kerasbert.evaluation.ranking`` is importable without TensorFlow (the
fine-tuning metrics build on it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasbert.lazy_exports import lazy_attributes

_EXPORTS = {
    "TextEmbedder": "kerasbert.evaluation.embedding",
    "average_ranks": "kerasbert.evaluation.ranking",
    "pearson": "kerasbert.evaluation.ranking",
    "spearman": "kerasbert.evaluation.ranking",
    "StsPairs": "kerasbert.evaluation.sts",
    "cosine_similarities": "kerasbert.evaluation.sts",
    "evaluate_sts": "kerasbert.evaluation.sts",
    "read_sts": "kerasbert.evaluation.sts",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from kerasbert.evaluation.embedding import TextEmbedder  # noqa: F401
    from kerasbert.evaluation.ranking import (  # noqa: F401
        average_ranks,
        pearson,
        spearman,
    )
    from kerasbert.evaluation.sts import (  # noqa: F401
        StsPairs,
        cosine_similarities,
        evaluate_sts,
        read_sts,
    )

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
