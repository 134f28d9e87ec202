"""Sentence-similarity evaluation: STS files, rank correlation, text embedding.

The names below load lazily (PEP 562), so that the NumPy-only
``kerasbert.evaluation.ranking`` is importable without TensorFlow (the
fine-tuning metrics build on it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kerasbert.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
