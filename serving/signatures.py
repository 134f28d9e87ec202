"""The ``tf.Module`` that is saved for TF Serving, and its signatures.

Signatures (all batch-major; B = batch, S = ``sequence_length``):

* ``serving_default``: ``text`` string [B] -> task outputs. Tokenization,
  truncation to S and padding to S all run in-graph (tensorflow-text ops the
  stock ``tensorflow_model_server`` links), so clients send raw text.
* ``text_pair``: ``text``, ``text_pair`` string [B] -> task outputs, the two
  texts packed as segments A and B (question + context for span QA).
* ``tensors``: the encoder's int32 [B, seq] inputs (``input_ids``,
  ``input_mask`` and, if the encoder has segments, ``segment_ids``), for
  clients that tokenize themselves. The graph refuses ids outside the
  vocabulary (or segment vocabulary), masks other than 0/1 and sequences
  longer than the encoder's positions with INVALID_ARGUMENT, in TF Serving
  too, instead of computing on wrapped or clamped ids.

Text inputs must be valid UTF-8: the graph refuses other bytes with
INVALID_ARGUMENT (saying which input) rather than tokenizing replacement
characters.
* ``classify`` (SequenceClassifier with >= 2 classes) / ``regress`` (with one):
  TF Serving's Classify/Regress APIs; input ``inputs``, serialized
  ``tf.Example``s whose bytes feature ``text`` holds the text and, optionally,
  bytes feature ``text_pair`` the second text (an example with it is packed as
  the ``text_pair`` signature packs it, one without as ``serving_default``
  does, so one request may mix both); outputs ``classes`` [B,C] + ``scores``
  [B,C], or ``outputs`` [B].

Task outputs per model type are listed in ``serving.heads``. Because text is
padded in-graph to the fixed S, every output has a fixed shape past the batch
axis: TF Serving's batcher can concatenate requests as they are, without
``pad_variable_length_inputs``. (``serving.text_task_signatures`` builds on
``ServingModule`` to serve a ``TextTaskModel`` in its task's terms.)
"""

from __future__ import annotations

import types
from collections.abc import Callable

import keras
import tensorflow as tf

from kerasbert.models import SequenceClassifier
from kerasbert.tokenizers import InputPacker, Tokenizer
from serving.constants import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    TEXT_FEATURE,
)
from serving.heads import Features, HeadOptions, Outputs, head_for

# The optional second-text bytes feature of classify/regress tf.Examples.
TEXT_PAIR_FEATURE = "text_pair"

# Token ids [B, (tokens)], as the tokenizers return them.
_IDS = tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)

# A signature before tracing: its function and the input specs it takes.
Signature = tuple[Callable[..., Outputs], list[tf.TensorSpec]]


def string_spec(name: str) -> tf.TensorSpec:
    """A string ``[B]`` signature input called ``name``."""
    return tf.TensorSpec([None], tf.string, name=name)


def checked_utf8(text: tf.Tensor, name: str) -> tf.Tensor:
    """``text`` [B], after an in-graph check that every string is UTF-8."""
    valid = tf.equal(
        tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace"), text
    )
    check = tf.debugging.Assert(
        tf.reduce_all(valid), [f"Input {name} holds bytes that are not valid UTF-8."]
    )
    with tf.control_dependencies([check]):
        return tf.identity(text)


