"""The REST API (``serving.rest``) against TF Serving's own answers.

The model is TF Serving's classic test model (a TF1 graph, y = 0.5 x + 2,
version 123, label ``stable``), so the expected answers are those of TF
Serving's http_rest_api_handler_test.cc and json_tensor_test.cc. Bad
requests must get TF Serving's status codes (never a 500) and leave the
server serving; slow, stalled and surplus clients are dropped or refused
within bounded loops on loopback, and ``stop`` does not wait for them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tf1_half_plus_two import write_half_plus_two

from serving.config_files import ModelConfig
from serving.errors import ServingError
from serving.inference import InferenceEngine, Limits
from serving.metrics import Metrics
from serving.model_manager import ModelManager, VersionStatus
from serving.rest import RestApi, RestServer
from serving.rest_examples import examples_tensor
from serving.rest_inputs import json_to_array
from serving.rest_outputs import decimal_texts, predict_json

MODEL = "half_plus_two"
PREDICT = f"/v1/models/{MODEL}:predict"
MAX_BODY = 1 << 20


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[InferenceEngine]:
    base = tmp_path_factory.mktemp("models") / MODEL
    write_half_plus_two(base)
    config = ModelConfig(MODEL, base, version_labels={"stable": 123})
    manager = ModelManager([config], poll_seconds=0)
    limits = Limits(max_batch_size=64, max_tensor_elements=10_000)
    engine = InferenceEngine(manager, limits, Metrics())
    manager.start()
    yield engine
    manager.stop()


@contextmanager
def serving(engine, **options) -> Iterator[RestServer]:
    server = RestServer(
        engine, "127.0.0.1", 0, **{"max_body_bytes": MAX_BODY, **options}
    )
    server.start()
    try:
        yield server
    finally:
        server.stop(grace_s=2)


@pytest.fixture(scope="module")
def server(engine) -> Iterator[RestServer]:
    with serving(engine, metrics=engine.metrics, read_timeout_s=10) as server:
        yield server


def call(server, method: str, path: str, body=None, headers=None):
    """(status, raw body, response) of one request on a fresh connection."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body)
    with closing(http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)) as c:
        c.request(method, path, body=data, headers=headers or {})
        response = c.getresponse()
        return response.status, response.read(), response


def post(server, path: str, body) -> tuple[int, dict]:
    status, raw, _ = call(server, "POST", path, body)
    return status, json.loads(raw)


def get(server, path: str) -> tuple[int, dict]:
    status, raw, _ = call(server, "GET", path)
    return status, json.loads(raw)


def exchange(server, data: bytes, timeout_s: float = 5.0) -> bytes:
    """Sends raw bytes, then reads the answer until the server closes."""
    chunks = []
    with socket.create_connection(("127.0.0.1", server.port), timeout_s) as sock:
        sock.sendall(data)
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def assert_serving(server) -> None:
    assert post(server, PREDICT, {"instances": [1.0]}) == (200, {"predictions": [2.5]})


