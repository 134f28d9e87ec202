"""TF Serving's REST API (``/v1/models/...``) over an ``InferenceEngine``.

Requests and answers are those of ``tensorflow_model_server
--rest_api_port`` (http_rest_api_handler.cc, http_rest_api_util.cc,
util/json_tensor.cc, http_server.cc):

* ``GET  /v1/models/NAME[/versions/V | /labels/L]``           model status
* ``GET  /v1/models/NAME[/versions/V | /labels/L]/metadata``  signature defs
* ``POST /v1/models/NAME[/versions/V | /labels/L]:predict``   ``instances``
  (row format, answered ``{"predictions": ...}``) or ``inputs`` (columnar,
  answered ``{"outputs": ...}``); strings are JSON strings or
  ``{"b64": "..."}``;
* ``POST ...:classify`` / ``...:regress``: ``examples`` (and ``context``) as
  ``tf.Example``s, answered ``{"results": ...}``;
* ``<metrics_path>``: the Prometheus page, when metrics are on.

Errors are ``{"error": "..."}`` with TF Serving's HTTP status for the gRPC
code; a path outside ``/v1/`` is 404, a malformed ``/v1/`` request 400.

This module ties the API together: it owns the routes (``parse_route``),
the dispatch of a route to the engine (``RestApi``), the HTTP status of
each gRPC code (``HTTP_STATUS``) and ``RestServer``. The work is done in
modules with one job each, imported one way (none imports this one):

* ``serving.rest_json``: parsing request bodies, with the JSON nesting
  capped before parsing;
* ``serving.rest_inputs`` / ``serving.rest_examples``: JSON -> predict
  input tensors / serialized ``tf.Example``s, with tensor sizes checked
  before arrays are built;
* ``serving.rest_outputs``: outputs -> TF Serving's JSON answer text;
* ``serving.http_server`` (with ``serving.http_connections``): the
  HTTP/1.1 transport, which knows nothing of TF Serving. For a server
  exposed to clients, a body is refused from its Content-Length before it
  is read, each request must arrive within a read timeout, open
  connections are capped, and ``stop`` drops idle and half-sent
  connections at once while requests in flight finish.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import unquote

import grpc
import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2

from serving.config_files import PROMETHEUS_PATH
from serving.errors import ServingError, invalid_argument
from serving.grpc_service import response_spec, status_response
from serving.http_server import HttpServer, Reply, error_reply
from serving.inference import InferenceEngine, RequestSpec
from serving.rest_examples import examples_tensor
from serving.rest_inputs import predict_inputs
from serving.rest_json import INT64_MAX, parse_json_body, signature_name
from serving.rest_outputs import classify_json, predict_json, proto_json, regress_json

logger = logging.getLogger("serving")

ENTRYPOINT = "REST"
PROMETHEUS_TYPE = "text/plain; version=0.0.4"

# http_server.cc ToHTTPStatusCode: the HTTP status of each gRPC code.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

# The API label of each route in the request metrics (TF Serving's names).
_METRIC_API = {
    "predict": "Predict",
    "classify": "Classify",
    "regress": "Regress",
    "metadata": "GetModelMetadata",
    "status": "GetModelStatus",
}


class MetricsPage(Protocol):
    """What the metrics path serves (``serving.metrics.Metrics``)."""

    def render(self) -> str: ...


# --------------------------------------------------------------------------
# Routes (http_rest_api_util.cc)
# --------------------------------------------------------------------------

_API_PATH = re.compile(r"/v1/.*", re.IGNORECASE)
_VERSION_OR_LABEL = r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
_PREDICTION_PATH = re.compile(
    r"/v1/models/(?P<name>[^/:]+)" + _VERSION_OR_LABEL + r":(?P<api>[a-z]+)",
    re.IGNORECASE,
)
_MODEL_PATH = re.compile(
    r"/v1/models(?:/(?P<name>[^/:]+))?"
    + _VERSION_OR_LABEL
    + r"(?:/(?P<resource>metadata))?",
    re.IGNORECASE,
)
_PREDICTION_APIS = ("classify", "regress", "predict")


@dataclass(frozen=True)
class Route:
    """One API call: ``status``, ``metadata``, ``predict``, ``classify`` or
    ``regress``, on the model version the path names."""

    api: str
    spec: RequestSpec


def _path_version(text: str) -> int:
    """A path's version number; like TF Serving's int64 parse, refuses
    numbers past int64 (and, unlike ``int()``, thousands of digits)."""
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(INT64_MAX)) or int(digits) > INT64_MAX:
        raise invalid_argument(f"Failed to convert version: {text} to numeric.")
    return int(digits)


def parse_route(method: str, path: str) -> Route:
    """The API call of a ``/v1/`` request path, as TF Serving parses it.

    Matching is case-insensitive, but only the lower-case API names and
    ``metadata`` select them (``/METADATA`` is a status request); names and
    labels are percent-decoded.

    Raises:
        ServingError(INVALID_ARGUMENT): a malformed request, a version past
            int64, or a status request without a model name.
    """
    pattern = {"POST": _PREDICTION_PATH, "GET": _MODEL_PATH}.get(method)
    match = pattern.fullmatch(path) if pattern else None
    if match is None or (method == "POST" and match["api"] not in _PREDICTION_APIS):
        raise invalid_argument(f"Malformed request: {method} {path}")
    spec = RequestSpec(
        name=unquote(match["name"] or ""),
        version=_path_version(match["version"]) if match["version"] else None,
        label=unquote(match["label"]) if match["label"] else None,
    )
    if method == "POST":
        return Route(match["api"], spec)
    if not spec.name:
        raise invalid_argument("Missing model name in request.")
    return Route("metadata" if match["resource"] == "metadata" else "status", spec)


# --------------------------------------------------------------------------
# The API, independent of HTTP
# --------------------------------------------------------------------------


class RestApi:
    """Answers REST requests (method, path, body) with an engine.

    Args:
        engine: runs the requests.
        metrics: served as Prometheus text at ``metrics_path``, or None.
        metrics_path: TF Serving's default when None.
    """

    def __init__(
        self,
        engine: InferenceEngine,
        metrics: MetricsPage | None = None,
        metrics_path: str | None = None,
    ):
        self.engine = engine
        self.metrics = metrics
        self.metrics_path = metrics_path or PROMETHEUS_PATH

    def answer(self, method: str, path: str, body: bytes) -> Reply:
        """The reply to one request; any failure becomes an error reply."""
        path = path.split("?", 1)[0]
        if self.metrics is not None and path == self.metrics_path:
            return Reply(200, self.metrics.render().encode("utf-8"), PROMETHEUS_TYPE)
        if not _API_PATH.fullmatch(path):
            return error_reply(404, f"Malformed request: {method} {path}")
        try:
            route = parse_route(method, path)
            with self.engine.observe(
                _METRIC_API[route.api], ENTRYPOINT, route.spec.name
            ):
                return Reply(200, self._call(route, body).encode("utf-8"))
        except ServingError as error:
            return error_reply(HTTP_STATUS.get(error.code, 500), error.message)
        except Exception as error:  # a server bug: report it, keep serving
            logger.exception("REST %s %s failed", method, path)
            return error_reply(500, f"{type(error).__name__}: {error}")

    def _call(self, route: Route, body: bytes) -> str:
        handlers = {
            "status": self._status,
            "metadata": self._metadata,
            "predict": self._predict,
            "classify": self._classify,
            "regress": self._regress,
        }
        return handlers[route.api](route.spec, body)

    def _status(self, spec: RequestSpec, body: bytes) -> str:
        return proto_json(status_response(self.engine, spec))

    def _metadata(self, spec: RequestSpec, body: bytes) -> str:
        """``{"model_spec", "metadata": {"signature_def": SignatureDefMap}}``."""
        version, signature_map = self.engine.metadata(spec)
        return (
            '{"model_spec": '
            + proto_json(response_spec(spec.name, version))
            + ', "metadata": {"signature_def": '
            + proto_json(signature_map)
            + "}}"
        )

    def _signature(self, spec: RequestSpec) -> meta_graph_pb2.SignatureDef:
        """The signature a predict request names (its input dtypes drive the
        JSON conversion), looked up as TF Serving's GetInfoMap does."""
        with self.engine.manager.servable(spec.name, spec.version, spec.label) as s:
            signature = s.signature_defs.get(spec.signature)
        if signature is None:
            raise invalid_argument(
                f'Serving signature name: "{spec.signature}" not found in signature def'
            )
        if not signature.inputs:
            raise invalid_argument(
                "Failed to get input map for signature: "
                f"{spec.signature_name or 'DEFAULT'}"
            )
        return signature

    def _predict(self, spec: RequestSpec, body: bytes) -> str:
        document = parse_json_body(body)
        spec = replace(spec, signature_name=signature_name(document))
        signature = self._signature(spec)
        limit = self.engine.limits.max_tensor_elements
        inputs, row_format = predict_inputs(document, signature, limit)
        _, outputs = self.engine.predict(spec, inputs)
        return predict_json(outputs, row_format)

    def _examples(
        self, spec: RequestSpec, body: bytes, api: str
    ) -> tuple[RequestSpec, np.ndarray]:
        """(Spec with the body's signature, serialized examples)."""
        document = parse_json_body(body)
        spec = replace(spec, signature_name=signature_name(document))
        limit = self.engine.limits.max_batch_size
        return spec, examples_tensor(document, api, limit)

    def _classify(self, spec: RequestSpec, body: bytes) -> str:
        _, classes = self.engine.classify(*self._examples(spec, body, "classify"))
        return classify_json(classes)

    def _regress(self, spec: RequestSpec, body: bytes) -> str:
        _, values = self.engine.regress(*self._examples(spec, body, "regress"))
        return regress_json(values)


class RestServer(HttpServer):
    """TF Serving's REST API on background threads.

    Args:
        engine: answers the requests.
        metrics: ``render()`` gives the Prometheus page served at
            ``metrics_path`` (TF Serving's default path if None); None: off.
        host, port, max_body_bytes, read_timeout_s, max_connections,
            ssl_context: the transport's, as ``serving.http_server.HttpServer``
            takes them (body size limit, per-request read timeout,
            connection cap, HTTPS).
    """

    def __init__(
        self,
        engine: InferenceEngine,
        host: str,
        port: int,
        *,
        max_body_bytes: int,
        metrics: MetricsPage | None = None,
        metrics_path: str | None = None,
        read_timeout_s: float = 30.0,
        max_connections: int = 256,
        ssl_context: ssl.SSLContext | None = None,
    ):
        super().__init__(
            RestApi(engine, metrics, metrics_path),
            host,
            port,
            max_body_bytes=max_body_bytes,
            read_timeout_s=read_timeout_s,
            max_connections=max_connections,
            ssl_context=ssl_context,
        )
