"""The local server against TF Serving's own behaviour.

TF Serving's classic test model (a TF1 graph, y = 0.5 x + 2, version
directory ``00000123``) is served from a ``--model_config_file`` with
version policies and labels, and must answer as TF Serving's documentation
says it does; versions that fail to load show as failed and are retried;
bad requests mixed with good ones under concurrency, with and without
batching, fail only themselves.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
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
from google.protobuf import wrappers_pb2
from serving_helpers import WORDS, tiny_encoder, wordpiece_vocabulary
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tf1_half_plus_two import write_half_plus_two

from kerasbert import SequenceClassifier
from kerasbert.tokenizers import BertWordPieceTokenizer
from serving.client import PredictionClient
from serving.config_files import (
    BatchingParameters,
    ModelConfig,
    VersionPolicy,
    model_config_text,
    read_model_config_file,
)
from serving.export import ExportOptions, export_for_serving
from serving.server import ModelServer, ServerConfig, single_model
from serving.tensors import to_tensor_proto


def _float_example(**features: float) -> example_pb2.Example:
    return example_pb2.Example(
        features=feature_pb2.Features(
            feature={
                name: feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[v]))
                for name, v in features.items()
            }
        )
    )


def _examples(*values: float) -> input_pb2.Input:
    return input_pb2.Input(
        example_list=input_pb2.ExampleList(
            examples=[_float_example(x=v) for v in values]
        )
    )


def _spec(name: str, signature: str = "", version=None, label=None):
    spec = model_pb2.ModelSpec(name=name, signature_name=signature)
    if version is not None:
        spec.version.CopyFrom(wrappers_pb2.Int64Value(value=version))
    if label is not None:
        spec.version_label = label
    return spec


@pytest.fixture(scope="module")
def half_plus_two(tmp_path_factory) -> Path:
    """Base path with the TF1 model as version 00000123 only."""
    base = tmp_path_factory.mktemp("tf1") / "half_plus_two"
    write_half_plus_two(base)
    return base


@pytest.fixture(scope="module")
def two_versions(half_plus_two, tmp_path_factory) -> Path:
    """The TF1 model as versions 1 and 2."""
    base = tmp_path_factory.mktemp("tf1_versions") / "versions"
    for version in ("1", "2"):
        shutil.copytree(half_plus_two / "00000123", base / version)
    return base


@pytest.fixture(scope="module")
def config_server(half_plus_two, two_versions, tmp_path_factory):
    """Three models from one --model_config_file: TF Serving's test model,
    and the two-version model under the `all` and `specific` policies."""
    configs = [
        ModelConfig("half_plus_two", half_plus_two),
        ModelConfig(
            "everything",
            two_versions,
            VersionPolicy("all"),
            version_labels={"stable": 1, "canary": 2},
        ),
        ModelConfig("pinned", two_versions, VersionPolicy("specific", versions=(1,))),
    ]
    path = tmp_path_factory.mktemp("config") / "models.config"
    path.write_text(model_config_text(configs))
    config = ServerConfig(
        models=read_model_config_file(path), grpc_port=0, rest_port=None, poll_seconds=0
    )
    with ModelServer(config) as server:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        yield (
            prediction_service_pb2_grpc.PredictionServiceStub(channel),
            model_service_pb2_grpc.ModelServiceStub(channel),
        )
        channel.close()


def test_tf1_model_answers_as_tf_serving_documents(config_server):
    predictions, _ = config_server
    request = predict_pb2.PredictRequest(model_spec=_spec("half_plus_two"))
    # Shape [3] into a [None, 1] placeholder: TF Serving's session does not
    # check static shapes, and answers [2.5, 3.0, 4.5].
    request.inputs["x"].CopyFrom(to_tensor_proto(np.array([1.0, 2.0, 5.0], np.float32)))
    response = predictions.Predict(request, timeout=30)
    output = response.outputs["y"]
    assert list(output.float_val) == [2.5, 3.0, 4.5] and not output.tensor_content
    np.testing.assert_array_equal(tf.make_ndarray(output), [2.5, 3.0, 4.5])
    assert response.model_spec.version.value == 123
    assert response.model_spec.signature_name == "serving_default"

    classified = predictions.Classify(
        classification_pb2.ClassificationRequest(
            model_spec=_spec("half_plus_two", "classify_x_to_y"), input=_examples(1, 4)
        ),
        timeout=30,
    )
    rows = classified.result.classifications
    assert [[(c.label, c.score) for c in row.classes] for row in rows] == [
        [("", 2.5)],
        [("", 4.0)],
    ]
    regressed = predictions.Regress(
        regression_pb2.RegressionRequest(
            model_spec=_spec("half_plus_two", "regress_x_to_y"), input=_examples(1, 4)
        ),
        timeout=30,
    )
    assert [r.value for r in regressed.result.regressions] == [2.5, 4.0]
    multi = predictions.MultiInference(
        inference_pb2.MultiInferenceRequest(
            tasks=[
                inference_pb2.InferenceTask(
                    model_spec=_spec("half_plus_two", "classify_x_to_y"),
                    method_name="tensorflow/serving/classify",
                ),
                inference_pb2.InferenceTask(
                    model_spec=_spec("half_plus_two", "regress_x_to_y"),
                    method_name="tensorflow/serving/regress",
                ),
            ],
            input=_examples(6),
        ),
        timeout=30,
    )
    assert multi.results[0].classification_result.classifications[0].classes[
        0
    ].score == pytest.approx(5.0)
    assert multi.results[1].regression_result.regressions[0].value == 5.0

    metadata = predictions.GetModelMetadata(
        get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=_spec("half_plus_two"), metadata_field=["signature_def"]
        ),
        timeout=30,
    )
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signature_map)
    assert set(signature_map.signature_def) == {
        "serving_default",
        "classify_x_to_y",
        "regress_x_to_y",
    }
    # A predict signature asked to classify: refused as TF Serving refuses it.
    with pytest.raises(grpc.RpcError) as caught:
        predictions.Classify(
            classification_pb2.ClassificationRequest(
                model_spec=_spec("half_plus_two"), input=_examples(1)
            ),
            timeout=30,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tensorflow/serving/classify" in caught.value.details()


def _status(models, name, **spec) -> dict[int, tuple[str, int, str]]:
    response = models.GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec=_spec(name, **spec)),
        timeout=30,
    )
    states = get_model_status_pb2.ModelVersionStatus.State
    return {
        s.version: (states.Name(s.state), s.status.error_code, s.status.error_message)
        for s in response.model_version_status
    }


def _predict_version(predictions, name, **spec) -> int:
    request = predict_pb2.PredictRequest(model_spec=_spec(name, **spec))
    request.inputs["x"].CopyFrom(to_tensor_proto(np.array([[1.0]], np.float32)))
    return predictions.Predict(request, timeout=30).model_spec.version.value


def test_version_policies_and_labels(config_server):
    predictions, models = config_server
    assert _status(models, "half_plus_two") == {123: ("AVAILABLE", 0, "")}
    assert _status(models, "everything") == {
        1: ("AVAILABLE", 0, ""),
        2: ("AVAILABLE", 0, ""),
    }
    assert _status(models, "pinned") == {1: ("AVAILABLE", 0, "")}
    assert _predict_version(predictions, "everything") == 2  # no version: latest
    assert _predict_version(predictions, "everything", version=1) == 1
    assert _predict_version(predictions, "everything", label="stable") == 1
    assert _predict_version(predictions, "everything", label="canary") == 2
    assert _status(models, "everything", label="stable") == {1: ("AVAILABLE", 0, "")}
    assert _predict_version(predictions, "pinned") == 1
    for spec, code, message in [
        (
            dict(name="pinned", version=2),
            grpc.StatusCode.NOT_FOUND,
            "Specific(pinned, 2)",
        ),
        (
            dict(name="everything", label="beta"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "beta",
        ),
        (dict(name="absent"), grpc.StatusCode.NOT_FOUND, "Latest(absent)"),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            _predict_version(predictions, **spec)
        assert caught.value.code() == code and message in caught.value.details()


def test_a_broken_version_shows_failed_and_is_retried_when_fixed(
    half_plus_two, tmp_path
):
    base = tmp_path / "model"
    shutil.copytree(half_plus_two / "00000123", base / "1")
    shutil.copytree(half_plus_two / "00000123", base / "2")
    index = base / "2" / "variables" / "variables.index"
    good_index = index.read_bytes()
    index.write_bytes(b"not a checkpoint index")
    config = ServerConfig(
        models=single_model(base), grpc_port=0, rest_port=0, poll_seconds=0.2
    )
    # A restart whose newest version is broken serves the newest good one.
    with ModelServer(config) as server:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        states = _status(models, "model")
        assert states[1] == ("AVAILABLE", 0, "")
        state, code, message = states[2]
        assert state == "END" and code != 0 and message
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/model/versions/2"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url.replace("/2", "/9"), timeout=30)
        assert missing.value.code == 404
        with urllib.request.urlopen(url, timeout=30) as response:
            (rest_status,) = json.loads(response.read())["model_version_status"]
        assert rest_status["state"] == "END"
        assert rest_status["status"]["error_code"] != "OK"
        assert rest_status["status"]["error_message"] == message
        assert _predict_version(predictions, "model") == 1
        index.write_bytes(good_index)  # the files change: the load is retried
        deadline = time.monotonic() + 30
        while _status(models, "model").get(2, ("",))[0] != "AVAILABLE":
            assert time.monotonic() < deadline, _status(models, "model")
            time.sleep(0.1)
        assert _predict_version(predictions, "model") == 2
        channel.close()


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory) -> Path:
    vocab = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocab.write_text("\n".join(wordpiece_vocabulary()) + "\n")
    tokenizer = BertWordPieceTokenizer(str(vocab))
    encoder = tiny_encoder(
        tokenizer.vocabulary_size,
        5,
        num_layers=1,
        hidden_size=16,
        intermediate_size=32,
        max_sequence_length=16,
    )
    model = SequenceClassifier(encoder, 2, dropout_rate=0.0)
    base = tmp_path_factory.mktemp("served") / "clf"
    export_for_serving(model, tokenizer, base, ExportOptions(sequence_length=8))
    return base


def _good_or_bad_request(index: int) -> tuple[predict_pb2.PredictRequest, bool]:
    """Request ``index`` of the mixed load: every third one is bad in a way
    only the model finds (out-of-range ids, bytes that are not UTF-8)."""
    request = predict_pb2.PredictRequest(model_spec=_spec("clf"))
    kind = index % 6
    if kind == 2:
        request.model_spec.signature_name = "tensors"
        ids = np.full((1, 8), 10_000 + index, np.int32)
        for name, value in {
            "input_ids": ids,
            "input_mask": np.ones_like(ids),
            "segment_ids": np.zeros_like(ids),
        }.items():
            request.inputs[name].CopyFrom(to_tensor_proto(value))
        return request, False
    if kind == 5:
        request.inputs["text"].CopyFrom(to_tensor_proto([b"bad \xff\xfe"]))
        return request, False
    request.inputs["text"].CopyFrom(to_tensor_proto([WORDS[index % len(WORDS)]]))
    return request, True


@pytest.mark.parametrize("batching", [False, True])
def test_bad_requests_under_concurrency_fail_only_themselves(classifier_path, batching):
    parameters = (
        BatchingParameters(max_batch_size=16, batch_timeout_micros=20_000)
        if batching
        else None
    )
    config = ServerConfig(
        models=single_model(classifier_path),
        grpc_port=0,
        rest_port=None,
        poll_seconds=0,
        batching=parameters,
    )
    with ModelServer(config) as server:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        expected = {}
        for word in WORDS:  # each text's answer when asked alone
            request = predict_pb2.PredictRequest(model_spec=_spec("clf"))
            request.inputs["text"].CopyFrom(to_tensor_proto([word]))
            expected[word] = tf.make_ndarray(
                stub.Predict(request, timeout=30).outputs["probabilities"]
            )
        good_failures, bad_answers, wrong_answers, leaks = [], [], [], []

        def client(worker: int) -> None:
            for step in range(6):
                index = worker * 6 + step
                request, good = _good_or_bad_request(index)
                try:
                    response = stub.Predict(request, timeout=60)
                except grpc.RpcError as error:
                    if good:
                        good_failures.append(error.details())
                    elif error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                        bad_answers.append(error.code())
                    elif any(str(10_000 + i) in error.details() for i in range(96)):
                        leaks.append(error.details())
                    continue
                if not good:
                    bad_answers.append("answered")
                    continue
                word = WORDS[index % len(WORDS)]
                got = tf.make_ndarray(response.outputs["probabilities"])
                if not np.allclose(got, expected[word], atol=1e-5):
                    wrong_answers.append((word, got))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with server.manager.servable("clf") as servable:
            merged = servable.batch_sizes().get("serving_default", {})
        channel.close()
    assert good_failures == [] and wrong_answers == []
    assert bad_answers == [] and leaks == []
    if batching:
        assert max(merged) > 1  # good requests did share session runs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_kit_serves_unchanged_and_sigterm_ends_within_the_grace(classifier_path):
    """`kerasbert serve` started from the files `kerasbert export` wrote, with
    TF Serving's flags; metrics at the monitoring config's path; SIGTERM with
    a half-sent REST request open still exits within the grace period."""
    grpc_port, rest_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "kerasbert_cli.commands.serve",
            f"--port={grpc_port}", f"--rest_api_port={rest_port}",
            f"--model_config_file={classifier_path / 'models.config'}",
            "--enable_batching",
            f"--batching_parameters_file={classifier_path / 'batching_parameters'}",
            f"--monitoring_config_file={classifier_path / 'monitoring.config'}",
            "--grace_seconds=3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        with PredictionClient(f"127.0.0.1:{grpc_port}", "clf") as client:
            assert client.wait_until_available(timeout_s=120) == 1
            answer = client.predict({"text": ["hello world"]})["probabilities"]
        body = json.dumps({"instances": ["hello world"]}).encode()
        url = f"http://127.0.0.1:{rest_port}/v1/models/clf:predict"
        with urllib.request.urlopen(urllib.request.Request(url, body), timeout=30) as r:
            rest = json.loads(r.read())["predictions"][0]["probabilities"]
        np.testing.assert_allclose(rest, answer[0], atol=1e-6)
        metrics_url = f"http://127.0.0.1:{rest_port}/monitoring/prometheus/metrics"
        with urllib.request.urlopen(metrics_url, timeout=30) as response:
            metrics = response.read().decode()
        assert ':tensorflow:serving:request_count{model_name="clf",status="OK"}' in (
            metrics
        )
        stalled = socket.create_connection(("127.0.0.1", rest_port), timeout=30)
        stalled.sendall(
            b"POST /v1/models/clf:predict HTTP/1.1\r\nHost: x\r\n"
            b'Content-Length: 1000\r\n\r\n{"instances"'
        )
        time.sleep(0.5)
        start = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        assert time.monotonic() - start < 3 + 10, output
        assert process.returncode == 0, output
        assert "Shutting down" in output
        stalled.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
