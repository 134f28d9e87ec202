"""A local model server speaking TF Serving's gRPC and REST APIs.

It exists so the exported artifacts can be served and tested where the
``tensorflow_model_server`` binary is not available. It loads the same
SavedModel directories TF Serving loads, with the same version policy
(highest version wins, hot-swapped when a new one appears).
"""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from serving.grpc_service import add_services
from serving.inference import InferenceEngine, Limits
from serving.model_store import BatchingConfig, ModelStore
from serving.rest import RestServer

logger = logging.getLogger("serving")


@dataclass
class ServerConfig:
    """Everything ``ModelServer`` needs.

    Attributes:
        model_path: ``BASE/NAME`` holding integer version directories.
        host: interface to bind (loopback by default: nothing is exposed).
        grpc_port: gRPC port; 0 picks a free one.
        rest_port: REST port; 0 picks a free one, None disables REST.
        limits: per-request limits.
        batching: dynamic batching settings, or None.
        poll_seconds: version polling interval (0 disables hot reload).
        max_message_bytes: largest gRPC message / REST body accepted.
        workers: request-handling threads.
        tls_cert, tls_key: PEM files; both set -> gRPC over TLS.
    """

    model_path: Path
    host: str = "127.0.0.1"
    grpc_port: int = 8500
    rest_port: int | None = 8501
    limits: Limits = field(default_factory=Limits)
    batching: BatchingConfig | None = None
    poll_seconds: float = 1.0
    max_message_bytes: int = 16 * 2**20
    workers: int = 16
    tls_cert: Path | None = None
    tls_key: Path | None = None


def _add_health_service(server: grpc.Server) -> bool:
    """Registers grpc.health.v1 when ``grpcio-health-checking`` is installed."""
    try:
        from grpc_health.v1 import health, health_pb2_grpc
    except ImportError:
        return False
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    return True


class ModelServer:
    """gRPC (+ optional REST) server over one ``ModelStore``.

    ``start()`` loads the model and binds the ports (``grpc_port`` and
    ``rest_port`` then hold the real ports); ``stop(grace_s)`` stops
    accepting, lets requests in flight finish and drains the batchers.
    """

    def __init__(self, config: ServerConfig):
        self.config = config
        self.store = ModelStore(config.model_path, config.poll_seconds, config.batching)
        self.engine = InferenceEngine(self.store, config.limits)
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
        ]
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(config.workers, thread_name_prefix="grpc"),
            options=options,
        )
        add_services(self._grpc, self.engine)
        self.health_service = _add_health_service(self._grpc)
        self._rest: RestServer | None = None
        self.grpc_port = config.grpc_port
        self.rest_port = config.rest_port

    def start(self) -> None:
        self.store.start()
        address = f"{self.config.host}:{self.config.grpc_port}"
        if self.config.tls_cert and self.config.tls_key:
            credentials = grpc.ssl_server_credentials(
                [(self.config.tls_key.read_bytes(), self.config.tls_cert.read_bytes())]
            )
            self.grpc_port = self._grpc.add_secure_port(address, credentials)
        else:
            self.grpc_port = self._grpc.add_insecure_port(address)
        self._grpc.start()
        if self.config.rest_port is not None:
            self._rest = RestServer(
                self.engine,
                self.config.host,
                self.config.rest_port,
                self.config.max_message_bytes,
            )
            self.rest_port = self._rest.port
            self._rest.start()
        logger.info(
            "Serving %s on %s: gRPC %d, REST %s",
            self.store.name,
            self.config.host,
            self.grpc_port,
            self.rest_port if self._rest else "off",
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """Graceful shutdown: refuse new requests, finish the running ones."""
        drained = self._grpc.stop(grace_s)
        if self._rest is not None:
            self._rest.stop()
        drained.wait()
        self.store.stop()
        logger.info("Stopped serving %s", self.store.name)

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
