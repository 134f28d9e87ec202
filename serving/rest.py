"""TF Serving's REST API (``/v1/models/...``) over an ``InferenceEngine``.

Supported, with TF Serving's JSON formats:

* ``GET  /v1/models/NAME[/versions/V]``           model status
* ``GET  /v1/models/NAME[/versions/V]/metadata``  signature defs
* ``POST /v1/models/NAME[/versions/V]:predict``   ``{"instances": [...]}`` (row
  format, answered with ``{"predictions": [...]}``) or ``{"inputs": ...}``
  (column format, answered with ``{"outputs": ...}``); strings are JSON
  strings, or ``{"b64": "..."}`` for arbitrary bytes.

Errors are ``{"error": "..."}`` with the HTTP status of the gRPC code.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from serving.batching import Arrays
from serving.constants import DEFAULT_SIGNATURE
from serving.errors import ServingError, invalid_argument, not_found
from serving.inference import InferenceEngine
from serving.tensors import NUMPY_DTYPES, to_jsonable

logger = logging.getLogger("serving")

_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
    r"(?P<action>/metadata|:predict)?$"
)


def _to_bytes(value: object) -> object:
    """JSON strings -> UTF-8 bytes and ``{"b64": ...}`` -> bytes, recursively."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise invalid_argument(
                "Objects inside a string tensor must be {'b64': ...}, got keys "
                f"{sorted(value)}."
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (ValueError, TypeError) as error:
            raise invalid_argument(f"Bad base64 string: {error}.") from None
    if isinstance(value, list):
        return [_to_bytes(item) for item in value]
    raise invalid_argument(f"Expected a string, got {type(value).__name__} {value!r}.")


def _to_array(name: str, value: object, info: meta_graph_pb2.TensorInfo) -> np.ndarray:
    """One JSON value as an array of the signature input's dtype."""
    dtype = NUMPY_DTYPES.get(info.dtype)
    if dtype is None:
        raise invalid_argument(f"Input {name!r} has an unsupported dtype.")
    try:
        if info.dtype == types_pb2.DT_STRING:
            array = np.array(_to_bytes(value), dtype=object)
            if any(not isinstance(v, bytes) for v in array.reshape(-1)):
                raise ValueError("ragged nesting")
            return array
        array = np.asarray(value)
        if array.dtype.kind not in "biuf" or (
            array.dtype.kind == "f" and dtype.kind in "iu"
        ):
            raise ValueError(f"{array.dtype.kind!r} values")
        return array.astype(dtype)
    except ValueError as error:
        raise invalid_argument(
            f"Input {name!r} must be a rectangular nested list of "
            f"{types_pb2.DataType.Name(info.dtype)} values ({error})."
        ) from None


def request_arrays(
    body: dict, signature_name: str, signature: meta_graph_pb2.SignatureDef
) -> tuple[Arrays, bool]:
    """Named input arrays of a predict body, and whether it used row format."""
    if ("instances" in body) == ("inputs" in body):
        raise invalid_argument("The body needs exactly one of 'instances' or 'inputs'.")
    names = sorted(signature.inputs)
    row_format = "instances" in body
    if row_format:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise invalid_argument("'instances' must be a non-empty list.")
        if all(isinstance(row, dict) and "b64" not in row for row in instances):
            keys = set(instances[0])
            if any(set(row) != keys for row in instances):
                raise invalid_argument("Every instance must have the same keys.")
            columns = {key: [row[key] for row in instances] for key in keys}
        else:
            columns = {names[0]: instances} if len(names) == 1 else None
    else:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and "b64" not in inputs:
            columns = inputs
        else:
            columns = {names[0]: inputs} if len(names) == 1 else None
    if columns is None:
        raise invalid_argument(
            f"Signature {signature_name!r} takes named inputs {names}; send objects."
        )
    unknown = set(columns) - set(names)
    if unknown:
        raise invalid_argument(
            f"Signature {signature_name!r} takes inputs {names}; got unknown "
            f"{sorted(unknown)}."
        )
    arrays = {
        key: _to_array(key, value, signature.inputs[key])
        for key, value in columns.items()
    }
    return arrays, row_format


