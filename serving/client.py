"""A gRPC client for TF Serving (or ``serving.server``), with retries and TLS.

    with PredictionClient("127.0.0.1:8500", "sentence_encoder") as client:
        client.wait_until_available()
        outputs = client.predict({"text": ["a sentence", "another one"]})
        outputs["embedding"]            # float32 [2, hidden]

Calls time out after ``timeout_s``; UNAVAILABLE (server starting, restarting
or briefly unreachable) is retried ``max_retries`` times with exponential
backoff. Every other error is raised at once as ``grpc.RpcError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import grpc
import numpy as np
from google.protobuf import wrappers_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.constants import DEFAULT_SIGNATURE
from serving.tensors import text_example, to_ndarrays, to_tensor_proto

Response = TypeVar("Response")


class PredictionClient:
    """Talks to one model on one server.

    Args:
        target: ``HOST:PORT`` of the gRPC endpoint.
        model_name: the served model's name.
        timeout_s: deadline of each attempt.
        max_retries: extra attempts after an UNAVAILABLE answer.
        backoff_s: first retry delay; doubles per retry, capped at 2 s.
        tls: connect with TLS (server certificate checked against
            ``root_certificates``, or the system roots when None).
        root_certificates: PEM file of the CA that signed the server's cert.
        max_message_bytes: largest response accepted.
    """

    def __init__(
        self,
        target: str,
        model_name: str,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_s: float = 0.1,
        tls: bool = False,
        root_certificates: str | Path | None = None,
        max_message_bytes: int = 64 * 2**20,
    ):
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}.")
        self.target = target
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        options = [("grpc.max_receive_message_length", max_message_bytes)]
        if tls:
            roots = Path(root_certificates).read_bytes() if root_certificates else None
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.secure_channel(target, credentials, options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(
            self._channel
        )
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _spec(self, signature_name: str = "", version: int | None = None):
        spec = model_pb2.ModelSpec(name=self.model_name, signature_name=signature_name)
        if version is not None:
            spec.version.CopyFrom(wrappers_pb2.Int64Value(value=version))
        return spec

    def _call(self, method: Callable[..., Response], request) -> Response:
        """One RPC with the deadline, retrying UNAVAILABLE with backoff."""
        attempt = 0
        while True:
            try:
                return method(request, timeout=self.timeout_s)
            except grpc.RpcError as error:
                unavailable = error.code() == grpc.StatusCode.UNAVAILABLE
                if not unavailable or attempt >= self.max_retries:
                    raise
            time.sleep(min(2.0, self.backoff_s * 2**attempt))
            attempt += 1

    def predict(
        self,
        inputs: Mapping[str, object],
        signature_name: str = DEFAULT_SIGNATURE,
        version: int | None = None,
        output_filter: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """Runs a signature; returns its outputs as numpy arrays.

        Args:
            inputs: name -> array-like; lists of ``str`` become string
                tensors, and integer token arrays must be ``np.int32``.
            signature_name: e.g. ``serving_default``, ``text_pair``, ``tensors``.
            version: a specific version (NOT_FOUND unless it is served).
            output_filter: only these outputs (default all).
        """
        request = predict_pb2.PredictRequest(
            model_spec=self._spec(signature_name, version),
            output_filter=list(output_filter),
        )
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(to_tensor_proto(value))
        response = self._call(self._predictions.Predict, request)
        return to_ndarrays(response.outputs)

    def classify(
        self, texts: Sequence[str], signature_name: str = "classify"
    ) -> list[list[tuple[str, float]]]:
        """Classify API: ``[(label, probability), ...]`` per text."""
        examples = [text_example(text) for text in texts]
        request = classification_pb2.ClassificationRequest(
            model_spec=self._spec(signature_name),
            input=input_pb2.Input(
                example_list=input_pb2.ExampleList(examples=examples)
            ),
        )
        response = self._call(self._predictions.Classify, request)
        return [
            [(item.label, item.score) for item in row.classes]
            for row in response.result.classifications
        ]

    def signatures(
        self, version: int | None = None
    ) -> dict[str, meta_graph_pb2.SignatureDef]:
        """The served SignatureDefs (GetModelMetadata)."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=self._spec(version=version), metadata_field=["signature_def"]
        )
        response = self._call(self._predictions.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return dict(signature_map.signature_def)

    def status(self) -> dict[int, str]:
        """Version -> state name (``AVAILABLE``, ``LOADING``, ...)."""
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=self._spec())
        response = self._call(self._models.GetModelStatus, request)
        states = get_model_status_pb2.ModelVersionStatus.State
        return {
            status.version: states.Name(status.state)
            for status in response.model_version_status
        }

    def wait_until_available(self, timeout_s: float = 30.0) -> int:
        """Polls GetModelStatus until a version is AVAILABLE; returns it.

        Raises:
            TimeoutError: nothing became available in time.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                available = [v for v, s in self.status().items() if s == "AVAILABLE"]
                if available:
                    return max(available)
            except grpc.RpcError as error:
                if error.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.NOT_FOUND,
                ):
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.model_name!r} at {self.target} not available after "
                    f"{timeout_s} s."
                )
            time.sleep(0.1)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> PredictionClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
