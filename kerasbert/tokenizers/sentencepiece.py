"""SentencePiece tokenizer (ALBERT's), in-graph, with BERT-style special ids."""

from __future__ import annotations

import os
from typing import Any

import sentencepiece
import tensorflow as tf
import tensorflow_text as tf_text

from kerasbert.tokenizers.bert_text import replace_invalid_utf8, replace_nul
from kerasbert.tokenizers.vocabulary import TokenLookup
from kerasbert.tokenizers.wordpiece import as_string_batch

# ALBERT's convention: pad=0, unk=1, and [CLS] [SEP] [MASK] as control symbols.
_SPECIALS = {
    "pad": "<pad>",
    "unk": "<unk>",
    "cls": "[CLS]",
    "sep": "[SEP]",
    "mask": "[MASK]",
}


def read_model_proto(model: bytes | str | os.PathLike) -> bytes:
    """The serialized model proto, from bytes or from a ``.model`` file."""
    if isinstance(model, bytes):
        return model
    path = os.fspath(model)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"SentencePiece model not found: {path}")
    with tf.io.gfile.GFile(path, "rb") as handle:
        return handle.read()


class SentencePieceTokenizer(TokenLookup, tf.Module):
    """Raw text to SentencePiece ids with TensorFlow ops (tf-text's op).

    Args:
        model: a serialized SentencePiece model proto, or a path to one.
        lowercase: lowercase and strip accents first (ALBERT's
            ``do_lower_case`` preprocessing: NFKD, drop marks, lowercase).

    The model must define ``<pad>``, ``<unk>``, ``[CLS]``, ``[SEP]`` and
    ``[MASK]`` (``tfrecords-tools vocab --model sentencepiece`` does). Bytes
    that are not valid UTF-8 and NUL characters are dropped. Control symbols
    written in the text (``"[MASK]"``) are not matched, as in SentencePiece.
    """

    def __init__(
        self, model: bytes | str | os.PathLike, lowercase: bool = True, name=None
    ):
        tf.Module.__init__(self, name=name)
        self.model_proto = read_model_proto(model)
        processor = sentencepiece.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(self.model_proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(f"Not a valid SentencePiece model: {error}") from error
        pieces = [processor.IdToPiece(i) for i in range(processor.GetPieceSize())]
        TokenLookup.__init__(self, pieces, _SPECIALS)
        self.lowercase = lowercase
        self._sentencepiece = tf_text.SentencepieceTokenizer(
            model=self.model_proto, out_type=tf.int32
        )

    def tokenize(self, strings: Any) -> tf.RaggedTensor:
        """int32 ragged ids ``[batch, (tokens)]`` (``[(tokens)]`` for a scalar)."""
        batch, scalar = as_string_batch(strings)
        text = replace_nul(replace_invalid_utf8(batch))
        if self.lowercase:
            text = tf_text.normalize_utf8(text, "NFKD")
            text = tf.strings.regex_replace(text, r"\p{Mn}", "")
            text = tf.strings.lower(text, encoding="utf-8")
        ids = self._sentencepiece.tokenize(text)
        return ids[0] if scalar else ids

    __call__ = tokenize

    def detokenize(self, ids: Any) -> tf.Tensor:
        return self._sentencepiece.detokenize(ids)

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model_proto, "lowercase": self.lowercase}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SentencePieceTokenizer:
        return cls(**config)
