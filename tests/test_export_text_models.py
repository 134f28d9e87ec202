"""``TextTaskModel`` exports, run by TF Serving's C++ loader, answer like Keras.

For each task (classify, regress, squad, tag) a tiny ``TextTaskModel`` with
random weights is exported: ``export_for_serving`` loads the version with the
C++ ``LoadSavedModel`` and replays every warmup request before it appears;
the tests then run every signature on that loaded version (the tagger goes
through ``kerasbert export --model tagger.keras``, without ``--tokenizer``).
The answers are compared with the Keras model's own outputs mapped to strings
in Python: label names, ``context[start:end]``, tags of ``sentence.split()``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import (
    WORDS,
    assert_outputs_equal,
    tiny_encoder,
    wordpiece_vocabulary,
)
from tensorflow_serving.apis import prediction_log_pb2

import serving.export
from kerasbert.data.texts import pack_texts
from kerasbert.finetuning.text_inputs import (
    pack_question_context,
    pack_words,
    split_words,
)
from kerasbert.finetuning.text_model import TextTaskModel
from kerasbert.models import SequenceClassifier, SpanQuestionAnswerer, TokenClassifier
from kerasbert.tokenizers import BertWordPieceTokenizer, InputPacker
from kerasbert_cli.commands import export
from serving.constants import CLASSIFY_METHOD, REGRESS_METHOD, WARMUP_FILE
from serving.export import ExportOptions, export_for_serving
from serving.saved_model_session import SavedModelSession
from serving.servable import Servable
from serving.tensors import string_array, text_example

SEQUENCE_LENGTH = 24
WIDTH = SEQUENCE_LENGTH - 2  # words per tagged sentence
LABELS = ["negative", "neutral", "positive"]
TAGS = ["O", "B-ANIMAL", "I-ANIMAL", "B-PLACE"]
LONG = " ".join(["Zürich"] * 4 + WORDS)  # 23 words, 43 tokens: truncated
TEXTS = ["The quick brown fox jumps over Zürich.", "", LONG]
PAIRS = ["Where is the dog?", "hello world", "Ça va?"]
QUESTIONS = ["Who jumps over the dog?", "where is paris?", "", "what?"]
CONTEXTS = [
    "Ça, «Zürich» — the quick brown fox jumps over the lazy dog.",
    "Paris is the capital of France; élan, naïve café.",
    "the fox",
    "",
]
PREDICT_METHOD = "tensorflow/serving/predict"

Arrays = dict[str, np.ndarray]

# Task -> (task model on an encoder, labels).
TASKS: dict[str, tuple[Callable[[keras.Model], keras.Model], list[str]]] = {
    "classify": (
        lambda e: SequenceClassifier(e, len(LABELS), dropout_rate=0.0),
        LABELS,
    ),
    "regress": (lambda e: SequenceClassifier(e, 1, dropout_rate=0.0), []),
    "squad": (lambda e: SpanQuestionAnswerer(e, dropout_rate=0.0), []),
    "tag": (lambda e: TokenClassifier(e, len(TAGS), dropout_rate=0.0), TAGS),
}


@pytest.fixture(scope="module")
def tokenizer() -> BertWordPieceTokenizer:
    return BertWordPieceTokenizer(wordpiece_vocabulary())


def text_model(task: str, tokenizer: BertWordPieceTokenizer) -> TextTaskModel:
    """A tiny random ``TextTaskModel`` (1 layer, H=16) for ``task``."""
    build, labels = TASKS[task]
    encoder = tiny_encoder(
        tokenizer.vocabulary_size,
        list(TASKS).index(task),
        num_layers=1,
        hidden_size=16,
        intermediate_size=32,
    )
    return TextTaskModel(
        build(encoder), tokenizer, task, SEQUENCE_LENGTH, labels, max_query_length=8
    )


def _run_export(*arguments: str) -> tuple[int, str]:
    """``kerasbert export ARGUMENTS``: (exit code, stderr)."""
    parser = argparse.ArgumentParser()
    export.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *arguments])
    errors = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
        return args.func(args), errors.getvalue()


@dataclass
class Exported:
    """A model, its version (verified and still loaded), Keras's answers."""

    model: TextTaskModel
    path: Path
    servable: Servable
    cases: dict[str, tuple[Arrays, Arrays]]  # signature -> (inputs, expected)

    @property
    def session(self) -> SavedModelSession:
        return self.servable.session


def _export_with_cli(model: TextTaskModel, directory: Path) -> Path:
    """``kerasbert export --model tagger.keras`` (no ``--tokenizer``)."""
    model.save(directory / "tagger.keras")
    output = directory / "tagger"
    code, errors = _run_export("--model", str(directory / "tagger.keras"),
                               "--output", str(output))  # fmt: skip
    assert code == 0, errors
    return output / "1"