def response_body(outputs: Arrays, row_format: bool) -> dict:
    """TF Serving's ``{"predictions": ...}`` or ``{"outputs": ...}`` body."""
    values = {name: to_jsonable(array) for name, array in outputs.items()}
    if not row_format:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    rows = len(next(iter(outputs.values())))
    return {
        "predictions": [
            {name: value[row] for name, value in values.items()} for row in range(rows)
        ]
    }


def _status_body(states: dict[int, str]) -> dict:
    return {
        "model_version_status": [
            {
                "version": str(version),
                "state": state,
                "status": {"error_code": "OK", "error_message": ""},
            }
            for version, state in sorted(states.items())
        ]
    }


def _metadata_body(engine: InferenceEngine, name: str, version: int | None) -> dict:
    served, signatures = engine.metadata(name, version)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature in signatures.items():
        signature_map.signature_def[key].CopyFrom(signature)
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(served)},
        "metadata": {
            "signature_def": json_format.MessageToDict(
                signature_map, preserving_proto_field_name=True
            )
        },
    }


def make_handler(
    engine: InferenceEngine, max_body_bytes: int
) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``engine``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "kerasbert-serving"

        def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
            logger.debug("REST %s", format % args)

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            try:
                self._send(200, self._answer(method))
            except ServingError as error:
                self._send(error.http_status, {"error": error.message})
            except tf.errors.OpError as error:
                logger.exception("Model error on %s", self.path)
                self._send(500, {"error": error.message})
            except Exception as error:  # report, keep serving
                logger.exception("Unexpected error on %s", self.path)
                self._send(500, {"error": f"{type(error).__name__}: {error}"})

        def _answer(self, method: str) -> dict:
            match = _ROUTE.match(self.path.split("?", 1)[0])
            if match is None:
                raise not_found(f"Malformed request: {method} {self.path}")
            name, action = match["name"], match["action"]
            version = int(match["version"]) if match["version"] else None
            if method == "GET" and action is None:
                return _status_body(engine.states(name, version))
            if method == "GET" and action == "/metadata":
                return _metadata_body(engine, name, version)
            if method == "POST" and action == ":predict":
                return self._predict(name, version)
            raise not_found(f"Malformed request: {method} {self.path}")

        def _predict(self, name: str, version: int | None) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_body_bytes:
                self.close_connection = True
                raise ServingError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"Request body of {length} bytes exceeds the limit of "
                    f"{max_body_bytes}.",
                )
            try:
                body = json.loads(self.rfile.read(length))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise invalid_argument(f"Body is not valid JSON: {error}.") from None
            if not isinstance(body, dict):
                raise invalid_argument("The body must be a JSON object.")
            signature_name = body.get("signature_name") or DEFAULT_SIGNATURE
            _, signatures = engine.metadata(name, version)
            if signature_name not in signatures:
                raise invalid_argument(
                    f"Serving signature name: {signature_name!r} not found in "
                    f"signature def; available: {sorted(signatures)}."
                )
            arrays, row_format = request_arrays(
                body, signature_name, signatures[signature_name]
            )
            _, outputs = engine.predict(name, version, signature_name, arrays)
            return response_body(outputs, row_format)

        def do_GET(self):  # noqa: N802 (stdlib naming)
            self._route("GET")

        def do_POST(self):  # noqa: N802 (stdlib naming)
            self._route("POST")

    return Handler


class RestServer:
    """The REST API on a background thread (``port=0`` picks a free port)."""

    def __init__(
        self, engine: InferenceEngine, host: str, port: int, max_body_bytes: int
    ):
        self._server = ThreadingHTTPServer(
            (host, port), make_handler(engine, max_body_bytes)
        )
        self._server.daemon_threads = False  # server_close() waits for requests
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rest-api", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops accepting, then waits for requests in flight to finish."""
        self._server.shutdown()
        self._server.server_close()
