"""``kerasbert predict``: query a TF Serving (or ``kerasbert serve``) server."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="send texts to a model server over gRPC and print the outputs",
        description=(
            "Sends texts to a served model's text signature over TF Serving's "
            "gRPC Predict API and prints the outputs as JSON. Retries while the "
            "server is UNAVAILABLE (bounded, with backoff)."
        ),
    )
    parser.add_argument("texts", nargs="+", help="texts; '-' reads lines from stdin")
    parser.add_argument("--server", default="127.0.0.1:8500", help="HOST:PORT")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument(
        "--text-pair",
        nargs="+",
        help="second segments, one per text (uses 'text_pair')",
    )
    parser.add_argument("--signature", help="default serving_default / text_pair")
    parser.add_argument("--version", type=int, help="a specific model version")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per attempt"
    )
    parser.add_argument("--retries", type=int, default=3, help="retries on UNAVAILABLE")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--ca-cert", help="PEM of the CA for --tls")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import grpc

    from serving.client import PredictionClient
    from serving.tensors import to_jsonable

    texts = (
        [line.rstrip("\n") for line in sys.stdin if line.strip()]
        if args.texts == ["-"]
        else args.texts
    )
    inputs = {"text": texts}
    if args.text_pair:
        if len(args.text_pair) != len(texts):
            raise SystemExit(
                f"{len(texts)} texts but {len(args.text_pair)} --text-pair values."
            )
        inputs["text_pair"] = args.text_pair
    signature = args.signature or ("text_pair" if args.text_pair else "serving_default")
    with PredictionClient(
        args.server,
        args.model,
        timeout_s=args.timeout,
        max_retries=args.retries,
        tls=args.tls,
        root_certificates=args.ca_cert,
    ) as client:
        try:
            outputs = client.predict(inputs, signature, args.version)
        except grpc.RpcError as error:
            print(f"{error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    print(json.dumps({name: to_jsonable(value) for name, value in outputs.items()}))
    return 0
