"""In-graph tokenizers (WordPiece, SentencePiece) and input packing."""

from __future__ import annotations

import os

from kerasbert.tokenizers.packing import InputPacker
from kerasbert.tokenizers.sentencepiece import SentencePieceTokenizer
from kerasbert.tokenizers.wordpiece import BertWordPieceTokenizer

Tokenizer = BertWordPieceTokenizer | SentencePieceTokenizer


def load_tokenizer(path: str | os.PathLike, lowercase: bool = True) -> Tokenizer:
    """WordPiece for a ``vocab.txt``-style file, SentencePiece for a ``.model``."""
    if os.fspath(path).endswith(".model"):
        return SentencePieceTokenizer(path, lowercase=lowercase)
    return BertWordPieceTokenizer(path, lowercase=lowercase)


__all__ = [
    "BertWordPieceTokenizer",
    "InputPacker",
    "SentencePieceTokenizer",
    "Tokenizer",
    "load_tokenizer",
]
