"""Exports run by TensorFlow's C++ session loader, as TF Serving runs them.

``tensorflow_model_server`` loads a version with the C++ ``LoadSavedModel``
(restore op, init op, then ``Session::Run`` on the SignatureDefs' tensor
names), which is stricter than ``tf.saved_model.load``: a graph reading a
variable that the restore op does not fill only fails there. So every export
kind is loaded here with ``SavedModelSession`` (the same loader through the C
API), each signature and each warmup request is run, and the answers are
compared with the Keras model's own. TF Serving's TF1 ``half_plus_two`` test
model checks the loader itself on a graph not written by TF2 saving.
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
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tf1_half_plus_two import write_half_plus_two

from kerasbert.models import (
    Encoder,
    MaskedLanguageModel,
    MultipleChoiceClassifier,
    SentenceEncoder,
    SequenceClassifier,
    SpanQuestionAnswerer,
    TokenClassifier,
)
from kerasbert.tokenizers import BertWordPieceTokenizer, Tokenizer, load_tokenizer
from kerasbert_cli.commands import export
from serving.constants import CLASSIFY_METHOD, REGRESS_METHOD, WARMUP_FILE
from serving.export import ExportOptions, export_for_serving, serving_module
from serving.saved_model_session import SavedModelSession
from serving.signatures import ServingModule
from serving.tensors import string_array, text_example, to_ndarrays
from tfrecords_tools.vocab import train_sentencepiece

SEQUENCE_LENGTH = 16
TOP_K = 3
MAX_PREDICTIONS = 2
LABELS = ["negative", "neutral", "positive"]
TEXTS = ["The quick brown fox.", "Paris is the [MASK] of France!", "hello"]
PAIRS = ["what is the capital?", "where is the dog?", "who jumps over it?"]
PREDICT_METHOD = "tensorflow/serving/predict"

Arrays = dict[str, np.ndarray]

# Export kind -> the task model on a fresh encoder (dropout 0: deterministic).
MODELS: dict[str, Callable[[Encoder], keras.Model]] = {
    "encoder": lambda encoder: encoder,
    "sentence_encoder": SentenceEncoder,
    "classifier": lambda encoder: SequenceClassifier(encoder, 3, dropout_rate=0.0),
    "regressor": lambda encoder: SequenceClassifier(encoder, 1, dropout_rate=0.0),
    "qa": lambda encoder: SpanQuestionAnswerer(encoder, dropout_rate=0.0),
    "tagger": lambda encoder: TokenClassifier(encoder, 4, dropout_rate=0.0),
    "mlm": MaskedLanguageModel,
}
# The SentencePiece classifier is the export command's test case.
CASES = [f"wordpiece-{kind}" for kind in MODELS] + ["sentencepiece-mlm"]


@pytest.fixture(scope="module")
def wordpiece_tokenizer() -> BertWordPieceTokenizer:
    """WordPiece over WORDS, letters and punctuation (any text tokenizes)."""
    return BertWordPieceTokenizer(wordpiece_vocabulary())


@pytest.fixture(scope="module")
def sentencepiece_path(tmp_path_factory) -> Path:
    """A tiny unigram SentencePiece model (ALBERT's special pieces)."""
    directory = tmp_path_factory.mktemp("spm")
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, size=6)) + " ." for _ in range(300)]
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    return train_sentencepiece([corpus], directory / "spm.model", vocab_size=40)


@pytest.fixture(scope="module")
def sentencepiece_tokenizer(sentencepiece_path) -> Tokenizer:
    return load_tokenizer(sentencepiece_path)


@dataclass
class Exported:
    """A model, the version exported from it, and that version loaded."""

    model: keras.Model
    module: ServingModule  # same settings as the export: packs the texts
    session: SavedModelSession

    @property
    def tokenizer(self) -> Tokenizer:
        return self.module.tokenizer


def _options(labels: list[str] | None = None) -> ExportOptions:
    """The export settings of every case (small S, K and P)."""
    return ExportOptions(
        sequence_length=SEQUENCE_LENGTH,
        top_k=TOP_K,
        max_predictions=MAX_PREDICTIONS,
        labels=labels,
    )


