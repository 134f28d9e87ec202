"""``kerasbert serve``: a local server speaking TF Serving's gRPC and REST APIs.

Also runnable without the CLI as ``python -m kerasbert.commands.serve ...``.
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
        help="serve an exported model over TF Serving's gRPC and REST APIs",
        description=(
            "Serves the highest version under --model-base-path (BASE/NAME, as "
            "written by `kerasbert export`) with TF Serving's PredictionService "
            "and ModelService over gRPC and its /v1/models REST API. New version "
            "directories are picked up without dropping requests. SIGTERM or "
            "SIGINT stop it gracefully (requests in flight finish)."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The serve options (shared by the subcommand and ``python -m``)."""
    parser.add_argument(
        "--model-base-path",
        type=Path,
        required=True,
        help="BASE/NAME; the model name is the directory name",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default loopback only)"
    )
    parser.add_argument("--port", type=int, default=8500, help="gRPC port")
    parser.add_argument(
        "--rest-api-port",
        type=int,
        default=8501,
        help="REST port; 0 disables REST (as in TF Serving)",
    )
    parser.add_argument(
        "--enable-batching",
        action="store_true",
        help="batch concurrent requests into one model call",
    )
    parser.add_argument(
        "--max-batch-size", type=int, default=32, help="rows per batched model call"
    )
    parser.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=2.0,
        help="how long a request waits for others to batch with",
    )
    parser.add_argument(
        "--num-batch-threads",
        type=int,
        default=2,
        help="threads forming and running batches",
    )
    parser.add_argument(
        "--max-request-batch",
        type=int,
        default=64,
        help="most rows one request may carry",
    )
    parser.add_argument(
        "--max-text-bytes",
        type=int,
        default=16384,
        help="longest text input in UTF-8 bytes",
    )
    parser.add_argument(
        "--long-text",
        choices=("truncate", "reject"),
        default="truncate",
        help="what to do with text over --max-text-bytes",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=1.0,
        help="version polling interval; 0 disables hot reload",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=16 * 2**20,
        help="largest gRPC message / REST body",
    )
    parser.add_argument(
        "--workers", type=int, default=16, help="request-handling threads"
    )
    parser.add_argument("--ssl-cert", type=Path, help="PEM certificate (TLS)")
    parser.add_argument("--ssl-key", type=Path, help="PEM private key (TLS)")
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=10.0,
        help="how long shutdown waits for requests in flight",
    )


def run(args: argparse.Namespace) -> int:
    if (args.ssl_cert is None) != (args.ssl_key is None):
        raise SystemExit("--ssl-cert and --ssl-key go together.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from serving.inference import Limits
    from serving.model_store import BatchingConfig
    from serving.server import ModelServer, ServerConfig

    config = ServerConfig(
        model_path=args.model_base_path,
        host=args.host,
        grpc_port=args.port,
        rest_port=args.rest_api_port or None,
        limits=Limits(args.max_request_batch, args.max_text_bytes, args.long_text),
        batching=BatchingConfig(
            args.max_batch_size, args.batch_timeout_ms / 1000, args.num_batch_threads
        )
        if args.enable_batching
        else None,
        poll_seconds=args.poll_seconds,
        max_message_bytes=args.max_message_bytes,
        workers=args.workers,
        tls_cert=args.ssl_cert,
        tls_key=args.ssl_key,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = ModelServer(config)
    server.start()
    print(
        f"Serving {server.store.name!r} on {args.host}: gRPC port {server.grpc_port}"
        + (f", REST port {server.rest_port}" if config.rest_port else ""),
        flush=True,
    )
    stop.wait()
    print("Shutting down: finishing requests in flight ...", flush=True)
    server.stop(args.grace_seconds)
    return 0


if __name__ == "__main__":
    main_parser = argparse.ArgumentParser(
        prog="python -m kerasbert.commands.serve",
        description="Serve an exported model over TF Serving's gRPC and REST APIs.",
    )
    add_arguments(main_parser)
    raise SystemExit(run(main_parser.parse_args()))