def wait_until(condition, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def closed_within(sock: socket.socket, timeout_s: float) -> float:
    """Seconds until the server closes ``sock`` (fails past ``timeout_s``)."""
    start = time.monotonic()
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


# --------------------------------------------------------------------------
# The API, as TF Serving answers it
# --------------------------------------------------------------------------


def test_predict_row_and_columnar_formats(server):
    assert post(server, PREDICT, {"instances": [1.0, 2.0, 5.0]}) == (
        200,
        {"predictions": [2.5, 3.0, 4.5]},
    )
    status, raw, response = call(server, "POST", PREDICT, {"instances": [1, 2]})
    assert (status, raw) == (200, b'{"predictions": [2.5,3.0]}')
    assert response.getheader("Content-Type") == "application/json"
    cases = [
        ({"instances": [[1.0], [2.0]]}, {"predictions": [[2.5], [3.0]]}),
        ({"instances": [{"x": [1.0]}, {"x": [3.0]}]}, {"predictions": [[2.5], [3.5]]}),
        (
            {"signature_name": "serving_default", "instances": [3.0, 4.0]},
            {"predictions": [3.5, 4.0]},
        ),
        ({"inputs": [3.0, 4.0]}, {"outputs": [3.5, 4.0]}),
        ({"inputs": {"x": [[1.0]], "ignored": "x"}}, {"outputs": [[2.5]]}),
        ({"inputs": [[2.0]]}, {"outputs": [[3.0]]}),
    ]
    for body, answer in cases:
        assert post(server, PREDICT, body) == (200, answer), body
    status, raw, _ = call(
        server, "POST", PREDICT, b'{"instances": [NaN, Infinity, -Infinity]}'
    )
    assert (status, raw) == (200, b'{"predictions": [NaN,Infinity,-Infinity]}')


def test_versions_and_labels_as_tf_serving(server):
    base = f"/v1/models/{MODEL}"
    for path in ("/versions/123", "/versions/000123", "/labels/stable"):
        assert post(server, f"{base}{path}:predict", {"instances": [3.0]}) == (
            200,
            {"predictions": [3.5]},
        )
    status, body = post(server, f"{base}/versions/124:predict", {"instances": [1.0]})
    assert status == 404 and "Servable not found" in body["error"]
    status, body = post(server, f"{base}/labels/nope:predict", {"instances": [1.0]})
    assert status == 400 and "Unrecognized servable version label" in body["error"]
    for version in ("9" * 5000, str(2**63)):
        for method, path in (
            ("POST", f"{base}/versions/{version}:predict"),
            ("GET", f"{base}/versions/{version}"),
        ):
            status, raw, _ = call(server, method, path, {"instances": [1.0]})
            assert status == 400 and b"Failed to convert version" in raw
    status, body = post(server, "/v1/models/nope:predict", {"instances": [1.0]})
    assert status == 404
    assert_serving(server)


def test_status_and_metadata_json(server):
    available = {
        "model_version_status": [
            {
                "version": "123",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    for path in ("", "/versions/123", "/labels/stable"):
        assert get(server, f"/v1/models/{MODEL}{path}") == (200, available)
    assert get(server, f"/v1/models/{MODEL}/versions/7")[0] == 404
    assert get(server, "/v1/models/nope")[0] == 404
    assert get(server, "/v1/models") == (
        400,
        {"error": "Missing model name in request."},
    )
    for path in ("", "/versions/123", "/labels/stable"):
        status, metadata = get(server, f"/v1/models/{MODEL}{path}/metadata")
        assert status == 200
        assert metadata["model_spec"] == {
            "name": MODEL,
            "signature_name": "",
            "version": "123",
        }
        signatures = metadata["metadata"]["signature_def"]["signature_def"]
        assert set(signatures) == {
            "serving_default",
            "classify_x_to_y",
            "regress_x_to_y",
        }
        assert signatures["serving_default"] == {
            "inputs": {
                "x": {
                    "dtype": "DT_FLOAT",
                    "tensor_shape": {
                        "dim": [{"size": "-1", "name": ""}, {"size": "1", "name": ""}],
                        "unknown_rank": False,
                    },
                    "name": "x:0",
                }
            },
            "outputs": {
                "y": {
                    "dtype": "DT_FLOAT",
                    "tensor_shape": {
                        "dim": [{"size": "-1", "name": ""}, {"size": "1", "name": ""}],
                        "unknown_rank": False,
                    },
                    "name": "y:0",
                }
            },
            "method_name": "tensorflow/serving/predict",
            "defaults": {},
        }


def test_classify_and_regress_as_tf_serving(server):
    classify = f"/v1/models/{MODEL}:classify"
    regress = f"/v1/models/{MODEL}/labels/stable:regress"
    body = {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}, {"x": 10.0}]}
    assert post(server, classify, body) == (
        200,
        {"results": [[["", 12.0]], [["", 7.0]]]},
    )
    body = {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}
    status, raw, _ = call(server, "POST", regress, body)
    assert (status, raw) == (200, b'{"results": [42.0]}')
    # Context features go into every example; the example's own value wins.
    body = {
        "signature_name": "regress_x_to_y",
        "context": {"x": 4.0},
        "examples": [{}, {"x": [80.0]}],
    }
    assert post(server, regress, body) == (200, {"results": [4.0, 42.0]})
    bad = [
        ({"signature_name": "regress_x_to_y", "examples": [{"x": 80}]}, "int64"),
        ({"signature_name": "serving_default", "examples": [{"x": 1.0}]}, "method"),
        ({"signature_name": "regress_x_to_y"}, "'examples' is expected"),
        ({"signature_name": "regress_x_to_y", "examples": {}}, "list/array"),
        ({"signature_name": "regress_x_to_y", "examples": []}, "empty array"),
        ({"signature_name": "regress_x_to_y", "examples": [[1]]}, "JSON object"),
        ({"signature_name": "regress_x_to_y", "examples": [{"x": None}]}, "Null"),
        ({"signature_name": "regress_x_to_y", "examples": [{"x": [1, 1.5]}]}, "int64"),
        (
            {"signature_name": "regress_x_to_y", "examples": [{"x": 2**64 - 1}]},
            "uint64",
        ),
        ({"signature_name": "regress_x_to_y", "examples": [{"x": 1e39}]}, "precision"),
        ({"signature_name": "regress_x_to_y", "examples": [{}] * 65}, "batch size"),
        ({"signature_name": 7, "examples": [{"x": 1.0}]}, "must be a string"),
        ({"context": [], "examples": [{"x": 1.0}]}, "JSON object"),
    ]
    for body, message in bad:
        status, answer = post(server, regress, body)
        assert status == 400 and message in answer["error"], (body, answer)
    assert_serving(server)


def test_metrics_page(server):
    assert_serving(server)
    status, raw, response = call(server, "GET", "/monitoring/prometheus/metrics")
    assert status == 200
    assert response.getheader("Content-Type") == "text/plain; version=0.0.4"
    page = raw.decode()
    assert 'model_name="half_plus_two",status="OK"' in page
    assert 'API="Predict",entrypoint="REST"' in page


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 500),
    ],
)
def test_http_status_of_each_error_code(code, http_status):
    reply = RestApi(FakeEngine(error=ServingError(code, "why"))).answer(
        "GET", "/v1/models/m", b""
    )
    assert (reply.status, json.loads(reply.body)) == (http_status, {"error": "why"})