@pytest.fixture(scope="module", params=CASES)
def exported(request, tmp_path_factory) -> Iterator[Exported]:
    """One export kind with one tokenizer, exported and loaded (C++ loader)."""
    tokenizer_kind, kind = request.param.split("-")
    tokenizer = request.getfixturevalue(f"{tokenizer_kind}_tokenizer")
    model = MODELS[kind](
        tiny_encoder(tokenizer.vocabulary_size, CASES.index(request.param))
    )
    options = _options(LABELS if kind == "classifier" else None)
    base = tmp_path_factory.mktemp(request.param)
    result = export_for_serving(model, tokenizer, base / kind, options)
    with SavedModelSession(result.path) as session:
        yield Exported(model, serving_module(model, tokenizer, options), session)


def _examples(texts: list[str]) -> np.ndarray:
    """Serialized ``tf.Example``s [B] with bytes feature ``text``."""
    return string_array([text_example(text).SerializeToString() for text in texts])


def _texts_of(examples: np.ndarray) -> list[bytes]:
    """The ``text`` feature of each serialized ``tf.Example``."""
    return [
        example_pb2.Example.FromString(example)
        .features.feature["text"]
        .bytes_list.value[0]
        for example in examples
    ]


def _pack(exported: Exported, texts, pairs=None) -> Arrays:
    """int32 features [B, S] of texts (and pairs), as the signatures pack them."""
    features = exported.module.pack(
        tf.constant(list(texts)), None if pairs is None else tf.constant(list(pairs))
    )
    return {name: value.numpy() for name, value in features.items()}


def _signature_inputs(exported: Exported) -> dict[str, Arrays]:
    """Inputs for every signature the export should have.

    The ``tensors`` ids get a ``[MASK]`` at position 2 of the first text:
    SentencePiece never makes one from raw text (a control symbol).
    """
    features = _pack(exported, TEXTS)
    tensors = {name: features[name] for name in exported.module.input_names}
    tensors["input_ids"][0, 2] = exported.tokenizer.mask_id
    inputs = {
        "serving_default": {"text": string_array([t.encode() for t in TEXTS])},
        "text_pair": {"text": np.array(TEXTS, object), "text_pair": PAIRS},
        "tensors": tensors,
    }
    if exported.module.task_kind:
        inputs[exported.module.task_kind] = {"inputs": _examples(TEXTS)}
    return inputs


def _features(exported: Exported, signature: str, inputs: Arrays) -> Arrays:
    """The int32 features [B, S] that ``signature`` computes on ``inputs``."""
    if signature == "tensors":
        return inputs
    if signature in ("classify", "regress"):
        return _pack(exported, _texts_of(inputs["inputs"]))
    return _pack(exported, inputs["text"], inputs.get("text_pair"))


def _strings(values: list[str]) -> np.ndarray:
    """UTF-8 bytes in an object array, as string tensors come back."""
    return np.array([value.encode() for value in values], object)


def _mask_positions(input_ids: np.ndarray, mask_id: int) -> np.ndarray:
    """The first MAX_PREDICTIONS positions of ``mask_id`` per row, -1 padded."""
    positions = np.full((len(input_ids), MAX_PREDICTIONS), -1, np.int32)
    for row, ids in enumerate(input_ids):
        found = np.flatnonzero(ids == mask_id)[:MAX_PREDICTIONS]
        positions[row, : len(found)] = found
    return positions


def _mlm_outputs(exported: Exported, inputs: Arrays, features: Arrays) -> Arrays:
    """Top-K tokens at the first masks: ids, tokens, probabilities [B, P, K]."""
    positions = _mask_positions(features["input_ids"], exported.tokenizer.mask_id)
    inputs = {**inputs, "masked_lm_positions": np.maximum(positions, 0)}
    logits = exported.model(inputs, training=False)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits["mlm_logits"]))
    ids = np.argsort(-probabilities, axis=-1, kind="stable")[..., :TOP_K]
    found = (positions >= 0)[..., None]
    top = np.take_along_axis(probabilities, ids, axis=-1)
    vocabulary = _strings(exported.tokenizer.vocabulary)
    return {
        "mask_positions": positions,
        "top_ids": np.where(found, ids, -1).astype(np.int32),
        "top_tokens": np.where(found, vocabulary[ids], b""),
        "top_probabilities": np.where(found, top, 0.0).astype(np.float32),
    }


