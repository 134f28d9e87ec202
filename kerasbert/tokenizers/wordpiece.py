"""BERT's WordPiece tokenizer, in-graph and identical to ``BertTokenizerFast``."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import tensorflow as tf
import tensorflow_text as tf_text

from kerasbert.tokenizers.bert_text import (
    _SPLIT,
    normalize,
    replace_invalid_utf8,
    replace_nul,
    split_words,
)
from kerasbert.tokenizers.offsets import (
    byte_to_char_map,
    decode_characters,
    map_spans,
    rewritten_lengths,
    utf8_lengths,
)
from kerasbert.tokenizers.unicode_classes import PUNCTUATION
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
    ``tokenize_with_offsets`` also gives each token's character span, as
    ``BertTokenizerFast``'s ``return_offsets_mapping`` does.

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

    def tokenize_with_offsets(
        self, strings: Any
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Token ids with the character span of each token in its string.

        The spans are what ``BertTokenizerFast(...)(text,
        add_special_tokens=False, return_offsets_mapping=True)`` gives for a
        Python ``str``: half-open, in Unicode code points, so ``text[start:end]``
        is the original text of the token ("Héllo" for "hello", the part of
        the word for a "##" piece, a whole over-long word for its [UNK], the
        6 characters of a literal "[MASK]"). Characters that normalization
        removes (accents, zero-width and control characters) lie outside every
        span unless between two characters of one token. Byte strings that
        are not valid UTF-8 are measured after the replacement every token
        sees, i.e. in the code points of ``data.decode("utf-8",
        errors="replace")``.

        About twice as slow as ``tokenize`` (it also decodes the text to code
        points and normalizes each distinct character on its own, to map
        normalized bytes back to characters; see ``offsets.py``), so use that
        when the spans are not needed.

        Args:
            strings: a string, a list of strings, or a ``tf.string`` tensor of
                rank 0 or 1.

        Returns:
            ``(ids, starts, ends)``: int32, int64, int64 ``tf.RaggedTensor``
            ``[batch, (tokens)]`` (``[(tokens)]`` for a scalar input) with
            the same row lengths; ``ids`` equals ``tokenize(strings)``.
        """
        batch, scalar = as_string_batch(strings)
        text = replace_nul(replace_invalid_utf8(batch))
        pieces = tf_text.regex_split(text, self._special_pattern, self._special_pattern)
        flat = pieces.flat_values
        is_special = tf.strings.regex_full_match(flat, self._special_pattern)
        byte_map = self._byte_map(pieces, is_special)
        words, word_begin = self._words_with_offsets(flat, is_special)
        ids, begin, end = self._wordpieces_with_offsets(words.flat_values)
        word = ids.value_rowids()
        shift = tf.gather(word_begin.flat_values, word)
        starts, ends = map_spans(
            byte_map, tf.gather(words.value_rowids(), word), begin + shift, end + shift
        )
        ids = pieces.with_flat_values(words.with_flat_values(ids)).merge_dims(1, -1)
        starts, ends = ids.with_flat_values(starts), ids.with_flat_values(ends)
        if scalar:
            return ids[0], starts[0], ends[0]
        return ids, starts, ends

    def _byte_map(
        self, pieces: tf.RaggedTensor, is_special: tf.Tensor
    ) -> tf.RaggedTensor:
        """Original character of each byte of each piece as split into words.

        Returns:
            int64 ``[P, (bytes + 1)]`` (see ``offsets.byte_to_char_map``) for
            the pieces as ``_words_with_offsets`` reads them: special tokens
            as they are, the others normalized.
        """
        code_points, index = decode_characters(pieces)
        flat = code_points.flat_values
        normalized = rewritten_lengths(flat, lambda c: normalize(c, self.lowercase))
        keep = tf.gather(is_special, code_points.value_rowids())
        owned = tf.where(keep, utf8_lengths(flat), normalized)
        return byte_to_char_map(code_points, index, owned)

    def _words_with_offsets(
        self, pieces: tf.Tensor, is_special: tf.Tensor
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """``[P]`` pieces to words ``[P, (words)]`` and their int64 first bytes.

        The same words as ``_words``: a special-token piece is one word at
        byte 0; the others are normalized and split, offsets counting bytes
        of the normalized piece.
        """
        normalized = tf.where(is_special, "", normalize(pieces, self.lowercase))
        words, begin, _ = tf_text.regex_split_with_offsets(
            normalized, _SPLIT, PUNCTUATION
        )
        specials = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(pieces, is_special), tf.cast(is_special, tf.int64)
        )
        at_zero = specials.with_flat_values(
            tf.zeros_like(specials.flat_values, tf.int64)
        )
        words = tf.concat([words, specials], axis=1)
        return words, tf.concat([tf.cast(begin, tf.int64), at_zero], axis=1)

    def _wordpieces_with_offsets(
        self, words: tf.Tensor
    ) -> tuple[tf.RaggedTensor, tf.Tensor, tf.Tensor]:
        """``[W]`` words to ids ``[W, (tokens)]`` and int64 ``[T]`` byte spans.

        Spans count bytes of the word; an over-long word's [UNK] spans it all.
        """
        too_long = tf.strings.length(words, unit="UTF8_CHAR") > MAX_WORD_CHARACTERS
        ids, begin, end = self._wordpiece.tokenize_with_offsets(
            tf.where(too_long, "[UNK]", words)
        )
        word = ids.value_rowids()
        whole = tf.gather(too_long, word)
        begin = tf.where(whole, tf.zeros([], tf.int64), begin.flat_values)
        length = tf.cast(tf.strings.length(words), tf.int64)
        end = tf.where(whole, tf.gather(length, word), end.flat_values)
        return ids, begin, end

    def detokenize(self, ids: Any) -> tf.Tensor:
        """Joins ids back into text (``##`` pieces merged), for display."""
        return self._wordpiece.detokenize(ids)

    def get_config(self) -> dict[str, Any]:
        return {"vocabulary": list(self.vocabulary), "lowercase": self.lowercase}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BertWordPieceTokenizer:
        return cls(**config)