# --------------------------------------------------------------------------
# Bad requests: TF Serving's status, never a 500, and the server keeps serving
# --------------------------------------------------------------------------

BAD_BODIES = [
    (b"", "The document is empty"),
    (b"instances = [1, 2]", "JSON Parse error"),
    (b"[1, 2]", "Is not object"),
    (b'{"instances": ["\xff"]}', "Invalid encoding"),
    (b'{"instances": ["\\ud800"]}', "surrogate"),
    (b"[" * 100_000, "nested deeper"),
    (b'{"instances": ' + b"[" * 100_000, "nested deeper"),
    (b'{"instances": [' + b"1" * 5000 + b"]}", "JSON Parse error"),
    (b'{"signature_name": 100, "instances": [1.0]}', "must be a string value"),
    (b'{"signature_name": "nope", "instances": [1.0]}', "not found in signature"),
    # Brackets inside strings do not nest: a plain unknown signature.
    (b'{"signature_name": "' + b"[" * 1000 + b'"}', "not found in signature"),
    (b'{"instances": "abc"}', "list/array"),
    (b'{"instances": []}', "No values"),
    (b'{"instances": [["x"]]}', "not of expected type: float"),
    (b'{"instances": [true]}', "not of expected type: float"),
    (b'{"instances": [{"b64": "AAAA"}]}', "not of expected type: float"),
    (b'{"instances": [[1.0], [2.0, 3.0]]}', "unexpected size"),
    (b'{"instances": [1.0, [2.0]]}', "Type: Array is not of expected type"),
    (b'{"instances": [[1.0], 2.0]}', "found at incorrect level"),
    (b'{"instances": [1.0], "inputs": [1.0]}', "only one of"),
    (b"{}", "Missing 'inputs' or 'instances'"),
    (b'{"instances": [{"y": [1.0]}]}', "does not have named input: y"),
    (b'{"instances": [{"x": 1.0}, 2.0]}', "Expecting object"),
    (b'{"inputs": {"y": [1.0]}}', "Missing named input: x"),
    (b'{"instances": [16777217]}', "loss of precision"),
    (b'{"instances": [1e39]}', "loss of precision"),
    (json.dumps({"instances": [[0.0] * 200] * 60}).encode(), "the limit is 10000"),
    (json.dumps({"instances": [[0.0]] * 65}).encode(), "batch size"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_predict_bodies_are_400(server, body, message):
    status, raw, _ = call(server, "POST", PREDICT, body)
    assert status == 400, raw
    assert message in json.loads(raw)["error"]
    assert_serving(server)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/foo", 404),
        ("GET", "/v1", 404),
        ("GET", "/v1/foo", 400),
        ("POST", f"/v1/models/{MODEL}:PREDICT", 400),
        ("POST", f"/v1/models/{MODEL}/metadata", 400),
        ("POST", f"/v1/models/{MODEL}/versions/1/labels/a:predict", 400),
        ("GET", PREDICT, 400),
        ("PUT", f"/v1/models/{MODEL}", 400),
        ("DELETE", f"/v1/models/{MODEL}", 400),
        ("OPTIONS", f"/v1/models/{MODEL}", 400),
    ],
)
def test_unknown_routes_and_methods(server, method, path, status):
    answer_status, raw, _ = call(server, method, path)
    assert answer_status == status
    assert json.loads(raw)["error"] == f"Malformed request: {method} {path}"


