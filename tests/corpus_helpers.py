"""Synthetic corpora for the ``tfrecords_tools`` tests: a word-list vocabulary
where ``s07x3`` splits into ``s07 ##x3`` (two pieces of one word) and ``w123``
is one token."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = [f"w{i:03d}" for i in range(200)]
STEMS = [f"s{i:02d}" for i in range(20)]
SUFFIXES = [f"x{i}" for i in range(5)]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_vocab(path: Path) -> Path:
    """A WordPiece vocab.txt covering every synthetic word."""
    tokens = SPECIALS + ["."] + WORDS + STEMS + [f"##{s}" for s in SUFFIXES]
    path.write_text("".join(t + "\n" for t in tokens))
    return path


def sentence(rng: np.random.Generator) -> str:
    words = []
    for _ in range(int(rng.integers(5, 16))):
        if rng.random() < 0.2:
            words.append(rng.choice(STEMS) + rng.choice(SUFFIXES))
        else:
            words.append(str(rng.choice(WORDS)))
    return " ".join(words) + " ."


def write_corpus(path: Path, documents: int, seed: int = 0) -> Path:
    """BERT-format text: 3-8 sentences per document, blank line between."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for _ in range(documents):
            for _ in range(int(rng.integers(3, 9))):
                handle.write(sentence(rng) + "\n")
            handle.write("\n")
    return path
