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
from kerasbert.tokenizers.offsets import (
    byte_to_char_map,
    decode_characters,
    map_spans,
    rewritten_lengths,
)
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
        text = self._preprocess(replace_invalid_utf8(batch))
        ids = self._sentencepiece.tokenize(text)
        return ids[0] if scalar else ids

    __call__ = tokenize

    def tokenize_with_offsets(
        self, strings: Any
    ) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Token ids with the character span of each token in its string.

        Spans are half-open, in Unicode code points of the input (for bytes
        that are not valid UTF-8: of ``data.decode("utf-8",
        errors="replace")``): SentencePiece's own byte spans (as the Python
        library's ``encode(..., return_type="proto")`` gives them), which are
        in the preprocessed text, mapped back through the preprocessing.
        What a span covers follows SentencePiece:

        * a piece starting with "▁" covers the whitespace before its word
          (``" stone"`` for "▁stone"; a run of spaces for a lone "▁");
        * the "▁" SentencePiece adds before the text covers nothing: the
          empty span at the first non-space character (also any other piece
          its normalizer makes out of nothing, e.g. "f" of "ﬁ", whose "i"
          then spans the whole "ﬁ");
        * a character the preprocessing deletes (a separately written
          accent, when lowercasing) lies in a span only if between two of
          its characters.

        Args:
            strings: a string, a list of strings, or a ``tf.string`` tensor of
                rank 0 or 1.

        Returns:
            ``(ids, starts, ends)``: int32, int64, int64 ``tf.RaggedTensor``
            ``[batch, (tokens)]`` (``[(tokens)]`` for a scalar input) with
            the same row lengths; ``ids`` equals ``tokenize(strings)``.
        """
        batch, scalar = as_string_batch(strings)
        text = replace_invalid_utf8(batch)
        # Each string is one piece; the preprocessing is character-local.
        pieces = tf.RaggedTensor.from_row_lengths(
            text, tf.ones_like(text, tf.int64), validate=False
        )
        code_points, index = decode_characters(pieces)
        owned = rewritten_lengths(code_points.flat_values, self._preprocess)
        byte_map = byte_to_char_map(code_points, index, owned)
        ids, begin, end = self._sentencepiece.tokenize_with_offsets(
            self._preprocess(text)
        )
        starts, ends = map_spans(
            byte_map, ids.value_rowids(), begin.flat_values, end.flat_values
        )
        starts, ends = ids.with_flat_values(starts), ids.with_flat_values(ends)
        if scalar:
            return ids[0], starts[0], ends[0]
        return ids, starts, ends

    def _preprocess(self, text: tf.Tensor) -> tf.Tensor:
        """NUL replacement, then ``lowercase``'s rewrite, on valid UTF-8.

        Character-local (as ``offsets.py`` requires) but for NFKD's
        reordering of marks and ICU's final-sigma rule, neither of which
        changes any byte count.
        """
        text = replace_nul(text)
        if self.lowercase:
            text = tf_text.normalize_utf8(text, "NFKD")
            text = tf.strings.regex_replace(text, r"\p{Mn}", "")
            text = tf.strings.lower(text, encoding="utf-8")
        return text

    def detokenize(self, ids: Any) -> tf.Tensor:
        return self._sentencepiece.detokenize(ids)

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model_proto, "lowercase": self.lowercase}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SentencePieceTokenizer:
        return cls(**config)