def test_http_framing_errors(server):
    head = f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\n".encode()
    cases = [
        (head + b"Content-Length: -5\r\n\r\n", b"400"),
        (head + b"Content-Length: abc\r\n\r\n", b"400"),
        (head + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", b"413"),
        (head + b"Content-Length: 2000000\r\n\r\n", b"413"),  # body never sent
        (head + b"Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n", b"413"),
        (head + b"Transfer-Encoding: gzip\r\n\r\n", b"501"),
        (head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
        (head + b"Transfer-Encoding: chunked\r\n\r\n200000\r\n", b"413"),
        (b"BREW /pot HTTP/1.1\r\n\r\n", b"501"),
        (b"NONSENSE\r\n\r\n", b"400"),
    ]
    for request, status in cases:
        answer = exchange(server, request)
        assert answer.startswith(b"HTTP/1.1 " + status), (request[-60:], answer)
        assert b'{"error": ' in answer
    # A client sending a too large body reads the 413, not a reset.
    status, raw, _ = call(server, "POST", PREDICT, b"x" * (8 * MAX_BODY))
    assert status == 413 and b"larger than" in raw
    # No Content-Length: an empty body, as TF Serving reads it.
    answer = exchange(server, head + b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"document is empty" in answer
    chunked = head + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    chunked += b'6\r\n{"inst\r\ne;ext=1\r\nances": [1.0]}\r\n0\r\nTrailer: x\r\n\r\n'
    answer = exchange(server, chunked)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"[2.5]}")
    assert_serving(server)


def test_keep_alive_and_head(server):
    with closing(http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)) as c:
        for body, status in (({"instances": [1.0]}, 200), ({"instances": []}, 400)) * 2:
            c.request("POST", PREDICT, body=json.dumps(body))
            response = c.getresponse()
            assert response.status == status and not response.will_close
            response.read()
        c.request("HEAD", f"/v1/models/{MODEL}")
        response = c.getresponse()
        assert response.status == 400 and response.read() == b""


# --------------------------------------------------------------------------
# Slow, stalled and surplus clients; shutdown
# --------------------------------------------------------------------------

HALF_REQUEST = f"POST {PREDICT} HTTP/1.1\r\nContent-Length: 100\r\n\r\n{{".encode()


def test_read_timeout_drops_stalled_and_dripping_clients(engine):
    with serving(engine, read_timeout_s=0.5) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as stalled:
            stalled.sendall(HALF_REQUEST)
            assert closed_within(stalled, 5) < 3
        with socket.create_connection(("127.0.0.1", server.port)) as idle:
            assert closed_within(idle, 5) < 3
        with socket.create_connection(("127.0.0.1", server.port)) as dripping:
            dripping.settimeout(0.1)
            start, closed = time.monotonic(), False
            for _ in range(50):  # a byte every 0.1 s: each read is quick
                try:
                    dripping.sendall(b"G")
                    closed = dripping.recv(1) == b""
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                if closed:
                    break
            assert closed and time.monotonic() - start < 3
        assert_serving(server)


def test_connections_past_the_cap_are_refused_at_once(engine):
    with serving(engine, max_connections=2, read_timeout_s=5) as server:
        first = socket.create_connection(("127.0.0.1", server.port))
        second = socket.create_connection(("127.0.0.1", server.port))
        wait_until(lambda: server.open_connections == 2)
        start = time.monotonic()
        assert exchange(server, b"", timeout_s=3).startswith(b"HTTP/1.1 503")
        assert time.monotonic() - start < 2
        first.close()
        second.close()
        wait_until(lambda: server.open_connections == 0)
        assert_serving(server)


def test_stop_drops_stalled_clients_at_once(engine):
    server = RestServer(engine, "127.0.0.1", 0, max_body_bytes=MAX_BODY)
    server.start()
    stalled = socket.create_connection(("127.0.0.1", server.port))
    idle = socket.create_connection(("127.0.0.1", server.port))
    stalled.sendall(HALF_REQUEST)
    wait_until(lambda: server.open_connections == 2)
    start = time.monotonic()
    server.stop(grace_s=10)
    assert time.monotonic() - start < 2
    assert closed_within(stalled, 2) < 1 and closed_within(idle, 2) < 1
    stalled.close()
    idle.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1)


