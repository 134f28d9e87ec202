"""Reading and validating WordPiece vocabularies."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import tensorflow as tf

# BERT's special token of each role.
SPECIAL_TOKENS = {
    "pad": "[PAD]",
    "unk": "[UNK]",
    "cls": "[CLS]",
    "sep": "[SEP]",
    "mask": "[MASK]",
}


class TokenLookup:
    """Token <-> id lookups and special ids over a tokenizer's vocabulary.

    Args:
        vocabulary: tokens, the id of each being its index.
        special_tokens: the token of each role ``pad unk cls sep mask``.

    Raises:
        ValueError: a special token is not in the vocabulary.
    """

    def __init__(self, vocabulary: Sequence[str], special_tokens: Mapping[str, str]):
        self.vocabulary = list(vocabulary)
        self._ids = {token: index for index, token in enumerate(self.vocabulary)}
        missing = [t for t in special_tokens.values() if t not in self._ids]
        if missing:
            raise ValueError(f"The vocabulary lacks the special tokens {missing}.")
        self._special_ids = {
            role: self._ids[token] for role, token in special_tokens.items()
        }

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    def token_to_id(self, token: str) -> int:
        """The id of ``token``; ``KeyError`` if it is not in the vocabulary."""
        if token not in self._ids:
            raise KeyError(f"Token {token!r} is not in the vocabulary.")
        return self._ids[token]

    def id_to_token(self, token_id: int) -> str:
        """The token of ``token_id``; ``KeyError`` outside ``[0, size)``."""
        if not 0 <= token_id < len(self.vocabulary):
            raise KeyError(
                f"Id {token_id} is outside the vocabulary "
                f"(size {len(self.vocabulary)})."
            )
        return self.vocabulary[token_id]

    @property
    def pad_id(self) -> int:
        return self._special_ids["pad"]

    @property
    def unk_id(self) -> int:
        return self._special_ids["unk"]

    @property
    def cls_id(self) -> int:
        return self._special_ids["cls"]

    @property
    def sep_id(self) -> int:
        return self._special_ids["sep"]

    @property
    def mask_id(self) -> int:
        return self._special_ids["mask"]


def read_vocabulary(vocabulary: str | os.PathLike | Sequence[str]) -> list[str]:
    """The token list of a ``vocab.txt`` (one token per line) or of a list.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the vocabulary is empty or has duplicates.
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
        # Lines end at "\n" only, as in the reference's reader (splitlines
        # would also cut at U+0085, U+2028, ...).
        tokens = text.split("\n")
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
    return tokens
