"""A fine-tuned task model that takes raw strings: ``TextTaskModel``.

It wraps a task model (``SequenceClassifier``, ``SpanQuestionAnswerer``,
``TokenClassifier``) with its tokenizer and the task's label names, so that

* ``model.predict(["a fine film", "dull"])`` works on strings (pairs and
  question/context: ``model.predict((texts, pairs))``);
* ``model.save("m.keras")`` writes one file holding weights, tokenizer and
  labels, and ``keras.saving.load_model`` gives it back;
* ``serving.export`` can export it with signatures that answer in the task's
  terms (labels, scores, answer text, tags).

Outputs of ``call`` (B = batch, S = ``sequence_length``, C = classes):

=========  ===============================================================
task       outputs
=========  ===============================================================
classify   ``probabilities`` float32 ``[B, C]``
regress    ``score`` float32 ``[B]``
squad      ``answer_start``, ``answer_end`` int64 ``[B]`` (character span
           in the context; -1 when no span), ``score`` float32 ``[B]``
           (start + end logit), from one window: question + as much
           context as fits
tag        ``tag_ids`` int32 ``[B, S - 2]`` for whitespace-split words
           (-1: no word there, or truncated), ``tag_probabilities``
           float32 ``[B, S - 2]``
=========  ===============================================================
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kerasbert.data.texts import pack_texts
from kerasbert.finetuning.text_inputs import (
    pack_question_context,
    pack_words,
    split_words,
)
from kerasbert.models.task import EncoderTask
from kerasbert.tokenizers import (
    BertWordPieceTokenizer,
    InputPacker,
    SentencePieceTokenizer,
    Tokenizer,
)

TASKS = ("classify", "regress", "squad", "tag")
_NEGATIVE = -1e9


def tokenizer_config(tokenizer: Tokenizer) -> dict[str, Any]:
    """A JSON-serializable description of ``tokenizer`` (vocabulary included)."""
    if isinstance(tokenizer, SentencePieceTokenizer):
        return {
            "kind": "sentencepiece",
            "model": base64.b64encode(tokenizer.model_proto).decode("ascii"),
            "lowercase": tokenizer.lowercase,
        }
    return {"kind": "wordpiece", **tokenizer.get_config()}


def tokenizer_from_config(config: dict[str, Any]) -> Tokenizer:
    """The inverse of ``tokenizer_config``."""
    config = dict(config)
    kind = config.pop("kind")
    if kind == "sentencepiece":
        return SentencePieceTokenizer(
            base64.b64decode(config["model"]), lowercase=config["lowercase"]
        )
    return BertWordPieceTokenizer(**config)


def best_spans(
    start_logits: tf.Tensor,
    end_logits: tf.Tensor,
    offsets: tf.Tensor,
    max_answer_length: int,
) -> dict[str, tf.Tensor]:
    """The highest-scoring context span of each row, as character offsets.

    Args:
        start_logits, end_logits: float ``[B, S]``.
        offsets: int64 ``[B, S, 2]`` context character spans, -1 elsewhere.
        max_answer_length: longest span, in tokens.

    Returns:
        ``answer_start``/``answer_end`` int64 ``[B]`` and ``score`` float32
        ``[B]`` (start + end logit) of the best span with start <= end < start +
        ``max_answer_length``, both in the context. A row with no such span
        (an empty context) gets -1, -1 and a score of 0.0.
    """
    is_context = offsets[:, :, 0] >= 0
    start = tf.where(is_context, tf.cast(start_logits, tf.float32), _NEGATIVE)
    end = tf.where(is_context, tf.cast(end_logits, tf.float32), _NEGATIVE)
    length = tf.shape(start)[1]
    positions = tf.range(length)
    distance = positions[None, :] - positions[:, None]  # end - start
    allowed = (distance >= 0) & (distance < max_answer_length)
    scores = tf.where(allowed[None], start[:, :, None] + end[:, None, :], 2 * _NEGATIVE)
    flat = tf.reshape(scores, [tf.shape(scores)[0], -1])
    best = tf.argmax(flat, axis=1, output_type=tf.int32)
    score = tf.reduce_max(flat, axis=1)
    found = score > _NEGATIVE
    begin = tf.gather(offsets[:, :, 0], best // length, batch_dims=1)
    finish = tf.gather(offsets[:, :, 1], best % length, batch_dims=1)
    none = tf.constant(-1, tf.int64)
    return {
        "answer_start": tf.where(found, begin, none),
        "answer_end": tf.where(found, finish, none),
        "score": tf.where(found, score, 0.0),
    }


def word_tags(probabilities: tf.Tensor, positions: tf.Tensor) -> dict[str, tf.Tensor]:
    """Each word's tag, read at its first piece.

    Args:
        probabilities: float32 ``[B, S, C]`` per-token tag probabilities.
        positions: int32 ``[B, W]`` first-piece positions (-1: no word).

    Returns:
        ``tag_ids`` int32 ``[B, W]`` (-1 where no word) and
        ``tag_probabilities`` float32 ``[B, W]`` (0 where no word).
    """
    at_words = tf.gather(probabilities, tf.maximum(positions, 0), batch_dims=1)
    present = positions >= 0
    tag_ids = tf.argmax(at_words, axis=-1, output_type=tf.int32)
    return {
        "tag_ids": tf.where(present, tag_ids, -1),
        "tag_probabilities": tf.where(present, tf.reduce_max(at_words, axis=-1), 0.0),
    }


@keras.saving.register_keras_serializable(package="kerasbert")
class TextTaskModel(keras.Model):
    """A task model with its tokenizer and labels: strings in, answers out.

    Args:
        task_model: the fine-tuned ``EncoderTask``.
        tokenizer: the in-graph tokenizer it was trained with.
        task: one of ``TASKS``.
        sequence_length: S, tokens per input after truncation/padding.
        labels: class names (classify) or tags (tag), in output order.
        max_query_length: question tokens kept (squad).
        max_answer_length: longest answer in tokens (squad).
    """

    def __init__(
        self,
        task_model: EncoderTask,
        tokenizer: Tokenizer,
        task: str,
        sequence_length: int = 128,
        labels: Sequence[str] | None = None,
        max_query_length: int = 64,
        max_answer_length: int = 30,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
        if task in ("classify", "tag") and not labels:
            raise ValueError(f"The {task} task needs its label names.")
        self.task_model = task_model
        self.tokenizer = tokenizer
        self.task = task
        self.sequence_length = sequence_length
        self.labels = list(labels or ())
        self.max_query_length = max_query_length
        self.max_answer_length = max_answer_length
        self.packer = InputPacker.for_tokenizer(tokenizer, sequence_length)
        self.built = True

    @staticmethod
    def _strings(inputs: Any) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``inputs`` as (first ``[B]``, second ``[B]`` or None) string tensors."""
        if isinstance(inputs, dict):
            names = [n for n in ("text", "question") if n in inputs]
            pair_names = [n for n in ("text_pair", "context") if n in inputs]
            first = inputs[names[0]] if names else None
            second = inputs[pair_names[0]] if pair_names else None
        elif isinstance(inputs, list | tuple) and len(inputs) == 2:
            first, second = inputs
        else:
            first, second = inputs, None
        first = tf.convert_to_tensor(first)
        if first.dtype != tf.string:
            raise TypeError(f"TextTaskModel takes strings, got {first.dtype.name}.")
        first = tf.reshape(first, [-1])
        if second is not None:
            second = tf.reshape(tf.convert_to_tensor(second), [-1])
        return first, second

    def call(self, inputs: Any, training: bool = False) -> Any:
        first, second = self._strings(inputs)
        if self.task == "squad":
            if second is None:
                raise ValueError("squad takes (questions, contexts).")
            features, offsets = pack_question_context(
                self.tokenizer,
                first,
                second,
                self.sequence_length,
                self.max_query_length,
            )
            outputs = self.task_model(features, training=training)
            return best_spans(
                outputs["start_logits"],
                outputs["end_logits"],
                offsets,
                self.max_answer_length,
            )
        if self.task == "tag":
            features, positions = pack_words(
                self.tokenizer, split_words(first), self.sequence_length
            )
            logits = self.task_model(features, training=training)
            return word_tags(tf.nn.softmax(tf.cast(logits, tf.float32)), positions)
        features = pack_texts(self.tokenizer, self.packer, first, second)
        logits = tf.cast(self.task_model(features, training=training), tf.float32)
        if self.task == "regress":
            return logits[:, 0]
        return tf.nn.softmax(logits)

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.predict`` that also takes Python lists of strings.

        ``x``: a list of texts, or a tuple ``(texts, pairs)`` /
        ``(questions, contexts)`` of lists; arrays and tensors as usual.
        """
        return super().predict(_as_input(x), *args, **kwargs)

    # Friendly Python-side views of the outputs.

    def classify(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """``[{"label", "probability"}]`` per text (classify task)."""
        inputs = texts if pairs is None else (texts, pairs)
        probabilities = np.asarray(self(_as_input(inputs)))
        return [
            {"label": self.labels[int(row.argmax())], "probability": float(row.max())}
            for row in probabilities
        ]

    def answer(
        self, questions: Sequence[str], contexts: Sequence[str]
    ) -> list[dict[str, Any]]:
        """``[{"text", "start", "end", "score"}]`` per pair (squad task)."""
        outputs = self(_as_input((questions, contexts)))
        answers = []
        for context, start, end, score in zip(
            contexts,
            outputs["answer_start"].numpy(),
            outputs["answer_end"].numpy(),
            outputs["score"].numpy(),
            strict=True,
        ):
            text = context[start:end] if start >= 0 else ""
            answers.append(
                {
                    "text": text,
                    "start": int(start),
                    "end": int(end),
                    "score": float(score),
                }
            )
        return answers

    def tag(self, sentences: Sequence[str]) -> list[list[tuple[str, str]]]:
        """``[(word, tag), ...]`` per sentence (tag task; words split at ASCII
        whitespace, as in the graph)."""
        outputs = self(_as_input(sentences))
        tagged = []
        # The graph's own word split (ASCII whitespace), so words and tags align.
        split = split_words(tf.constant(list(sentences), tf.string)).to_list()
        for words, ids in zip(split, outputs["tag_ids"].numpy(), strict=True):
            words = [word.decode("utf-8") for word in words]
            tagged.append(
                [
                    (word, self.labels[ids[i]] if i < len(ids) and ids[i] >= 0 else "")
                    for i, word in enumerate(words)
                ]
            )
        return tagged

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "task_model": keras.saving.serialize_keras_object(self.task_model),
            "tokenizer": tokenizer_config(self.tokenizer),
            "task": self.task,
            "sequence_length": self.sequence_length,
            "labels": self.labels,
            "max_query_length": self.max_query_length,
            "max_answer_length": self.max_answer_length,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextTaskModel:
        config = dict(config)
        config["task_model"] = keras.saving.deserialize_keras_object(
            config["task_model"]
        )
        config["tokenizer"] = tokenizer_from_config(config["tokenizer"])
        return cls(**config)


def _as_input(inputs: Any) -> Any:
    """Lists of Python strings as string tensors (pairs stay a tuple)."""
    if isinstance(inputs, tuple):
        return tuple(_as_input(part) for part in inputs)
    if isinstance(inputs, list | np.ndarray):
        return tf.constant(np.asarray(inputs, dtype=object).astype(bytes))
    return inputs