class FakeEngine:
    """Answers status requests after ``delay_s``, or with ``error``."""

    limits = Limits()

    def __init__(self, delay_s: float = 0.0, error: Exception | None = None):
        self.delay_s = delay_s
        self.error = error
        self.started = threading.Event()

    @contextmanager
    def observe(self, api: str, entrypoint: str, model_name: str):
        yield

    def statuses(self, spec) -> list[VersionStatus]:
        self.started.set()
        time.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return [VersionStatus(1, "AVAILABLE")]


def test_stop_lets_requests_in_flight_finish_within_the_grace():
    answers, slow = [], FakeEngine(delay_s=0.5)
    server = RestServer(slow, "127.0.0.1", 0, max_body_bytes=MAX_BODY)
    server.start()
    request = threading.Thread(
        target=lambda: answers.append(call(server, "GET", "/v1/models/m"))
    )
    request.start()
    wait_until(slow.started.is_set)
    start = time.monotonic()
    server.stop(grace_s=5)
    assert 0.2 < time.monotonic() - start < 3
    request.join(5)
    status, raw, response = answers[0]
    assert (
        status == 200 and json.loads(raw)["model_version_status"][0]["version"] == "1"
    )
    assert response.getheader("Connection") == "close"
    # A request longer than the grace does not hold stop up.
    slower = FakeEngine(delay_s=3)
    server = RestServer(slower, "127.0.0.1", 0, max_body_bytes=MAX_BODY)
    server.start()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /v1/models/m HTTP/1.1\r\n\r\n")
        wait_until(slower.started.is_set)
        start = time.monotonic()
        server.stop(grace_s=0.2)
        assert time.monotonic() - start < 1
        assert closed_within(sock, 2) < 1


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_https(engine, tmp_path):
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    server = RestServer(
        engine,
        "127.0.0.1",
        0,
        max_body_bytes=MAX_BODY,
        ssl_context=context,
        read_timeout_s=5,
    )
    server.start()
    try:
        # Plain HTTP on the TLS port is dropped; HTTPS keeps working.
        assert not exchange(server, b"GET /v1/models/x HTTP/1.1\r\n\r\n").startswith(
            b"HTTP"
        )
        for _ in range(2):
            with closing(
                http.client.HTTPSConnection(
                    "127.0.0.1", server.port, context=client, timeout=10
                )
            ) as c:
                c.request("POST", PREDICT, body=json.dumps({"instances": [1.0, 5.0]}))
                response = c.getresponse()
                assert response.status == 200
                assert json.loads(response.read()) == {"predictions": [2.5, 4.5]}
        stalled = socket.create_connection(("127.0.0.1", server.port))  # no handshake
        wait_until(lambda: server.open_connections == 1)
    finally:
        start = time.monotonic()
        server.stop(grace_s=5)
    assert time.monotonic() - start < 2
    assert closed_within(stalled, 2) < 1
    stalled.close()


