"""End to end: export tiny models, serve them on loopback, query over gRPC and
REST, and compare with the in-process SavedModel and Keras outputs."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import tiny_encoder, wordpiece_vocabulary
from tensorflow_serving.apis import (
    classification_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from kerasbert import MaskedLanguageModel, SentenceEncoder, SequenceClassifier
from kerasbert.tokenizers import BertWordPieceTokenizer
from kerasbert_cli.commands import export, predict
from serving.client import PredictionClient
from serving.config_files import BatchingParameters
from serving.export import ExportOptions, export_for_serving
from serving.inference import Limits
from serving.server import ModelServer, ServerConfig, single_model
from serving.signatures import ServingModule
from serving.tensors import text_example, to_tensor_proto

SEQUENCE_LENGTH = 16
TEXTS = ["The quick brown fox.", "Paris is the capital of France!", "hello"]
LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(wordpiece_vocabulary(1000)) + "\n")
    return BertWordPieceTokenizer(str(path))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def classifier(tokenizer, base):
    model = SequenceClassifier(
        tiny_encoder(tokenizer.vocabulary_size, 0), 3, dropout_rate=0.0
    )
    options = ExportOptions(sequence_length=SEQUENCE_LENGTH, labels=LABELS)
    result = export_for_serving(model, tokenizer, base / "classifier", options)
    return model, result


@pytest.fixture(scope="module")
def server(classifier):
    config = ServerConfig(
        models=single_model(classifier[1].path.parent),
        grpc_port=0,
        rest_port=0,
        limits=Limits(max_batch_size=8, max_tensor_elements=4096, max_string_bytes=200),
        poll_seconds=0,
        max_message_bytes=2**20,
    )
    with ModelServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with PredictionClient(f"127.0.0.1:{server.grpc_port}", "classifier") as c:
        yield c


def _keras_probabilities(model, tokenizer, texts, pairs=None) -> np.ndarray:
    module = ServingModule(model, tokenizer, SEQUENCE_LENGTH)
    features = module.pack(
        tf.constant(texts), None if pairs is None else tf.constant(pairs)
    )
    inputs = {name: features[name] for name in model.encoder.input_names}
    return tf.nn.softmax(model(inputs, training=False)).numpy()


def _rest(server, path: str, body: dict | None = None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body else None)
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.rest_port}{path}", data=data
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_export_writes_one_complete_version_and_the_kit(classifier):
    model, result = classifier
    model_path = result.path.parent
    assert result.version == 1 and result.path.name == "1"
    assert sorted(p.name for p in model_path.iterdir()) == [
        "1",
        "DEPLOY.md",
        "batching_parameters",
        "models.config",
        "monitoring.config",
    ]  # no temporary directory left behind
    assert (result.path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    shown = subprocess.run(
        [
            str(Path(sys.executable).parent / "saved_model_cli"),
            "show",
            "--all",
            "--dir",
            str(result.path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    for signature in ("serving_default", "text_pair", "tensors", "classify"):
        assert f"signature_def['{signature}']" in shown
    assert "Method name is: tensorflow/serving/classify" in shown
    assert "inputs['segment_ids']" in shown and "outputs['probabilities']" in shown


def test_variables_are_stored_once(classifier):
    """Parameters x 4 bytes, once (model.export would store them twice)."""
    model, result = classifier
    variables = sum(f.stat().st_size for f in (result.path / "variables").iterdir())
    parameter_bytes = model.count_params() * 4
    assert parameter_bytes <= variables <= 1.05 * parameter_bytes


def test_grpc_and_saved_model_and_keras_agree(classifier, tokenizer, client):
    model, result = classifier
    loaded = tf.saved_model.load(str(result.path))
    served = client.predict({"text": TEXTS})
    in_process = loaded.signatures["serving_default"](text=tf.constant(TEXTS))
    expected = _keras_probabilities(model, tokenizer, TEXTS)
    np.testing.assert_allclose(
        served["probabilities"], in_process["probabilities"], atol=1e-6
    )
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)

    pairs = client.predict({"text": TEXTS, "text_pair": TEXTS[::-1]}, "text_pair")
    np.testing.assert_allclose(
        pairs["probabilities"],
        _keras_probabilities(model, tokenizer, TEXTS, TEXTS[::-1]),
        atol=1e-5,
    )
    features = ServingModule(model, tokenizer, SEQUENCE_LENGTH).pack(tf.constant(TEXTS))
    tensors = client.predict(
        {name: features[name].numpy() for name in model.encoder.input_names},
        "tensors",
        output_filter=["probabilities"],
    )
    assert list(tensors) == ["probabilities"]
    np.testing.assert_allclose(tensors["probabilities"], expected, atol=1e-5)


def test_classify_metadata_and_status(classifier, client):
    expected = client.predict({"text": TEXTS[:2]})["probabilities"]
    classified = client.classify(TEXTS[:2])
    assert [[label for label, _ in row] for row in classified] == [LABELS, LABELS]
    np.testing.assert_allclose(
        [[s for _, s in row] for row in classified], expected, atol=1e-6
    )
    signatures = client.signatures()
    assert sorted(signatures) == [
        "__saved_model_init_op",  # TF Serving lists it too
        "classify",
        "serving_default",
        "tensors",
        "text_pair",
    ]
    assert list(signatures["serving_default"].inputs) == ["text"]
    assert client.status() == {1: "AVAILABLE"}


def test_rest_api_matches_grpc(server, client):
    expected = client.predict({"text": TEXTS})
    status, body = _rest(server, "/v1/models/classifier:predict", {"instances": TEXTS})
    assert status == 200
    np.testing.assert_allclose(
        [row["probabilities"] for row in body["predictions"]],
        expected["probabilities"],
        atol=1e-6,
    )
    status, body = _rest(
        server,
        "/v1/models/classifier/versions/1:predict",
        {"signature_name": "text_pair", "inputs": {"text": TEXTS, "text_pair": TEXTS}},
    )
    assert status == 200 and len(body["outputs"]["logits"]) == 3
    status, body = _rest(server, "/v1/models/classifier")
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
    status, body = _rest(server, "/v1/models/classifier/metadata")
    assert "classify" in body["metadata"]["signature_def"]["signature_def"]


def _predict_request(signature="serving_default", name="classifier", **inputs):
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=name, signature_name=signature)
    )
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(to_tensor_proto(value))
    return request


def _tensors_request(ids: np.ndarray, segments: np.ndarray | None = None):
    return _predict_request(
        "tensors",
        input_ids=ids,
        input_mask=np.ones(ids.shape, np.int32),
        segment_ids=np.zeros(ids.shape, np.int32) if segments is None else segments,
    )


BAD_REQUESTS = {
    "wrong dtype": (
        _predict_request(text=np.array([1, 2], np.int32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "to be DT_STRING but DT_INT32 is provided",
    ),
    "missing input": (
        _predict_request("text_pair", text=["a"]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Missing but required: ['text_pair']",
    ),
    "unknown signature": (
        _predict_request("nope", text=["a"]),
        grpc.StatusCode.INVALID_ARGUMENT,
        '"nope" not found',
    ),
    "unknown model": (
        _predict_request(name="other", text=["a"]),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(other)",
    ),
    "batch over limit": (
        _predict_request(text=["a"] * 9),
        grpc.StatusCode.INVALID_ARGUMENT,
        "maximum input batch size 8",
    ),
    "too many elements": (
        _tensors_request(np.ones((1, 5000), np.int32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "5000 elements; the limit is 4096",
    ),
    "text over limit": (
        _predict_request(text=["word " * 50]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "string of 250 bytes; the limit is 200",
    ),
    "non-UTF-8": (
        _predict_request(text=[b"ok", b"\xff\xfe"]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Input text holds bytes that are not valid UTF-8",
    ),
    "token id out of range": (
        _tensors_request(np.full((1, 4), 5000, np.int32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input_ids must be in [0, 1000)",
    ),
    "negative token id": (
        _tensors_request(np.full((1, 4), -1, np.int32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input_ids must be in [0, 1000)",
    ),
    "segment id out of range": (
        _tensors_request(np.ones((1, 4), np.int32), np.full((1, 4), 2, np.int32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "segment_ids must be in [0, 2)",
    ),
    "sequence over the positions": (
        _tensors_request(np.ones((1, 33), np.int32)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "longer than the 32 positions of the encoder",
    ),
    "oversized message": (
        _predict_request(text=["a" * 100] * 12_000),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_predict_requests_get_clear_statuses(server, client, case):
    request, code, message = BAD_REQUESTS[case]
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=10)
    assert caught.value.code() == code
    assert message in caught.value.details()
    # The server keeps serving.
    assert client.predict({"text": ["still fine"]})["probabilities"].shape == (1, 3)
    channel.close()


def test_bad_version_and_classify_requests(server, client):
    with pytest.raises(grpc.RpcError) as caught:
        client.predict({"text": ["a"]}, version=7)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Servable not found for request: Specific(classifier, 7)" in (
        caught.value.details()
    )
    stub = prediction_service_pb2_grpc.PredictionServiceStub(client._channel)
    request = classification_pb2.ClassificationRequest(
        model_spec=model_pb2.ModelSpec(name="classifier"),
        input=input_pb2.Input(
            example_list=input_pb2.ExampleList(examples=[text_example("a")])
        ),
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.Classify(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tensorflow/serving/classify" in caught.value.details()
    assert client.status() == {1: "AVAILABLE"}


def test_client_retries_unavailable_a_bounded_number_of_times():
    with PredictionClient(
        "127.0.0.1:1", "m", timeout_s=1.0, max_retries=2, backoff_s=0.05
    ) as unreachable:
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            unreachable.status()
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - start >= 0.05 + 0.1  # two backoffs were slept


def test_masked_lm_returns_top_k_at_mask_tokens(tokenizer, base):
    model = MaskedLanguageModel(tiny_encoder(tokenizer.vocabulary_size, 1))
    options = ExportOptions(sequence_length=SEQUENCE_LENGTH, top_k=3, max_predictions=2)
    result = export_for_serving(model, tokenizer, base / "mlm", options)
    loaded = tf.saved_model.load(str(result.path))
    texts = ["Paris is the [MASK] of France.", "no mask here"]
    outputs = loaded.signatures["serving_default"](text=tf.constant(texts))
    features = ServingModule(model, tokenizer, SEQUENCE_LENGTH).pack(tf.constant(texts))
    position = int(
        np.flatnonzero(features["input_ids"][0].numpy() == tokenizer.mask_id)[0]
    )
    np.testing.assert_array_equal(outputs["mask_positions"], [[position, -1], [-1, -1]])
    logits = model(
        {
            **{name: features[name][:1] for name in model.encoder.input_names},
            "masked_lm_positions": tf.constant([[position]]),
        }
    )["mlm_logits"][0, 0]
    probabilities = tf.nn.softmax(logits).numpy()
    best = np.argsort(-probabilities)[:3]
    np.testing.assert_array_equal(outputs["top_ids"][0, 0], best)
    np.testing.assert_allclose(
        outputs["top_probabilities"][0, 0], probabilities[best], atol=1e-6
    )
    assert [t.decode() for t in outputs["top_tokens"][0, 0].numpy()] == [
        tokenizer.vocabulary[i] for i in best
    ]
    assert (outputs["top_ids"].numpy()[1] == -1).all()


def test_hot_reload_batching_and_shutdown_drop_no_requests(tokenizer, base):
    """A new version is swapped in under load, batched requests share model
    calls, and a request still waiting in the batcher at shutdown completes."""
    model_path = base / "sentences"
    options = ExportOptions(sequence_length=SEQUENCE_LENGTH)
    first = SentenceEncoder(tiny_encoder(tokenizer.vocabulary_size, 2))
    export_for_serving(first, tokenizer, model_path, options)
    config = ServerConfig(
        models=single_model(model_path),
        grpc_port=0,
        rest_port=None,
        batching=BatchingParameters(
            max_batch_size=16, batch_timeout_micros=500_000, num_batch_threads=2
        ),
        poll_seconds=0.1,
    )
    failures, versions = [], set()
    stop = threading.Event()
    with ModelServer(config) as server:
        target = f"127.0.0.1:{server.grpc_port}"

        def hammer():
            # A generous deadline: the export below shares this process (and
            # its GIL) with the server; a slow answer is not a dropped one.
            with PredictionClient(target, "sentences", timeout_s=120) as c:
                while not stop.is_set():
                    try:
                        c.predict({"text": TEXTS})
                        versions.update(c.status())
                    except grpc.RpcError as error:
                        failures.append(error)

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        second = SentenceEncoder(tiny_encoder(tokenizer.vocabulary_size, 3))
        export_for_serving(second, tokenizer, model_path, options)
        with PredictionClient(target, "sentences") as c:
            deadline = time.monotonic() + 30
            while c.status() != {2: "AVAILABLE"} and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            stop.set()
            for thread in threads:
                thread.join()
            served = c.predict({"text": TEXTS})["embedding"]
        with server.manager.servable("sentences") as servable:
            merged = servable.batch_sizes()["serving_default"]
        late_answer = {}

        def late_request():
            with PredictionClient(
                target, "sentences", max_retries=0, timeout_s=120
            ) as c:
                late_answer.update(c.predict({"text": TEXTS}))

        late = threading.Thread(target=late_request)
        late.start()
        time.sleep(0.25)  # the request now waits in the batcher (0.5 s timeout)
    # Leaving the block stopped the server; the drain let the request finish.
    late.join()
    assert late_answer["embedding"].shape == (len(TEXTS), 64)
    assert not failures
    assert versions >= {1, 2}
    features = ServingModule(second, tokenizer, SEQUENCE_LENGTH).pack(
        tf.constant(TEXTS)
    )
    expected = second({n: features[n] for n in second.encoder.input_names})
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert max(merged) > len(TEXTS)  # concurrent requests shared model calls


def test_export_serve_and_predict_commands(classifier, tokenizer, tmp_path):
    """The CLI path: export a saved .keras model, serve it in a subprocess,
    query it with `predict`, stop it with SIGTERM."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(tokenizer.vocabulary) + "\n")
    saved = tmp_path / "classifier.keras"
    classifier[0].save(saved)
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command", required=True)
    export.add_parser(subparsers)
    predict.add_parser(subparsers)
    model_path = tmp_path / "tiny"
    args = parser.parse_args(
        ["export", "--model", str(saved), "--tokenizer", str(vocab), "--output",
         str(model_path), "--sequence-length", "16", "--labels", ",".join(LABELS)]
    )  # fmt: skip
    assert args.func(args) == 0 and (model_path / "1" / "saved_model.pb").is_file()

    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kerasbert_cli.commands.serve",
            f"--model_base_path={model_path}",
            "--model_name=tiny",
            f"--port={port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with PredictionClient(f"127.0.0.1:{port}", "tiny") as c:
            assert c.wait_until_available(timeout_s=60) == 1
        args = parser.parse_args(
            [
                "predict",
                "--server",
                f"127.0.0.1:{port}",
                "--model",
                "tiny",
                "hello",
                "world",
            ]
        )
        out = _capture(lambda: args.func(args))
        assert np.asarray(json.loads(out)["probabilities"]).shape == (2, 3)
        process.terminate()  # SIGTERM: graceful shutdown
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "Shutting down" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _capture(function) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert function() == 0
    return buffer.getvalue()


def _free_port() -> int:
    """A loopback port number that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_tls(classifier, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    config = ServerConfig(
        models=single_model(classifier[1].path.parent),
        grpc_port=0,
        rest_port=0,
        poll_seconds=0,
        tls_cert=cert,
        tls_key=key,
    )
    with ModelServer(config) as server:
        # REST is on TLS too: HTTPS answers, plain HTTP gets no answer.
        context = ssl.create_default_context(cafile=str(cert))
        url = f"https://localhost:{server.rest_port}/v1/models/classifier"
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            status = json.loads(response.read())["model_version_status"][0]
        assert status["state"] == "AVAILABLE"
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(
                f"http://localhost:{server.rest_port}/v1/models/classifier", timeout=5
            )
        with PredictionClient(
            f"localhost:{server.grpc_port}",
            "classifier",
            tls=True,
            root_certificates=cert,
        ) as secure:
            assert secure.predict({"text": ["hi"]})["probabilities"].shape == (1, 3)
        with (
            PredictionClient(
                f"localhost:{server.grpc_port}",
                "classifier",
                max_retries=0,
                timeout_s=2,
            ) as plain,
            pytest.raises(grpc.RpcError),
        ):
            plain.status()
