"""In-graph re-implementation of BERT's text normalization and pre-tokenization.

This mirrors Hugging Face ``tokenizers``' ``BertNormalizer`` and
``BertPreTokenizer`` (what ``BertTokenizerFast`` runs), written only with ops
the stock TF Serving binary links (core string ops, ``normalize_utf8``,
``regex_split``), so a SavedModel can tokenize raw text at serving time.

Steps, in the reference's order:

1. clean: drop U+0000, U+FFFD and "other" characters (control, format,
   private-use; tab, newline and carriage return count as whitespace
   instead), then map every whitespace character to a space;
2. put spaces around CJK ideographs, so each becomes its own word;
3. if lowercasing: NFD, drop non-spacing marks (Mn), then lowercase each
   character on its own (no final-sigma rule, as in the reference);
4. split on whitespace and around every punctuation character (ASCII
   punctuation, which includes ``$+<=>^`|~``, and Unicode category P).

The character classes are not RE2's ``\\p{...}`` categories but the
reference's own tables (an older Unicode release, and its CJK ranges),
recorded in ``unicode_classes.py``: RE2's newer tables would treat characters
added to Unicode since then differently.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

from kerasbert.tokenizers.unicode_classes import (
    CJK,
    NONSPACING_MARKS,
    PUNCTUATION,
    REMOVED,
    WHITESPACE,
)

_SPLIT = r" +|" + PUNCTUATION


def replace_invalid_utf8(text: tf.Tensor) -> tf.Tensor:
    """Replaces bytes that are not valid UTF-8 with U+FFFD (later dropped)."""
    return tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )


def replace_nul(text: tf.Tensor) -> tf.Tensor:
    """Replaces U+0000 with U+FFFD.

    tf-text's ``regex_split`` and SentencePiece ops stop reading a string at a
    NUL byte, silently losing the rest. BERT's cleaning deletes both
    characters and neither occurs in a special token, so no WordPiece id
    changes; SentencePiece's normalizer drops U+FFFD.
    """
    return tf.strings.regex_replace(text, r"\x00", "\ufffd")


def normalize(text: tf.Tensor, lowercase: bool) -> tf.Tensor:
    """Steps 1-3 above on a string tensor of any shape."""
    text = tf.strings.regex_replace(text, REMOVED, "")
    text = tf.strings.regex_replace(text, WHITESPACE, " ")
    text = tf.strings.regex_replace(text, f"({CJK})", r" \1 ")
    if lowercase:
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, NONSPACING_MARKS, "")
        # The reference lowercases character by character; ICU's full
        # lowercase would turn a word-final capital sigma into "ς".
        text = tf.strings.regex_replace(text, "Σ", "σ")
        text = tf.strings.lower(text, encoding="utf-8")
    return text


def split_words(text: tf.Tensor) -> tf.RaggedTensor:
    """Step 4: ``[n]`` strings to ragged words ``[n, (words)]``."""
    return tf_text.regex_split(text, _SPLIT, PUNCTUATION)