# --------------------------------------------------------------------------
# JSON <-> tensors
# --------------------------------------------------------------------------


def _info(dtype: int) -> meta_graph_pb2.TensorInfo:
    return meta_graph_pb2.TensorInfo(name="t:0", dtype=dtype)


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (types_pb2.DT_INT32, [[1, -2], [3, 2**31 - 1]], np.int32),
        (types_pb2.DT_INT64, [2**63 - 1, -(2**63)], np.int64),
        (types_pb2.DT_UINT8, [0, 255], np.uint8),
        (types_pb2.DT_UINT64, [2**64 - 1], np.uint64),
        (types_pb2.DT_BOOL, [True, False], np.bool_),
        (types_pb2.DT_DOUBLE, [0.1, 2, float("nan")], np.float64),
        (types_pb2.DT_FLOAT, [[]], np.float32),
        (types_pb2.DT_FLOAT, 2.5, np.float32),
    ],
)
def test_json_to_array_keeps_the_input_dtype(dtype, value, expected):
    array = json_to_array("t", value, _info(dtype), 100)
    assert array.dtype == expected
    np.testing.assert_array_equal(array, np.array(value, dtype=expected))


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        (types_pb2.DT_INT32, [2**31], "not of expected type: int32"),
        (types_pb2.DT_INT32, [-(2**31) - 1], "not of expected type: int32"),
        (types_pb2.DT_UINT8, [-1], "not of expected type: uint8"),
        (types_pb2.DT_UINT64, [-1], "not of expected type: uint64"),
        (types_pb2.DT_INT64, [2**63], "not of expected type: int64"),
        (types_pb2.DT_INT32, [1.5], "not of expected type: int32"),
        (types_pb2.DT_INT32, [1.0], "not of expected type: int32"),
        (types_pb2.DT_INT32, [True], "not of expected type: int32"),
        (types_pb2.DT_BOOL, [1], "not of expected type: bool"),
        (types_pb2.DT_STRING, [1], "not of expected type: string"),
        (types_pb2.DT_STRING, [{"b64": "!!"}], "Unable to base64 decode"),
        (types_pb2.DT_STRING, [{"b64": "aGk=", "x": 1}], "base64 data"),
        (types_pb2.DT_DOUBLE, [2**53], "loss of precision"),
        (types_pb2.DT_FLOAT, [[1.0], 2.0], "found at incorrect level"),
        (types_pb2.DT_FLOAT, [[[1.0]], [[1.0], [2.0]]], "unexpected size"),
    ],
)
def test_json_to_array_refuses_values_outside_the_dtype(dtype, value, message):
    with pytest.raises(ServingError) as raised:
        json_to_array("t", value, _info(dtype), 100)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in raised.value.message


