"""Reading and validating WordPiece vocabularies."""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_vocabulary(vocabulary: str | os.PathLike | Sequence[str]) -> list[str]:
    """The token list of a ``vocab.txt`` (one token per line) or of a list.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the vocabulary is empty, has duplicates, or lacks one of
            BERT's special tokens (``[PAD] [UNK] [CLS] [SEP] [MASK]``).
    """
    if isinstance(vocabulary, str | os.PathLike):
        path = os.fspath(vocabulary)
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"Vocabulary file not found: {path}")
        with tf.io.gfile.GFile(path, "rb") as handle:
            raw = handle.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"Vocabulary file {path} is not UTF-8: {error}") from error
        tokens = text.splitlines()
        source = path
    else:
        tokens = list(vocabulary)
        source = "the given vocabulary"
    tokens = [token.rstrip("\r") for token in tokens]
    while tokens and not tokens[-1]:
        tokens.pop()
    if not tokens:
        raise ValueError(f"{source} is empty.")
    seen: set[str] = set()
    duplicates = sorted({t for t in tokens if t in seen or seen.add(t)})
    if duplicates:
        raise ValueError(f"{source} has duplicate tokens: {duplicates[:10]}")
    missing = [token for token in SPECIAL_TOKENS if token not in seen]
    if missing:
        raise ValueError(f"{source} lacks the special tokens {missing}.")
    return tokens