@pytest.fixture(scope="module", params=list(TASKS))
def exported(request, tokenizer, tmp_path_factory) -> Iterator[Exported]:
    """One task's model, exported (tag: by the CLI from a saved .keras).

    ``export_for_serving`` loads each version with the C++ loader and replays
    its warmup requests before the version appears. The fixture keeps that
    servable loaded for the tests (its ``unload`` deferred), sparing a second
    load and a second first run of every signature (seconds each).
    """
    model = text_model(request.param, tokenizer)
    directory = tmp_path_factory.mktemp(request.param)
    kept: list[Servable] = []

    class KeptServable(Servable):
        def unload(self) -> None:
            kept.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(serving.export, "Servable", KeptServable)
        if request.param == "tag":
            path = _export_with_cli(model, directory)
        else:
            path = export_for_serving(model, model_path=directory / "m").path
    (servable,) = kept
    try:
        yield Exported(model, path, servable, _cases(model))
    finally:
        Servable.unload(servable)


def _strings(values) -> np.ndarray:
    return string_array([value.encode() for value in values])


def _numpy(outputs) -> Arrays:
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


def _sentence_outputs(model: TextTaskModel, texts, pairs=None) -> Arrays:
    """Keras: classify ``label`` + ``probabilities``, or regress ``score``."""
    inputs = (
        tf.constant(texts)
        if pairs is None
        else (tf.constant(texts), tf.constant(pairs))
    )
    values = keras.ops.convert_to_numpy(model(inputs))
    if model.task == "regress":
        return {"score": values}
    labels = [model.labels[i] for i in values.argmax(axis=1)]
    return {"label": _strings(labels), "probabilities": values}


def _answers(model: TextTaskModel, questions, contexts) -> Arrays:
    """Keras spans, with the answer text cut from the context in Python."""
    outputs = _numpy(model((tf.constant(questions), tf.constant(contexts))))
    answers = [
        context[start:end] if start >= 0 else ""
        for context, start, end in zip(
            contexts, outputs["answer_start"], outputs["answer_end"], strict=True
        )
    ]
    return {**outputs, "answer": _strings(answers)}


def _tags(model: TextTaskModel, sentences) -> Arrays:
    """Keras tag ids as tag names beside ``sentence.split()`` words."""
    outputs = _numpy(model(tf.constant(sentences)))
    words = [(s.split() + [""] * WIDTH)[:WIDTH] for s in sentences]
    tags = [
        [model.labels[i] if i >= 0 else "" for i in row] for row in outputs["tag_ids"]
    ]
    return {
        "words": np.array([_strings(row) for row in words]),
        "tags": np.array([_strings(row) for row in tags]),
        "tag_probabilities": outputs["tag_probabilities"],
    }


def _features(model: TextTaskModel, *texts) -> Arrays:
    """int32 features [B, S] of the ``serving_default`` inputs, as Keras packs."""
    strings = [tf.constant(part) for part in texts]
    tokenizer, length = model.tokenizer, model.sequence_length
    if model.task == "squad":
        query = model.max_query_length
        features = pack_question_context(tokenizer, *strings, length, query)[0]
    elif model.task == "tag":
        features = pack_words(tokenizer, split_words(strings[0]), length)[0]
    else:
        packer = InputPacker.for_tokenizer(tokenizer, length)
        features = pack_texts(tokenizer, packer, strings[0], None)
    return _numpy(features)


def _head_outputs(model: TextTaskModel, features: Arrays) -> Arrays:
    """Keras's answer to ``tensors``, in the serving heads' output names."""
    outputs = model.task_model(features, training=False)
    if model.task == "squad":
        vocabulary = _strings(model.tokenizer.vocabulary)
        return {**_numpy(outputs), "tokens": vocabulary[features["input_ids"]]}
    logits = keras.ops.convert_to_numpy(outputs)
    if model.task == "regress":
        return {"score": logits[:, 0]}
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    if model.task == "tag":
        return {"probabilities": probabilities, "input_mask": features["input_mask"]}
    return {"probabilities": probabilities, "logits": logits}


def _examples() -> np.ndarray:
    """Serialized tf.Examples: ``TEXTS[0]`` alone, ``TEXTS[1]`` + ``PAIRS[1]``."""
    examples = [text_example(TEXTS[0]), text_example(TEXTS[1])]
    examples[1].MergeFrom(text_example(PAIRS[1], "text_pair"))
    return string_array([e.SerializeToString() for e in examples])


def _examples_expected(model: TextTaskModel) -> Arrays:
    """Keras on the ``_examples`` rows: one single text, one pair."""
    single = _sentence_outputs(model, TEXTS[:1])
    paired = _sentence_outputs(model, TEXTS[1:2], PAIRS[1:2])
    if model.task == "regress":
        return {"outputs": np.concatenate([single["score"], paired["score"]])}
    scores = np.concatenate([single["probabilities"], paired["probabilities"]])
    return {"classes": np.tile(_strings(LABELS), (2, 1)), "scores": scores}