def test_json_to_array_strings_and_unsupported_dtypes():
    array = json_to_array(
        "t",
        [["héllo", {"b64": "aGk"}], ["", {"b64": "/w=="}]],
        _info(types_pb2.DT_STRING),
        10,
    )
    assert array.shape == (2, 2)
    assert array.tolist() == [["héllo".encode(), b"hi"], [b"", b"\xff"]]
    with pytest.raises(ServingError) as raised:
        json_to_array("t", [1.0], _info(types_pb2.DT_HALF), 10)
    assert raised.value.code == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(ServingError, match="the limit is 10"):
        json_to_array("t", [[1.0] * 4] * 3, _info(types_pb2.DT_FLOAT), 10)


def test_examples_as_tf_serving_builds_them():
    body = {
        "context": {"query": "pizza", "location": ["sfo"]},
        "examples": [
            {"names": ["foo", {"b64": "aGk="}], "ratings": [8.0, float("nan")]},
            {"age": 20, "flags": [1, True, False], "empty": [], "query": "own"},
        ],
    }
    first, second = (
        example_pb2.Example.FromString(data)
        for data in examples_tensor(body, "classify", 10)
    )
    features = first.features.feature
    assert features["query"].bytes_list.value == [b"pizza"]
    assert features["location"].bytes_list.value == [b"sfo"]
    assert features["names"].bytes_list.value == [b"foo", b"hi"]
    assert features["ratings"].float_list.value[0] == 8.0
    assert math.isnan(features["ratings"].float_list.value[1])
    features = second.features.feature
    assert features["age"].int64_list.value == [20]
    assert features["flags"].int64_list.value == [1, 1, 0]
    assert features["empty"].WhichOneof("kind") is None
    assert features["query"].bytes_list.value == [b"own"]  # the example's wins


def test_predict_json_formats_as_tf_serving():
    floats = {"y": np.array([0.1, 3, 1e-5, 9e6, 1 / 3], np.float32)}
    assert predict_json(floats, row_format=True) == (
        '{"predictions": [0.1,3.0,1e-05,9e+06,0.333333343]}'
    )
    assert decimal_texts(np.array([0.1, 2**60], np.float64)) == [
        "0.1",
        "1.152921504606847e+18",
    ]
    outputs = {
        "ids": np.array([[1, 2], [3, 4]], np.int32),
        "text": np.array([b"ok", b"\xff"], object),
        "raw_bytes": np.array([b"ok", b"hi"], object),
        "flag": np.array([True, False]),
    }
    rows = json.loads(predict_json(outputs, row_format=True))["predictions"]
    assert rows[0] == {
        "ids": [1, 2],
        "text": "ok",
        "raw_bytes": {"b64": "b2s="},
        "flag": True,
    }
    assert rows[1]["text"] == {"b64": "/w=="}
    columns = json.loads(predict_json(outputs, row_format=False))["outputs"]
    assert columns["ids"] == [[1, 2], [3, 4]] and columns["raw_bytes"][1] == {
        "b64": "aGk="
    }
    for bad in (
        {"a": np.zeros(2, np.float32), "b": np.zeros(3, np.float32)},
        {"a": np.float32(1.0).reshape(())},
        {"a": np.zeros(2, np.float16)},
    ):
        with pytest.raises(ServingError):
            predict_json(bad, row_format=True)
    assert json.loads(predict_json({"a": np.zeros((2, 0, 3))}, row_format=False)) == {
        "outputs": [[], []]
    }
    assert math.isnan(
        json.loads(predict_json({"a": np.array([np.nan])}, True))["predictions"][0]
    )
