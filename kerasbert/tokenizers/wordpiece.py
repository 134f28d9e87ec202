"""BERT's WordPiece tokenizer, in-graph and identical to ``BertTokenizerFast``."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import tensorflow as tf
import tensorflow_text as tf_text

from kerasbert.tokenizers.bert_text import (
    normalize,
    replace_invalid_utf8,
    replace_nul,
    split_words,
)
from kerasbert.tokenizers.vocabulary import (
    SPECIAL_TOKENS,
    TokenLookup,
    read_vocabulary,
)

# BertTokenizerFast maps any word longer than this (in characters) to [UNK].
MAX_WORD_CHARACTERS = 100


def as_string_batch(strings: Any) -> tuple[tf.Tensor, bool]:
    """``strings`` as a rank-1 ``tf.string`` tensor, and whether it was a scalar.

    Raises:
        TypeError: for non-string tensors.
        ValueError: for rank > 1.
    """
    strings = tf.convert_to_tensor(strings)
    if strings.dtype != tf.string:
        raise TypeError(f"Tokenizers take strings, got a {strings.dtype.name} tensor.")
    if strings.shape.rank == 0:
        return strings[None], True
    if strings.shape.rank != 1:
        raise ValueError(
            "Expected a scalar or a rank-1 batch of strings, got shape "
            f"{strings.shape}."
        )
    return strings, False


class BertWordPieceTokenizer(TokenLookup, tf.Module):
    """Raw text to WordPiece ids, entirely with TensorFlow ops.

    Produces the same ids as Hugging Face ``BertTokenizerFast`` (without
    adding [CLS]/[SEP]; see ``InputPacker``): BERT's cleaning, CJK splitting,
    optional accent stripping + lowercasing, punctuation splitting, greedy
    longest-match WordPiece, ``[UNK]`` for words over 100 characters, and
    special tokens written literally in the text (``"[MASK]"``) matched on the
    raw text as single tokens. Bytes that are not valid UTF-8 become U+FFFD,
    which cleaning removes (as decoding with ``errors="replace"`` would).

    Usable eagerly, inside ``tf.function`` / ``tf.data.Dataset.map``, and in
    a saved ``tf.Module`` (the WordPiece model is a constant in the graph).

    Args:
        vocabulary: path to a ``vocab.txt`` or a list of tokens; must contain
            ``[PAD] [UNK] [CLS] [SEP] [MASK]``.
        lowercase: BERT "uncased" behaviour (also strips accents).
    """

    def __init__(
        self,
        vocabulary: str | os.PathLike | Sequence[str],
        lowercase: bool = True,
        name: str | None = None,
    ):
        tf.Module.__init__(self, name=name)
        TokenLookup.__init__(self, read_vocabulary(vocabulary), SPECIAL_TOKENS)
        self.lowercase = lowercase
        self._special_pattern = "|".join(
            re.escape(token) for token in SPECIAL_TOKENS.values()
        )
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=self.vocabulary,
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            no_pretokenization=True,
            support_detokenization=True,
            # Characters are capped separately (HF counts characters, not bytes).
            max_bytes_per_word=4 * MAX_WORD_CHARACTERS,
        )

    def _words(self, text: tf.Tensor) -> tf.RaggedTensor:
        """``[n]`` strings to ragged words ``[n, (pieces), (words)]``.

        Text is first cut at literal special tokens; the pieces between them
        are normalized and split, each special token stays one word.
        """
        pieces = tf_text.regex_split(text, self._special_pattern, self._special_pattern)
        flat = pieces.flat_values
        is_special = tf.strings.regex_full_match(flat, self._special_pattern)
        words = split_words(normalize(flat, self.lowercase))
        keep = tf.gather(tf.logical_not(is_special), words.value_rowids())
        words = tf.ragged.boolean_mask(words, words.with_flat_values(keep))
        specials = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(flat, is_special), tf.cast(is_special, tf.int64)
        )
        words = tf.concat([words, specials], axis=1)
        return pieces.with_flat_values(words)

    def tokenize(self, strings: Any) -> tf.RaggedTensor:
        """Token ids of each string.

        Args:
            strings: a string, a list of strings, or a ``tf.string`` tensor of
                rank 0 or 1.

        Returns:
            int32 ``tf.RaggedTensor`` ``[batch, (tokens)]`` (``[(tokens)]``
            for a scalar input). An empty string gives no tokens.
        """
        batch, scalar = as_string_batch(strings)
        words = self._words(replace_nul(replace_invalid_utf8(batch)))
        flat_words = words.flat_values
        too_long = tf.strings.length(flat_words, unit="UTF8_CHAR") > MAX_WORD_CHARACTERS
        flat_words = tf.where(too_long, "[UNK]", flat_words)
        ids = words.with_flat_values(self._wordpiece.tokenize(flat_words))
        ids = ids.merge_dims(1, -1)
        return ids[0] if scalar else ids

    __call__ = tokenize

    def detokenize(self, ids: Any) -> tf.Tensor:
        """Joins ids back into text (``##`` pieces merged), for display."""
        return self._wordpiece.detokenize(ids)

    def get_config(self) -> dict[str, Any]:
        return {"vocabulary": list(self.vocabulary), "lowercase": self.lowercase}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BertWordPieceTokenizer:
        return cls(**config)
