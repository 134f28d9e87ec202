"""STS-benchmark files and the cosine-similarity Spearman evaluation."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kerasbert.evaluation.ranking import pearson, spearman

# STS-B csv columns: genre, filename, year, id, score, sentence1, sentence2
# (some lines carry two extra source fields after sentence2).
SCORE_FIELD, FIRST_FIELD, SECOND_FIELD = 4, 5, 6


@dataclass(frozen=True)
class StsPairs:
    """Sentence pairs with gold similarity scores.

    Attributes:
        scores: float64 ``[n]`` gold scores (0-5 for STS-B).
        first, second: the ``n`` sentences of each pair.
    """

    scores: np.ndarray
    first: list[str]
    second: list[str]

    def __len__(self) -> int:
        return len(self.first)


def read_sts(path: str | os.PathLike) -> StsPairs:
    """Reads an STS-benchmark file (tab-separated, no header).

    Quoting is disabled: STS-B sentences contain unbalanced ``"`` that a
    default csv reader would treat as quotes, silently merging rows.

    Raises:
        ValueError: for a line with fewer than 7 fields, a non-numeric score,
            or a file without pairs.
    """
    scores, first, second = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for line_number, fields in enumerate(reader, start=1):
            if not fields:
                continue
            if len(fields) <= SECOND_FIELD:
                raise ValueError(
                    f"{os.fspath(path)}:{line_number}: expected at least 7 "
                    f"tab-separated fields, got {len(fields)}."
                )
            try:
                scores.append(float(fields[SCORE_FIELD]))
            except ValueError:
                raise ValueError(
                    f"{os.fspath(path)}:{line_number}: score "
                    f"{fields[SCORE_FIELD]!r} is not a number."
                ) from None
            first.append(fields[FIRST_FIELD])
            second.append(fields[SECOND_FIELD])
    if not scores:
        raise ValueError(f"{os.fspath(path)!r} contains no sentence pairs.")
    return StsPairs(np.asarray(scores, np.float64), first, second)


def cosine_similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of ``[n, d]`` arrays -> ``[n]``."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"Expected two equal [n, d] arrays, got {a.shape}, {b.shape}.")
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)


def evaluate_sts(
    embed: Callable[[Sequence[str]], np.ndarray], pairs: StsPairs
) -> dict[str, float]:
    """Correlates cosine similarities of embedded pairs with the gold scores.

    Args:
        embed: maps ``n`` strings to ``[n, d]`` embeddings (``TextEmbedder``).
        pairs: the evaluation pairs.

    Returns:
        ``{"spearman", "pearson"}`` (x100, as STS results are reported) and
        ``"pairs"``.
    """
    embeddings = embed(pairs.first + pairs.second)
    n = len(pairs)
    similarity = cosine_similarities(embeddings[:n], embeddings[n:])
    return {
        "spearman": 100.0 * spearman(similarity, pairs.scores),
        "pearson": 100.0 * pearson(similarity, pairs.scores),
        "pairs": n,
    }
