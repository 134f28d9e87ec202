"""TensorFlow-free batch tokenization for the builder workers.

The builder runs in worker processes that must stay small (TensorFlow alone is
~650 MB resident), so it tokenizes with native libraries that implement the same
algorithms as ``kerasbert.tokenizers``:

* ``vocab.txt`` -> BERT WordPiece (``tokenizers``' Rust pipeline, as HF
  ``BertTokenizerFast``: clean text, CJK split, optional lowercase + accent
  strip, punctuation split, greedy longest-match WordPiece with ``##``);
* ``*.model`` -> SentencePiece (``sentencepiece``'s C++ processor).

Word boundaries for whole-word and n-gram masking come from the vocabulary
strings: a WordPiece token starts a word unless it begins with ``##``; a
SentencePiece piece starts a word when it begins with ``▁``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")
_WORDPIECE_PAD_UNK = ("[PAD]", "[UNK]")


@dataclass(frozen=True)
class TokenizedBatch:
    """Token ids of ``N`` texts as one flat array plus row offsets.

    ``ids[offsets[i]:offsets[i + 1]]`` are the int32 ids of text ``i``.
    """

    ids: np.ndarray
    offsets: np.ndarray


class TextTokenizer:
    """Tokenizes text batches into flat NumPy arrays; knows special ids.

    Args:
        path: a WordPiece ``vocab.txt`` (one token per line) or a SentencePiece
            ``.model`` file.
        lowercase: lowercase and strip accents first (uncased BERT; for
            SentencePiece ALBERT's NFKD + drop combining marks + lowercase).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the vocabulary lacks ``[CLS]``, ``[SEP]`` or ``[MASK]`` (and,
            for WordPiece, ``[PAD]``/``[UNK]``) or is not UTF-8 text.
    """

    def __init__(self, path: str | Path, lowercase: bool = True):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"vocabulary file not found: {path}")
        raw = path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.kind = "sentencepiece" if path.suffix == ".model" else "wordpiece"
        if self.kind == "sentencepiece":
            import sentencepiece

            self._sp = sentencepiece.SentencePieceProcessor(model_proto=raw)
            self._lowercase = lowercase
            self.vocabulary = [
                self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())
            ]
            word_start = [p.startswith("▁") for p in self.vocabulary]
            required = SPECIAL_TOKENS
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"vocabulary {path} is not UTF-8 text") from error
            self.vocabulary = text.splitlines()
            word_start = [not t.startswith("##") for t in self.vocabulary]
            required = _WORDPIECE_PAD_UNK + SPECIAL_TOKENS
        index = {token: i for i, token in enumerate(self.vocabulary)}
        missing = [t for t in required if t not in index]
        if missing:
            raise ValueError(f"vocabulary {path} lacks special tokens {missing}")
        if self.kind == "wordpiece":
            self._wordpiece = _bert_wordpiece(path, lowercase)
        self.cls_id, self.sep_id, self.mask_id = (index[t] for t in SPECIAL_TOKENS)
        self.vocabulary_size = len(self.vocabulary)
        self.is_word_start = np.asarray(word_start, dtype=bool)
        special = {self.cls_id, self.sep_id, self.mask_id}
        special |= {index[t] for t in _WORDPIECE_PAD_UNK if t in index}
        if self.kind == "sentencepiece":
            special |= {self._sp.pad_id(), self._sp.unk_id()} - {-1}
        self.is_special = np.zeros(self.vocabulary_size, dtype=bool)
        self.is_special[sorted(special)] = True
        # Replacement tokens for the "10% random" case: any non-special token.
        self.random_pool = np.flatnonzero(~self.is_special).astype(np.int32)

    def tokenize(self, texts: list[str]) -> TokenizedBatch:
        """Token ids of ``texts`` (no special tokens added)."""
        if self.kind == "sentencepiece":
            if self._lowercase:
                texts = [_albert_lowercase(t) for t in texts]
            rows = self._sp.encode(texts)
        else:
            encodings = self._wordpiece.encode_batch_fast(
                texts, add_special_tokens=False
            )
            rows = [e.ids for e in encodings]
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.fromiter(
            (i for row in rows for i in row), dtype=np.int32, count=int(offsets[-1])
        )
        return TokenizedBatch(ids, offsets)


def _bert_wordpiece(path: Path, lowercase: bool):
    """``tokenizers`` pipeline equal to HF ``BertTokenizerFast`` (one thread).

    Special tokens written literally in the text (``"[MASK]"``) stay single
    tokens, as in ``kerasbert.tokenizers.BertWordPieceTokenizer``.
    """
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # workers are the parallelism
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece.from_file(str(path), unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.add_special_tokens(list(_WORDPIECE_PAD_UNK + SPECIAL_TOKENS))
    return tokenizer


_COMBINING: dict[int, None] = {}


def _albert_lowercase(text: str) -> str:
    """ALBERT's uncased preprocessing: NFKD, drop combining marks, lowercase."""
    if not _COMBINING:
        marks = range(sys.maxunicode + 1)
        _COMBINING.update((c, None) for c in marks if unicodedata.combining(chr(c)))
    return unicodedata.normalize("NFKD", text).translate(_COMBINING).lower()
