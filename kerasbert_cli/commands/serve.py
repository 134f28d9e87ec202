"""``kerasbert serve``: a local ``tensorflow_model_server``, same flags and files.

Also runnable without the CLI as ``python -m kerasbert_cli.commands.serve ...``.
The flags are TF Serving's (``--port``, ``--rest_api_port``,
``--model_name``, ``--model_base_path``, ``--model_config_file``,
``--enable_batching``, ``--batching_parameters_file``,
``--monitoring_config_file``, ``--file_system_poll_wait_seconds``, ...), so a
command line written for TF Serving runs here unchanged; each is also
accepted with dashes (``--rest-api-port``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve exported models like tensorflow_model_server (gRPC + REST)",
        description=(
            "Serves SavedModel versions the way tensorflow_model_server does: "
            "loaded by TensorFlow's C++ SavedModel loader, TF Serving's version "
            "policies, warmup, batching, gRPC and REST APIs, Prometheus metrics. "
            "Give --model_base_path (one model) or --model_config_file (several). "
            "SIGTERM or SIGINT stop it within --grace_seconds; requests in "
            "flight finish."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """A TF Serving flag, accepted as ``--a_b`` and ``--a-b``."""
    spellings = [f"--{name}"]
    if "_" in name:
        spellings.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*spellings, dest=name, **kwargs)


def _boolean(value: str) -> bool:
    """TF Serving's boolean flags: true/false (also 1/0)."""
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """TF Serving's flags (and a few of this server's own)."""
    _flag(parser, "port", type=int, default=8500, help="gRPC port (default 8500)")
    _flag(
        parser,
        "rest_api_port",
        type=int,
        default=0,
        help="REST port; 0 (the default, as in TF Serving) disables REST",
    )
    _flag(parser, "model_name", default="default", help="name of the one model")
    _flag(parser, "model_base_path", type=Path, help="the one model's base path")
    _flag(
        parser,
        "model_config_file",
        type=Path,
        help="ModelServerConfig text proto (model_config_list): several models, "
        "version policies, version labels",
    )
    _flag(
        parser,
        "enable_batching",
        type=_boolean,
        nargs="?",
        const=True,
        default=False,
        help="batch concurrent requests into one session run",
    )
    _flag(
        parser,
        "batching_parameters_file",
        type=Path,
        help="BatchingParameters text proto (default: TF Serving's defaults)",
    )
    _flag(
        parser,
        "monitoring_config_file",
        type=Path,
        help="MonitoringConfig text proto: Prometheus metrics on the REST port",
    )
    _flag(
        parser,
        "file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        help="seconds between looks for new versions; 0 looks once",
    )
    _flag(
        parser,
        "enable_model_warmup",
        type=_boolean,
        nargs="?",
        const=True,
        default=True,
        help="replay assets.extra/tf_serving_warmup_requests before serving",
    )
    _flag(
        parser,
        "rest_api_timeout_in_ms",
        type=int,
        default=30000,
        help="how long a REST client may take to send its request",
    )
    _flag(parser, "grpc_max_threads", type=int, default=16, help="gRPC threads")
    _flag(
        parser,
        "rest_api_num_threads",
        type=int,
        default=64,
        help="open REST connections at most",
    )
    _flag(
        parser,
        "host",
        default="127.0.0.1",
        help="interface to bind (default loopback; TF Serving binds all)",
    )
    _flag(parser, "max_request_batch", type=int, default=1024, help="rows per request")
    _flag(
        parser,
        "max_tensor_elements",
        type=int,
        default=2**22,
        help="elements per request tensor",
    )
    _flag(
        parser,
        "max_message_bytes",
        type=int,
        default=16 * 2**20,
        help="largest gRPC message / REST body",
    )
    _flag(parser, "ssl_cert", type=Path, help="PEM certificate: gRPC and REST over TLS")
    _flag(parser, "ssl_key", type=Path, help="PEM private key for --ssl_cert")
    _flag(
        parser,
        "grace_seconds",
        type=float,
        default=10.0,
        help="how long shutdown waits for requests in flight",
    )


def server_config(args: argparse.Namespace):
    """The ``ServerConfig`` the flags describe (files read and checked)."""
    from serving.config_files import (
        BatchingParameters,
        read_batching_parameters,
        read_model_config_file,
        read_monitoring_config,
    )
    from serving.inference import Limits
    from serving.server import ServerConfig, single_model

    if (args.model_config_file is None) == (args.model_base_path is None):
        raise SystemExit(
            "Give exactly one of --model_base_path (one model) and "
            "--model_config_file (several)."
        )
    if (args.ssl_cert is None) != (args.ssl_key is None):
        raise SystemExit("--ssl_cert and --ssl_key go together.")
    try:
        models = (
            read_model_config_file(args.model_config_file)
            if args.model_config_file
            else single_model(args.model_base_path, args.model_name)
        )
        batching = None
        if args.enable_batching:
            batching = (
                read_batching_parameters(args.batching_parameters_file)
                if args.batching_parameters_file
                else BatchingParameters()
            )
        monitoring = (
            read_monitoring_config(args.monitoring_config_file)
            if args.monitoring_config_file
            else None
        )
    except (OSError, ValueError) as error:
        raise SystemExit(str(error)) from None
    return ServerConfig(
        models=models,
        host=args.host,
        grpc_port=args.port,
        rest_port=args.rest_api_port or None,
        limits=Limits(args.max_request_batch, args.max_tensor_elements),
        batching=batching,
        poll_seconds=args.file_system_poll_wait_seconds,
        enable_warmup=args.enable_model_warmup,
        monitoring=monitoring,
        max_message_bytes=args.max_message_bytes,
        grpc_workers=args.grpc_max_threads,
        rest_timeout_s=args.rest_api_timeout_in_ms / 1000,
        rest_max_connections=args.rest_api_num_threads,
        tls_cert=args.ssl_cert,
        tls_key=args.ssl_key,
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = server_config(args)

    from serving.server import ModelServer

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = ModelServer(config)
    server.start()
    print(
        f"Serving {', '.join(server.manager.model_names)} on {config.host}: "
        f"gRPC port {server.grpc_port}"
        + (f", REST port {server.rest_port}" if config.rest_port else ""),
        flush=True,
    )
    stop.wait()
    print("Shutting down: finishing requests in flight ...", flush=True)
    server.stop(args.grace_seconds)
    return 0


if __name__ == "__main__":
    main_parser = argparse.ArgumentParser(
        prog="python -m kerasbert_cli.commands.serve",
        description="A local tensorflow_model_server: same flags, files and APIs.",
    )
    add_arguments(main_parser)
    raise SystemExit(run(main_parser.parse_args()))