def parse_text_examples(
    serialized: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Texts of serialized ``tf.Example``s [B]: ``(text, text_pair, has_pair)``.

    ``text`` string [B] (one value per example, required); ``text_pair``
    string [B], "" where an example has no ``text_pair`` value; ``has_pair``
    bool [B]. More than one ``text_pair`` value is refused (INVALID_ARGUMENT).
    """
    parsed = tf.io.parse_example(
        serialized,
        {
            TEXT_FEATURE: tf.io.FixedLenFeature([], tf.string),
            TEXT_PAIR_FEATURE: tf.io.VarLenFeature(tf.string),
        },
    )
    pairs = tf.RaggedTensor.from_sparse(parsed[TEXT_PAIR_FEATURE])
    counts = pairs.row_lengths()
    check = tf.debugging.Assert(
        tf.reduce_all(counts <= 1),
        [f"An example holds more than one {TEXT_PAIR_FEATURE} value."],
    )
    with tf.control_dependencies([check]):
        pair = pairs.to_tensor("", shape=[None, 1])[:, 0]
    return parsed[TEXT_FEATURE], pair, counts > 0


class ServingModule(tf.Module):
    """A model plus its tokenizer, with the serving signatures as tf.functions.

    Args:
        model: a kerasbert Encoder or task model (see ``serving.heads``).
        tokenizer: an in-graph kerasbert tokenizer (``tokenize(strings) ->
            RaggedTensor``, ``vocabulary``, ``cls_id``/``sep_id``/``pad_id``/
            ``mask_id``).
        sequence_length: S, the padded length of text inputs.
        top_k, max_predictions: MLM output sizes (see ``HeadOptions``).
        labels: class names for the ``classify`` signature; default
            ``"0"``, ``"1"``, ...

    Subclasses change what the signatures answer through ``text_outputs``
    and ``signature_functions``.
    """

    def __init__(
        self,
        model: keras.Model,
        tokenizer: Tokenizer,
        sequence_length: int = 128,
        top_k: int = 5,
        max_predictions: int = 8,
        labels: list[str] | None = None,
    ):
        super().__init__(name="kerasbert_serving")
        encoder = getattr(model, "encoder", model)
        if sequence_length > encoder.max_sequence_length:
            raise ValueError(
                f"sequence_length {sequence_length} exceeds the encoder's "
                f"max_sequence_length {encoder.max_sequence_length}."
            )
        if tokenizer.vocabulary_size > encoder.vocabulary_size:
            raise ValueError(
                f"The tokenizer has {tokenizer.vocabulary_size} tokens; the "
                f"encoder only {encoder.vocabulary_size} embeddings."
            )
        # Only the variables (and the tokenizer) are tracked for saving. The
        # Keras model and the shared tf.functions live in an untracked
        # namespace: tracked, they would be saved again as restorable objects
        # (Keras's own default-signature graphs, re-traced copies of each
        # function) that no serving signature calls.
        self._untracked = types.SimpleNamespace(model=model)
        # The tf.Variables behind the Keras variables: the signature graphs
        # read these, so these are what the saved restore op must fill. (Held
        # as Keras variables, saving writes copies that the restore op fills
        # while the graphs read the originals, which TF Serving's session
        # loader then reports as uninitialised.)
        self.model_variables = [variable.value for variable in model.variables]
        self.tokenizer = tokenizer
        self.input_names = encoder.input_names
        self.sequence_length = sequence_length
        self.packer = InputPacker.for_tokenizer(tokenizer, sequence_length)
        self._head = head_for(model)
        self._options = HeadOptions(
            vocabulary=tuple(tokenizer.vocabulary),
            mask_id=tokenizer.mask_id,
            top_k=top_k,
            max_predictions=max_predictions,
        )
        self.task_kind = None
        if isinstance(model, SequenceClassifier):
            self.task_kind = "regress" if model.num_classes == 1 else "classify"
            labels = labels or [str(i) for i in range(model.num_classes)]
            if len(labels) != model.num_classes:
                raise ValueError(
                    f"{len(labels)} labels for {model.num_classes} classes."
                )
        self.labels = tuple(labels or ())
        # Shared by every signature: each graph is traced and saved once,
        # however many signatures (or times in one) call it. The serving code
        # is straight-line tensor ops, so AutoGraph is off: it only converted
        # (slowly: ~60% of an export's tracing time) code with nothing to convert.
        self._untracked.tokenize = tf.function(
            tokenizer.tokenize, input_signature=[string_spec("text")], autograph=False
        )

        def pack(*ids: tf.RaggedTensor) -> Features:
            features = self.packer(*ids)
            return {name: tf.cast(value, tf.int32) for name, value in features.items()}

        self._untracked.pack_one = tf.function(
            pack, input_signature=[_IDS], autograph=False
        )
        self._untracked.pack_two = tf.function(
            pack, input_signature=[_IDS, _IDS], autograph=False
        )
        self._untracked.outputs = tf.function(
            lambda features: self._head(self.model, features, self._options),
            input_signature=[
                {
                    name: tf.TensorSpec([None, None], tf.int32, name=name)
                    for name in self.input_names
                }
            ],
            autograph=False,
        )

    @property
    def model(self) -> keras.Model:
        return self._untracked.model

    def tokenize(self, text: tf.Tensor, name: str) -> tf.RaggedTensor:
        """Ids [B, (tokens)] of input ``name``, strings [B] checked as UTF-8."""
        return self._untracked.tokenize(checked_utf8(text, name))

    def pack_tokens(
        self, first: tf.RaggedTensor, second: tf.RaggedTensor | None = None
    ) -> Features:
        """Ids [B, (tokens)] of one or two segments -> int32 features [B, S]
        (as ``kerasbert.data.texts.pack_texts`` packs them)."""
        if second is None:
            return self._untracked.pack_one(first)
        return self._untracked.pack_two(first, second)

    def pack(self, text: tf.Tensor, text_pair: tf.Tensor | None = None) -> Features:
        """Raw strings [B] (and pairs) -> int32 features [B, S]."""
        first = self.tokenize(text, "text")
        if text_pair is None:
            return self.pack_tokens(first)
        return self.pack_tokens(first, self.tokenize(text_pair, TEXT_PAIR_FEATURE))

    def outputs(self, features: Features) -> Outputs:
        """Task outputs (``serving.heads``) of int32 ``[B, seq]`` features.

        Every signature calls this one ``tf.function`` (traced once, for any
        seq), so saved_model.pb holds the model graph once, not per signature;
        likewise for the tokenizer and the packers.
        """
        return self._untracked.outputs(
            {name: features[name] for name in self.input_names}
        )

    def text_outputs(self, features: Features) -> Outputs:
        """What ``serving_default``/``text_pair`` answer for packed texts.

        Here the head's outputs; subclasses map them to their own terms.
        """
        return self.outputs(features)

    def checked_features(self, features: Features) -> Features:
        """``features`` after in-graph range checks (see the ``tensors`` signature).

        Raises (when run):
            InvalidArgumentError: an id, segment or mask value out of range,
                or more positions than the encoder has.
        """
        encoder = getattr(self.model, "encoder", self.model)
        ids, mask = features["input_ids"], features["input_mask"]
        checks = [
            tf.debugging.Assert(
                tf.reduce_all((ids >= 0) & (ids < encoder.vocabulary_size)),
                [f"input_ids must be in [0, {encoder.vocabulary_size})."],
            ),
            tf.debugging.Assert(
                tf.reduce_all((mask == 0) | (mask == 1)),
                ["input_mask must hold only 0 and 1."],
            ),
            tf.debugging.Assert(
                tf.shape(ids)[-1] <= encoder.max_sequence_length,
                [
                    "Sequences are longer than the "
                    f"{encoder.max_sequence_length} positions of the encoder."
                ],
            ),
        ]
        if "segment_ids" in features:
            segments = features["segment_ids"]
            checks.append(
                tf.debugging.Assert(
                    tf.reduce_all(
                        (segments >= 0) & (segments < encoder.type_vocabulary_size)
                    ),
                    [f"segment_ids must be in [0, {encoder.type_vocabulary_size})."],
                )
            )
        with tf.control_dependencies(checks):
            return {name: tf.identity(value) for name, value in features.items()}

    def features_from_examples(self, serialized: tf.Tensor) -> Features:
        """int32 features [B, S] of serialized ``tf.Example``s [B].

        Rows with a ``text_pair`` value are packed as pairs, the others as
        single texts (both packings run, on one tokenization of ``text``;
        each row keeps its own).
        """
        text, pair, has_pair = parse_text_examples(serialized)
        first = self.tokenize(text, TEXT_FEATURE)
        single = self.pack_tokens(first)
        paired = self.pack_tokens(first, self.tokenize(pair, TEXT_PAIR_FEATURE))
        return {
            name: tf.where(has_pair[:, None], paired[name], single[name])
            for name in single
        }

    def outputs_from_examples(self, serialized: tf.Tensor) -> Outputs:
        """Classify/regress outputs of serialized ``tf.Example``s [B].

        Each example's bytes feature ``text`` is the text (``text_pair``, if
        present, the second text). Returns ``classes`` [B, C] (labels) +
        ``scores`` [B, C] (probabilities), or ``outputs`` [B] for regression.
        """
        outputs = self.outputs(self.features_from_examples(serialized))
        if self.task_kind == "regress":
            return {"outputs": outputs["score"]}
        scores = outputs["probabilities"]
        classes = tf.tile(tf.constant([self.labels]), [tf.shape(scores)[0], 1])
        return {"classes": classes, "scores": scores}

    def tensors_signature(self) -> Signature:
        """The ``tensors`` signature: checked int32 features -> head outputs."""
        return (
            lambda *tensors: self.outputs(
                self.checked_features(dict(zip(self.input_names, tensors, strict=True)))
            ),
            [tf.TensorSpec([None, None], tf.int32, name=n) for n in self.input_names],
        )

    def signature_functions(self) -> dict[str, Signature]:
        """Signature name -> (function, input specs), before tracing."""
        functions = {
            DEFAULT_SIGNATURE: (
                lambda text: self.text_outputs(self.pack(text)),
                [string_spec("text")],
            ),
            "text_pair": (
                lambda text, text_pair: self.text_outputs(self.pack(text, text_pair)),
                [string_spec("text"), string_spec(TEXT_PAIR_FEATURE)],
            ),
            "tensors": self.tensors_signature(),
        }
        if self.task_kind:
            functions[self.task_kind] = (
                self.outputs_from_examples,
                [string_spec("inputs")],
            )
        return functions

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """Signature name -> concrete function, for ``tf.saved_model.save``."""
        return {
            name: tf.function(
                function, input_signature=spec, autograph=False
            ).get_concrete_function()
            for name, (function, spec) in self.signature_functions().items()
        }

    def method_names(self) -> dict[str, str]:
        """Signatures whose SignatureDef method is not Predict."""
        if self.task_kind == "classify":
            return {"classify": CLASSIFY_METHOD}
        if self.task_kind == "regress":
            return {"regress": REGRESS_METHOD}
        return {}
