"""SentencePiece tokenizer (ALBERT's), in-graph, with BERT-style special ids."""

from __future__ import annotations

import os
from typing import Any

import sentencepiece
import tensorflow as tf
import tensorflow_text as tf_text

from kerasbert.tokenizers.bert_text import replace_invalid_utf8
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


class SentencePieceTokenizer(tf.Module):
    """Raw text to SentencePiece ids with TensorFlow ops (tf-text's op).

    Args:
        model: a serialized SentencePiece model proto, or a path to one.
        lowercase: lowercase and strip accents first (ALBERT's
            ``do_lower_case`` preprocessing: NFKD, drop marks, lowercase).

    The model must define ``<pad>``, ``<unk>``, ``[CLS]``, ``[SEP]`` and
    ``[MASK]`` (``tfrecords-tools vocab --model sentencepiece`` does).
    """

    def __init__(
        self, model: bytes | str | os.PathLike, lowercase: bool = True, name=None
    ):
        super().__init__(name=name)
        self.model_proto = read_model_proto(model)
        processor = sentencepiece.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(self.model_proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(f"Not a valid SentencePiece model: {error}") from error
        self.vocabulary = [
            processor.IdToPiece(i) for i in range(processor.GetPieceSize())
        ]
        self._ids = {piece: index for index, piece in enumerate(self.vocabulary)}
        missing = [piece for piece in _SPECIALS.values() if piece not in self._ids]
        if missing:
            raise ValueError(
                f"The SentencePiece model lacks the special pieces {missing}."
            )
        self.lowercase = lowercase
        self._sentencepiece = tf_text.SentencepieceTokenizer(
            model=self.model_proto, out_type=tf.int32
        )

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    def token_to_id(self, token: str) -> int:
        if token not in self._ids:
            raise KeyError(f"Token {token!r} is not in the vocabulary.")
        return self._ids[token]

    def id_to_token(self, token_id: int) -> str:
        return self.vocabulary[token_id]

    pad_id = property(lambda self: self._ids[_SPECIALS["pad"]])
    unk_id = property(lambda self: self._ids[_SPECIALS["unk"]])
    cls_id = property(lambda self: self._ids[_SPECIALS["cls"]])
    sep_id = property(lambda self: self._ids[_SPECIALS["sep"]])
    mask_id = property(lambda self: self._ids[_SPECIALS["mask"]])

    def tokenize(self, strings: Any) -> tf.RaggedTensor:
        """int32 ragged ids ``[batch, (tokens)]`` (``[(tokens)]`` for a scalar)."""
        batch, scalar = as_string_batch(strings)
        text = replace_invalid_utf8(batch)
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
