"""Serving a ``TextTaskModel``: signatures that answer in the task's terms.

``TextTaskServingModule`` is a ``ServingModule`` (same tracked variables,
same single traced graph of the task model, same in-graph UTF-8 checks)
whose tokenizer, labels and S come from the ``TextTaskModel``, and whose
raw-text signatures return labels, answers and tags instead of logits.
Inputs are packed as ``TextTaskModel`` packs them (question/context and
words by its own ``kerasbert.finetuning.text_inputs`` functions; texts by
``ServingModule``'s tokenizer + ``InputPacker``, which is ``pack_texts``), so
a served model sees what the Keras model sees. Shapes (B = batch, S =
``sequence_length``, C = classes) are fixed past the batch axis, so TF
Serving's batcher can concatenate requests:

========  ==================================  ==================================
task      signature (inputs)                  outputs
========  ==================================  ==================================
classify  ``serving_default`` (``text``),     ``label`` string [B] (argmax),
          ``text_pair`` (``text``,            ``probabilities`` float32 [B, C]
          ``text_pair``)
          ``classify`` (``inputs``:           ``classes`` string [B, C],
          tf.Examples, Classify API)          ``scores`` float32 [B, C]
regress   ``serving_default``, ``text_pair``  ``score`` float32 [B]
          ``regress`` (Regress API)           ``outputs`` float32 [B]
squad     ``serving_default`` (``question``,  ``answer`` string [B] (the context
          ``context``)                        substring, "" when none),
                                              ``answer_start``/``answer_end``
                                              int64 [B] (code points, -1 when
                                              none), ``score`` float32 [B]
                                              (start + end logit)
tag       ``serving_default`` (``text``)      ``words`` string [B, S-2]
                                              (split at ASCII whitespace,
                                              "" padded),
                                              ``tags`` string [B, S-2] ("" for
                                              no word / truncated),
                                              ``tag_probabilities`` [B, S-2]
========  ==================================  ==================================

Every task also has ``tensors``: the task model's head outputs
(``serving.heads``) on int32 ``[B, seq]`` features, for clients that
tokenize themselves. The classify/regress example signatures take a bytes
feature ``text`` and, optionally per example, ``text_pair`` (see
``serving.signatures``): a ``TextTaskModel`` does not record whether it was
trained on pairs, so each example says so itself.
"""

from __future__ import annotations

import tensorflow as tf

from kerasbert.finetuning.text_inputs import (
    pack_question_context,
    pack_words,
    split_words,
)
from kerasbert.finetuning.text_model import TextTaskModel, best_spans, word_tags
from kerasbert.models import SequenceClassifier, SpanQuestionAnswerer, TokenClassifier
from serving.constants import DEFAULT_SIGNATURE
from serving.heads import Features, Outputs
from serving.signatures import ServingModule, Signature, checked_utf8, string_spec

# The model type each task needs, and what the raw-text signatures take.
TASK_MODELS = {
    "classify": SequenceClassifier,
    "regress": SequenceClassifier,
    "squad": SpanQuestionAnswerer,
    "tag": TokenClassifier,
}
TEXT_INPUTS = {"squad": ("question", "context")}


