"""A local model server that behaves like ``tensorflow_model_server``.

It serves the models of a ``--model_config_file`` (or one ``--model_name`` /
``--model_base_path``) the way TF Serving does: versions loaded by
TensorFlow's C++ ``LoadSavedModel`` and run by SignatureDef tensor names
(``serving.saved_model_session``), TF Serving's version policies, labels
and states (``serving.model_manager``), warmup replay, batching with its
``batching_parameters`` (``serving.servable``), its gRPC services
(``serving.grpc_service``), REST API (``serving.rest``) and Prometheus
metrics (``serving.metrics``). So a model that TF Serving cannot run fails
here too, and a test against this server says something about TF Serving.
"""

from __future__ import annotations

import logging
import ssl
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from serving.config_files import (
    BatchingParameters,
    ModelConfig,
    MonitoringConfig,
    VersionPolicy,
)
from serving.grpc_service import add_services
from serving.inference import InferenceEngine, Limits
from serving.metrics import Metrics
from serving.model_manager import ModelManager
from serving.rest import RestServer

logger = logging.getLogger("serving")


@dataclass
class ServerConfig:
    """Everything ``ModelServer`` needs (TF Serving's flags, as values).

    Attributes:
        models: the served models (``--model_config_file`` or one model).
        host: interface to bind (loopback by default: nothing is exposed).
        grpc_port: ``--port``; 0 picks a free one.
        rest_port: ``--rest_api_port``; 0 picks a free one, None disables REST.
        limits: per-request limits.
        batching: ``--enable_batching`` with these parameters, or None.
        poll_seconds: ``--file_system_poll_wait_seconds`` (0: look once).
        enable_warmup: ``--enable_model_warmup``.
        monitoring: ``--monitoring_config_file``'s settings, or None.
        max_message_bytes: largest gRPC message / REST body accepted.
        grpc_workers: ``--grpc_max_threads``.
        rest_timeout_s: ``--rest_api_timeout_in_ms`` / 1000: how long a REST
            client may take to send its request.
        rest_max_connections: open REST connections at most.
        tls_cert, tls_key: PEM files; both set -> gRPC and REST over TLS.
    """

    models: list[ModelConfig]
    host: str = "127.0.0.1"
    grpc_port: int = 8500
    rest_port: int | None = 8501
    limits: Limits = field(default_factory=Limits)
    batching: BatchingParameters | None = None
    poll_seconds: float = 1.0
    enable_warmup: bool = True
    monitoring: MonitoringConfig | None = None
    max_message_bytes: int = 16 * 2**20
    grpc_workers: int = 16
    rest_timeout_s: float = 30.0
    rest_max_connections: int = 64
    tls_cert: Path | None = None
    tls_key: Path | None = None


def single_model(base_path: str | Path, name: str | None = None) -> list[ModelConfig]:
    """``--model_name`` / ``--model_base_path``: one model, latest version."""
    base_path = Path(base_path)
    return [
        ModelConfig(
            name=name or base_path.name,
            base_path=base_path.resolve(),
            version_policy=VersionPolicy("latest", num_versions=1),
            version_labels={},
        )
    ]


def _add_health_service(server: grpc.Server) -> bool:
    """Registers grpc.health.v1 when ``grpcio-health-checking`` is installed."""
    try:
        from grpc_health.v1 import health, health_pb2_grpc
    except ImportError:
        return False
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    return True


class ModelServer:
    """gRPC (+ optional REST) server over a ``ModelManager``.

    ``start()`` loads the models (warmup included) and binds the ports
    (``grpc_port`` and ``rest_port`` then hold the real ports);
    ``stop(grace_s)`` stops accepting, lets requests in flight finish within
    the grace period, drains the batchers and unloads the models.
    """

    def __init__(self, config: ServerConfig):
        self.config = config
        monitoring = config.monitoring
        self.metrics = (
            Metrics() if monitoring and monitoring.prometheus_enabled else None
        )
        self.manager = ModelManager(config.models, config.poll_seconds, config.batching)
        self.engine = InferenceEngine(self.manager, config.limits, self.metrics)
        if config.enable_warmup:
            self.manager.warm_up = self.engine.warm_up
        if self.metrics is not None:
            self.manager.on_load = self.metrics.count_load
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
        ]
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(config.grpc_workers, thread_name_prefix="grpc"),
            options=options,
        )
        add_services(self._grpc, self.engine)
        self.health_service = _add_health_service(self._grpc)
        self._rest: RestServer | None = None
        self.grpc_port = config.grpc_port
        self.rest_port = config.rest_port

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not (self.config.tls_cert and self.config.tls_key):
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    def start(self) -> None:
        config = self.config
        self.manager.start()
        address = f"{config.host}:{config.grpc_port}"
        if config.tls_cert and config.tls_key:
            credentials = grpc.ssl_server_credentials(
                [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())]
            )
            self.grpc_port = self._grpc.add_secure_port(address, credentials)
        else:
            self.grpc_port = self._grpc.add_insecure_port(address)
        self._grpc.start()
        if config.rest_port is not None:
            monitoring = config.monitoring
            self._rest = RestServer(
                self.engine,
                config.host,
                config.rest_port,
                max_body_bytes=config.max_message_bytes,
                metrics=self.metrics,
                metrics_path=monitoring.prometheus_path if self.metrics else None,
                read_timeout_s=config.rest_timeout_s,
                max_connections=config.rest_max_connections,
                ssl_context=self._ssl_context(),
            )
            self.rest_port = self._rest.port
            self._rest.start()
        logger.info(
            "Serving %s on %s: gRPC %d, REST %s",
            ", ".join(self.manager.model_names),
            config.host,
            self.grpc_port,
            self.rest_port if self._rest else "off",
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """Graceful shutdown within ``grace_s``: refuse new, finish running."""
        drained = self._grpc.stop(grace_s)
        if self._rest is not None:
            self._rest.stop(grace_s)
        drained.wait()
        self.manager.stop()
        logger.info("Stopped serving %s", ", ".join(self.manager.model_names))

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