def _cases(model: TextTaskModel) -> dict[str, tuple[Arrays, Arrays]]:
    """Signature -> (inputs, Keras's expected outputs), for every signature."""
    if model.task == "squad":
        texts = (QUESTIONS, CONTEXTS)
        cases = {"serving_default": ({"question": QUESTIONS, "context": CONTEXTS},
                                     _answers(model, *texts))}  # fmt: skip
    elif model.task == "tag":
        texts = (TEXTS,)
        cases = {"serving_default": ({"text": TEXTS}, _tags(model, TEXTS))}
    else:
        texts = (TEXTS,)
        cases = {
            "serving_default": ({"text": TEXTS}, _sentence_outputs(model, TEXTS)),
            "text_pair": (
                {"text": TEXTS, "text_pair": PAIRS},
                _sentence_outputs(model, TEXTS, PAIRS),
            ),
            model.task: ({"inputs": _examples()}, _examples_expected(model)),
        }
    features = _features(model, *texts)
    cases["tensors"] = (features, _head_outputs(model, features))
    return cases


def test_every_signature_answers_like_keras(exported):
    cases = exported.cases
    signatures = exported.session.signature_defs
    assert sorted(signatures) == sorted(cases)
    methods = {"classify": CLASSIFY_METHOD, "regress": REGRESS_METHOD}
    for name, (inputs, expected) in cases.items():
        assert signatures[name].method_name == methods.get(name, PREDICT_METHOD)
        assert_outputs_equal(exported.session.run(name, inputs), expected, name)


def test_squad_offsets_count_characters_and_tags_follow_words(exported):
    """The cases above really exercise non-ASCII offsets and truncation."""
    task = exported.model.task
    if task == "squad":
        outputs = exported.session.run(
            "serving_default", {"question": QUESTIONS, "context": CONTEXTS}
        )
        start = outputs["answer_start"][0]
        assert len(CONTEXTS[0][:start].encode()) > start  # after multi-byte text
        assert outputs["answer_start"][3] == -1 and outputs["answer"][3] == b""
        assert outputs["score"][3] == 0.0
    elif task == "tag":
        outputs = exported.session.run("serving_default", {"text": TEXTS})
        assert outputs["words"].shape == (len(TEXTS), WIDTH)
        assert (outputs["tags"][1] == b"").all()  # empty sentence
        assert (outputs["tags"][2] == b"").any()  # truncated words have no tag
        assert (outputs["words"][2] != b"").all()


def test_warmup_covers_every_signature(exported):
    path = exported.path / WARMUP_FILE
    kinds = {}
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        kind = log.WhichOneof("log_type")
        kinds[getattr(log, kind).request.model_spec.signature_name] = kind
    expected = {"classify": "classify_log", "regress": "regress_log"}
    assert kinds == {
        name: expected.get(name, "predict_log")
        for name in exported.session.signature_defs
    }


def test_non_utf8_text_is_refused(exported):
    inputs = exported.cases["serving_default"][0]
    for name in inputs:
        bad = {
            **inputs,
            name: string_array([b"ok"] * (len(inputs[name]) - 1) + [b"\xff"]),
        }
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=f"Input {name} .*UTF-8"
        ):
            exported.session.run("serving_default", bad)


def test_settings_contradicting_the_model_are_refused(tokenizer, tmp_path):
    model = text_model("classify", tokenizer)
    other = BertWordPieceTokenizer(wordpiece_vocabulary(), lowercase=False)
    with pytest.raises(ValueError, match="tokenizer differs"):
        export_for_serving(model, other, tmp_path / "m")
    with pytest.raises(ValueError, match="sequence_length 16 differs"):
        export_for_serving(
            model, None, tmp_path / "m", ExportOptions(sequence_length=16)
        )
    with pytest.raises(ValueError, match="labels"):
        export_for_serving(
            model, model_path=tmp_path / "m", options=ExportOptions(labels=["a"] * 3)
        )
    assert not list((tmp_path / "m").iterdir())


def test_the_kit_shows_a_request_for_the_task(exported):
    deploy = (exported.path.parent / "DEPLOY.md").read_text()
    if exported.model.task == "squad":
        assert '"question": "Who jumps?"' in deploy
    else:
        assert '"instances": ["a sentence to encode"]' in deploy
    assert f"{SEQUENCE_LENGTH} tokens" in deploy


def test_export_command_needs_a_tokenizer_for_other_models(tokenizer, tmp_path):
    plain = tmp_path / "plain.keras"
    text_model("tag", tokenizer).task_model.save(plain)
    code, errors = _run_export("--model", str(plain), "--output", str(tmp_path / "p"))
    assert code == 2
    assert "TokenClassifier, which needs --tokenizer" in errors
    assert not (tmp_path / "p").exists()
