"""SentencePiece tokenizer (ALBERT's), in-graph, with BERT-style special ids."""

from __future__ import annotations

import os
import uuid
from typing import Any

import sentencepiece
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow.python.trackable import resource
from tensorflow_text.python.ops.sentencepiece_tokenizer import (
    gen_sentencepiece_tokenizer,
)

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


class _SharedSentencepieceModel(resource.TrackableResource):
    """The parsed model behind tf-text's ops, under a name of its own.

    tf-text creates it owned by the eager kernel that built it, and
    ``tf.random.set_seed`` (so ``keras.utils.set_random_seed``) clears the
    eager kernel cache, deleting it: every later tokenization then fails with
    "Resource localhost/_0_SentencepieceOp/... does not exist"
    (tensorflow/text#570). Created eagerly under a unique ``shared_name`` (as
    ``tf.lookup.StaticHashTable`` does), it lives in the resource manager
    until this object is deleted. In a graph (a SavedModel's creator
    function, a TF1 graph) it stays private to its kernel, as tf-text makes it,
    so exported graphs are unchanged and versions loaded side by side never
    share it.
    """

    def __init__(self, model_proto: bytes):
        super().__init__(device="/CPU:0")
        self._model_proto = model_proto
        self._shared_name = f"kerasbert_sentencepiece_{uuid.uuid4().hex}"
        _ = self.resource_handle  # creates it now, eagerly when eager

    def _create_resource(self) -> tf.Tensor:
        return gen_sentencepiece_tokenizer.sentencepiece_op(
            model=self._model_proto,
            shared_name=self._shared_name if tf.executing_eagerly() else "",
        )

    def _destroy_resource(self) -> None:
        """Frees the eager resource (a graph's dies with its session)."""
        if tf.executing_eagerly() and self._resource_handle is not None:
            tf.raw_ops.DestroyResourceOp(
                resource=self._resource_handle, ignore_lookup_error=True
            )


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
        # tf-text's own model resource dies with the eager kernel cache; its
        # ops read this one instead (see _SharedSentencepieceModel).
        self._sentencepiece._model_resource = _SharedSentencepieceModel(
            self.model_proto
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