def _keras_outputs(exported: Exported, features: Arrays) -> Arrays:
    """What the Keras model answers, in the serving heads' output names."""
    model = exported.model
    inputs = {name: features[name] for name in exported.module.input_names}
    if isinstance(model, MaskedLanguageModel):
        return _mlm_outputs(exported, inputs, features)
    outputs = model(inputs, training=False)
    if isinstance(model, Encoder):
        outputs = {name: outputs[name] for name in ("sequence_output", "pooled_output")}
    elif isinstance(model, SentenceEncoder):
        outputs = {"embedding": outputs}
    elif isinstance(model, SpanQuestionAnswerer):
        vocabulary = _strings(exported.tokenizer.vocabulary)
        outputs = {**outputs, "tokens": vocabulary[features["input_ids"]]}
    elif isinstance(model, TokenClassifier):
        probabilities = keras.ops.softmax(outputs)
        outputs = {"probabilities": probabilities, "input_mask": features["input_mask"]}
    elif model.num_classes == 1:
        outputs = {"score": outputs[:, 0]}
    else:
        outputs = {"probabilities": keras.ops.softmax(outputs), "logits": outputs}
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


def _expected(exported: Exported, signature: str, inputs: Arrays) -> Arrays:
    """Keras's answer to ``signature`` on ``inputs``, in its output names."""
    outputs = _keras_outputs(exported, _features(exported, signature, inputs))
    if signature == "regress":
        return {"outputs": outputs["score"]}
    if signature == "classify":
        scores = outputs["probabilities"]
        return {
            "classes": np.tile(_strings(LABELS), (len(scores), 1)),
            "scores": scores,
        }
    return outputs


def _warmup_requests(exported: Exported) -> list[tuple[str, str, Arrays]]:
    """(log kind, signature, inputs) of each record of the warmup file."""
    path = exported.session.export_dir / WARMUP_FILE
    requests = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        kind = log.WhichOneof("log_type")
        request = getattr(log, kind).request
        if kind == "predict_log":
            inputs = to_ndarrays(request.inputs)
        else:
            examples = request.input.example_list.examples
            inputs = {"inputs": string_array([e.SerializeToString() for e in examples])}
        requests.append((kind, request.model_spec.signature_name, inputs))
    return requests


def _check_signatures(exported: Exported) -> None:
    """Each signature runs under the C++ loader and answers like Keras."""
    inputs = _signature_inputs(exported)
    signatures = exported.session.signature_defs
    assert sorted(signatures) == sorted(inputs)
    methods = {"classify": CLASSIFY_METHOD, "regress": REGRESS_METHOD}
    for signature, arrays in inputs.items():
        method = methods.get(signature, PREDICT_METHOD)
        assert signatures[signature].method_name == method, signature
        actual = exported.session.run(signature, arrays)
        assert_outputs_equal(actual, _expected(exported, signature, arrays), signature)


def _check_warmup(exported: Exported) -> None:
    """Each warmup record runs under the C++ loader and answers like Keras."""
    requests = _warmup_requests(exported)
    log_kinds = {"classify": "classify_log", "regress": "regress_log"}
    assert sorted(s for _, s, _ in requests) == sorted(exported.session.signature_defs)
    for kind, signature, inputs in requests:
        assert kind == log_kinds.get(signature, "predict_log"), signature
        actual = exported.session.run(signature, inputs)
        where = f"warmup {signature}"
        assert_outputs_equal(actual, _expected(exported, signature, inputs), where)


def test_every_signature_answers_like_keras(exported):
    _check_signatures(exported)


def test_every_warmup_request_runs_and_answers_like_keras(exported):
    _check_warmup(exported)


def _check_variables_stored_once(exported: Exported) -> None:
    """Parameters x 4 bytes (float32), once: the restore op fills them all."""
    variables = exported.session.export_dir / "variables"
    stored = sum(path.stat().st_size for path in variables.iterdir())
    parameter_bytes = exported.model.count_params() * 4
    assert parameter_bytes <= stored <= 1.05 * parameter_bytes


def test_variables_are_stored_once(exported):
    _check_variables_stored_once(exported)


def test_multiple_choice_classifier_is_refused_clearly(wordpiece_tokenizer, tmp_path):
    """Its inputs are [B, choices, S]: no head serves it, and nothing is written."""
    model = MultipleChoiceClassifier(
        tiny_encoder(wordpiece_tokenizer.vocabulary_size, 0)
    )
    with pytest.raises(TypeError, match="Cannot export a MultipleChoiceClassifier"):
        export_for_serving(model, wordpiece_tokenizer, tmp_path / "mc", _options())
    assert not list((tmp_path / "mc").iterdir())


