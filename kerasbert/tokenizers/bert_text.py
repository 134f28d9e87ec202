"""In-graph re-implementation of BERT's text normalization and pre-tokenization.

This mirrors Hugging Face ``tokenizers``' ``BertNormalizer`` and
``BertPreTokenizer`` (what ``BertTokenizerFast`` runs), written only with ops
the stock TF Serving binary links (core string ops, ``normalize_utf8``,
``regex_split``), so a SavedModel can tokenize raw text at serving time.

Steps, in the reference's order:

1. clean: drop U+0000, U+FFFD and "other" characters (categories Cc, Cf, Co,
   Cs; tab, newline and carriage return count as whitespace instead), then
   map every whitespace character to a space;
2. put spaces around CJK ideographs, so each becomes its own word;
3. if lowercasing: NFD, drop non-spacing marks (Mn), then lowercase each
   character on its own (no final-sigma rule, as in the reference);
4. split on whitespace and around every punctuation character (ASCII
   punctuation, which includes ``$+<=>^`|~``, and Unicode category P).
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

# Whitespace that survives the control-character filter: Rust's
# char::is_whitespace minus the Cc characters removed just before it.
_WHITESPACE = (
    r"[\t\n\r \x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}"
    r"\x{205F}\x{3000}]"
)
_REMOVED = r"[\x{0000}\x{FFFD}\p{Cc}\p{Cf}\p{Co}\p{Cs}]"
_CJK = (
    r"([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
    r"\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}])"
)
_PUNCTUATION = r"[!-/:-@\[-`{-~]|\p{P}"
_SPLIT = r" +|" + _PUNCTUATION


def replace_invalid_utf8(text: tf.Tensor) -> tf.Tensor:
    """Replaces bytes that are not valid UTF-8 with U+FFFD (later dropped)."""
    return tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )


def normalize(text: tf.Tensor, lowercase: bool) -> tf.Tensor:
    """Steps 1-3 above on a string tensor of any shape."""
    text = tf.strings.regex_replace(text, r"[\t\n\r]", " ")
    text = tf.strings.regex_replace(text, _REMOVED, "")
    text = tf.strings.regex_replace(text, _WHITESPACE, " ")
    text = tf.strings.regex_replace(text, _CJK, r" \1 ")
    if lowercase:
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, r"\p{Mn}", "")
        # The reference lowercases character by character; ICU's full
        # lowercase would turn a word-final capital sigma into "ς".
        text = tf.strings.regex_replace(text, "Σ", "σ")
        text = tf.strings.lower(text, encoding="utf-8")
    return text


def split_words(text: tf.Tensor) -> tf.RaggedTensor:
    """Step 4: ``[n]`` strings to ragged words ``[n, (words)]``."""
    return tf_text.regex_split(text, _SPLIT, _PUNCTUATION)
