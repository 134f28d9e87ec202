"""The ``kerasbert`` command line: one subcommand per module in ``commands``."""

from __future__ import annotations

import argparse
import os
import sys

from kerasbert_cli.commands import (
    convert,
    distill,
    evaluate_sts,
    export,
    finetune,
    mirror,
    predict,
    pretrain,
    quickstart,
    serve,
)

COMMANDS = (
    quickstart,
    pretrain,
    distill,
    mirror,
    finetune,
    evaluate_sts,
    convert,
    export,
    serve,
    predict,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasbert",
        description="BERT-family encoders for TensorFlow/Keras: build, train, serve.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