class _KerasVariablesModule(ServingModule):
    """``ServingModule`` as it was: tracking the Keras variables themselves.

    Saving then writes copies that the restore op fills, while the signature
    graphs read the originals, which stay uninitialised.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_variables = list(self.model.variables)


def test_an_export_tracking_keras_variables_fails_under_the_loader(
    wordpiece_tokenizer, tmp_path
):
    """The loader catches what ``tf.saved_model.load`` lets pass."""
    model = SentenceEncoder(tiny_encoder(wordpiece_tokenizer.vocabulary_size, 0))
    module = _KerasVariablesModule(model, wordpiece_tokenizer, SEQUENCE_LENGTH)
    tf.saved_model.save(module, str(tmp_path / "1"), signatures=module.signatures())
    with (
        SavedModelSession(tmp_path / "1") as session,
        pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized"),
    ):
        session.run("tensors", dict(module.pack(tf.constant(TEXTS))))


def test_sentencepiece_tokenizer_survives_set_random_seed(sentencepiece_path):
    """``set_random_seed`` clears TF's eager kernel cache; the model stays."""
    tokenizer = load_tokenizer(sentencepiece_path)
    tokenize = tf.function(tokenizer.tokenize)
    before = tokenizer.tokenize(TEXTS).to_list()
    assert tokenize(tf.constant(TEXTS)).to_list() == before
    keras.utils.set_random_seed(1)
    assert tokenizer.tokenize(TEXTS).to_list() == before
    assert tokenize(tf.constant(TEXTS)).to_list() == before  # a traced capture


def test_export_command_with_a_sentencepiece_preset(sentencepiece_path, tmp_path):
    """``kerasbert export --preset P --tokenizer spm.model`` exports a version
    TF Serving's loader runs (it failed for every preset: the seed was set
    after the SentencePiece tokenizer was built, and dropped its model)."""
    parser = argparse.ArgumentParser()
    export.add_parser(parser.add_subparsers(dest="command", required=True))
    output = tmp_path / "spm_classifier"
    args = parser.parse_args(
        ["export", "--preset", "bert_tiny", "--task", "classifier", "--num-classes",
         "3", "--labels", ",".join(LABELS), "--tokenizer", str(sentencepiece_path),
         "--output", str(output), "--sequence-length", str(SEQUENCE_LENGTH),
         "--top-k", str(TOP_K), "--max-predictions", str(MAX_PREDICTIONS)]
    )  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert args.func(args) == 0
    tokenizer = load_tokenizer(sentencepiece_path)
    keras.utils.set_random_seed(args.seed)  # the command's weights, again
    model = export.build_preset_model(
        "bert_tiny", "classifier", tokenizer.vocabulary_size, 3
    )
    module = serving_module(model, tokenizer, _options(LABELS))
    with SavedModelSession(output / "1") as session:
        exported = Exported(model, module, session)
        _check_signatures(exported)
        _check_warmup(exported)
        _check_variables_stored_once(exported)


def _x_examples(values: list[float]) -> np.ndarray:
    """Serialized ``tf.Example``s [B], each with float feature ``x``."""
    examples = [
        example_pb2.Example(
            features=feature_pb2.Features(
                feature={
                    "x": feature_pb2.Feature(
                        float_list=feature_pb2.FloatList(value=[x])
                    )
                }
            )
        )
        for x in values
    ]
    return string_array([example.SerializeToString() for example in examples])


def test_tf1_half_plus_two_runs_under_the_loader(tmp_path):
    """TF Serving's TF1 test model: restore + legacy init op, three methods."""
    version = write_half_plus_two(tmp_path / "half_plus_two")
    with SavedModelSession(version) as session:
        assert {n: s.method_name for n, s in session.signature_defs.items()} == {
            "serving_default": PREDICT_METHOD,
            "classify_x_to_y": CLASSIFY_METHOD,
            "regress_x_to_y": REGRESS_METHOD,
        }
        x = [1.0, 2.0, 5.0]
        y = [2.5, 3.0, 4.5]
        # Shape [3], not the signature's [None, 1]: a session does not check.
        predicted = session.run("serving_default", {"x": np.array(x, np.float32)})
        np.testing.assert_allclose(predicted["y"], y)
        scalar = session.run("serving_default", {"x": np.float32(3.0)})["y"]
        assert scalar.shape == () and scalar == 3.5  # 0-d feeds stay 0-d
        examples = {"inputs": _x_examples(x)}
        scores = session.run("classify_x_to_y", examples)["scores"]
        outputs = session.run("regress_x_to_y", examples)["outputs"]
        np.testing.assert_allclose(scores, np.array(y)[:, None])
        np.testing.assert_allclose(outputs, np.array(y)[:, None])