def label_names(labels: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
    """``labels[ids]`` (any shape), "" where an id is negative."""
    names = tf.gather(labels, tf.maximum(ids, 0))
    return tf.where(ids >= 0, names, "")


def _check_task_model(text_model: TextTaskModel) -> None:
    """Raises ValueError/TypeError for a task model that cannot do the task."""
    task, model = text_model.task, text_model.task_model
    if not isinstance(model, TASK_MODELS[task]):
        raise TypeError(
            f"A {task} TextTaskModel needs a {TASK_MODELS[task].__name__}, "
            f"got a {type(model).__name__}."
        )
    classes = getattr(model, "num_classes", None)
    if task == "regress" and classes != 1:
        raise ValueError(f"A regress model has 1 output, this one {classes}.")
    if task in ("classify", "tag") and classes != len(text_model.labels):
        raise ValueError(
            f"{len(text_model.labels)} labels for the {classes} classes of the "
            f"{task} model."
        )


class TextTaskServingModule(ServingModule):
    """A ``TextTaskModel``'s task model and tokenizer, as task-level signatures.

    Args:
        text_model: the model to serve; its tokenizer, task, labels,
            ``sequence_length``, ``max_query_length`` and
            ``max_answer_length`` are used as they are.

    Raises:
        TypeError / ValueError: a task model that does not fit the task.
    """

    def __init__(self, text_model: TextTaskModel):
        _check_task_model(text_model)
        super().__init__(
            text_model.task_model,
            text_model.tokenizer,
            sequence_length=text_model.sequence_length,
            labels=list(text_model.labels) or None,
        )
        self.task = text_model.task
        self.max_query_length = text_model.max_query_length
        self.max_answer_length = text_model.max_answer_length

    @property
    def text_input_names(self) -> tuple[str, ...]:
        """The string inputs of ``serving_default``."""
        return TEXT_INPUTS.get(self.task, ("text",))

    def text_outputs(self, features: Features) -> Outputs:
        """classify: ``label`` [B] + ``probabilities`` [B, C]; regress: ``score``."""
        outputs = self.outputs(features)
        if self.task == "regress":
            return {"score": outputs["score"]}
        probabilities = outputs["probabilities"]
        ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "label": label_names(tf.constant(self.labels), ids),
            "probabilities": probabilities,
        }

    def question_features(
        self, question: tf.Tensor, context: tf.Tensor
    ) -> tuple[Features, tf.Tensor]:
        """int32 features [B, S] + int64 context offsets [B, S, 2] (squad)."""
        return pack_question_context(
            self.tokenizer,
            checked_utf8(question, "question"),
            checked_utf8(context, "context"),
            self.sequence_length,
            self.max_query_length,
        )

    def answer(self, question: tf.Tensor, context: tf.Tensor) -> Outputs:
        """The best span of each context [B] as text and code point offsets."""
        features, offsets = self.question_features(question, context)
        outputs = self.outputs(features)
        spans = best_spans(
            outputs["start_logits"],
            outputs["end_logits"],
            offsets,
            self.max_answer_length,
        )
        start, end = spans["answer_start"], spans["answer_end"]
        found = start >= 0
        begin = tf.where(found, start, 0)
        text = tf.strings.substr(
            context, begin, tf.where(found, end, 0) - begin, unit="UTF8_CHAR"
        )
        return {**spans, "answer": tf.where(found, text, "")}

    def word_features(self, text: tf.Tensor) -> tuple[tf.Tensor, Features, tf.Tensor]:
        """Words string [B, S-2], int32 features [B, S], first-piece positions
        int32 [B, S-2] (-1: no word there or truncated) of sentences [B]."""
        words = split_words(checked_utf8(text, "text"))
        features, positions = pack_words(self.tokenizer, words, self.sequence_length)
        capacity = self.sequence_length - 2
        dense = words[:, :capacity].to_tensor("", shape=[None, capacity])
        return dense, features, positions

    def tag(self, text: tf.Tensor) -> Outputs:
        """``words``, ``tags`` and ``tag_probabilities`` [B, S-2] of sentences [B].

        A word's tag is read at its first piece, as ``TextTaskModel`` reads it.
        """
        words, features, positions = self.word_features(text)
        probabilities = self.outputs(features)["probabilities"]  # [B, S, C]
        tags = word_tags(probabilities, positions)
        return {
            "words": words,
            "tags": label_names(tf.constant(self.labels), tags["tag_ids"]),
            "tag_probabilities": tags["tag_probabilities"],
        }

    def task_features(self, *texts: tf.Tensor) -> Features:
        """int32 features [B, S] that ``serving_default`` computes for ``texts``
        (one string [B] per ``text_input_names``)."""
        if self.task == "squad":
            return self.question_features(*texts)[0]
        if self.task == "tag":
            return self.word_features(*texts)[1]
        return self.pack(*texts)

    def signature_functions(self) -> dict[str, Signature]:
        """classify/regress: ``ServingModule``'s signatures (with ``label``
        outputs); squad/tag: ``serving_default`` + ``tensors``."""
        if self.task in ("classify", "regress"):
            return super().signature_functions()
        function = self.answer if self.task == "squad" else self.tag
        return {
            DEFAULT_SIGNATURE: (
                function,
                [string_spec(name) for name in self.text_input_names],
            ),
            "tensors": self.tensors_signature(),
        }
