"""``kerasbert export``: write a model as a TF Serving version directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serving.config_files import BatchingParameters

TASKS = ("encoder", "sentence_encoder", "classifier", "token_classifier", "qa", "mlm")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model + tokenizer as a SavedModel version for TF Serving",
        description=(
            "Writes OUTPUT/<next version>/ (a SavedModel whose serving_default "
            "signature takes raw text, tokenized in-graph, plus text_pair, "
            "tensors and, for classifiers, classify/regress signatures) and the "
            "TF Serving kit in OUTPUT (models.config, batching_parameters, "
            "monitoring.config, DEPLOY.md with docker commands). The version "
            "appears atomically. Export a saved .keras model, or a preset "
            "architecture with random weights (for trying the serving path). "
            "A .keras TextTaskModel (what kerasbert finetune saves) brings its "
            "tokenizer, labels and sequence length, and is served with "
            "signatures answering in its task's terms (labels, answers, tags)."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--model",
        type=Path,
        help="a saved .keras model, or any checkpoint kerasbert.load reads "
        "(a Hugging Face dir, TF1 or keras-hub checkpoint gives an Encoder)",
    )
    source.add_argument("--preset", help="preset architecture, random weights")
    parser.add_argument(
        "--task",
        choices=TASKS,
        default="sentence_encoder",
        help="head to build on --preset (default sentence_encoder)",
    )
    parser.add_argument(
        "--num-classes", type=int, default=2, help="classes for --task classifier"
    )
    parser.add_argument(
        "--tokenizer",
        type=Path,
        help=(
            "WordPiece vocab.txt or SentencePiece .model matching the model "
            "(required unless --model holds a TextTaskModel)"
        ),
    )
    parser.add_argument(
        "--output", type=Path, required=True, help="model base path BASE/NAME"
    )
    parser.add_argument("--version", type=int, help="default: next free number")
    parser.add_argument(
        "--sequence-length",
        type=int,
        help="tokens per text (default 128; a TextTaskModel's own)",
    )
    parser.add_argument("--top-k", type=int, default=5, help="MLM candidates")
    parser.add_argument(
        "--max-predictions", type=int, default=8, help="MLM masks scored per text"
    )
    parser.add_argument("--labels", help="comma-separated class names (classify)")
    add_batching_flags(parser)
    parser.add_argument("--seed", type=int, default=0, help="for --preset weights")
    parser.set_defaults(func=run)


def add_batching_flags(parser: argparse.ArgumentParser) -> None:
    """The kit's ``batching_parameters`` flags, defaults from ``EXPORT_BATCHING``.

    ``batching_from_flags`` reads them back.
    """
    from serving.config_files import EXPORT_BATCHING

    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=EXPORT_BATCHING.max_batch_size,
        help="for batching_parameters",
    )
    parser.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=EXPORT_BATCHING.batch_timeout_micros / 1000,
        help="for batching_parameters",
    )
    parser.add_argument(
        "--num-batch-threads",
        type=int,
        default=EXPORT_BATCHING.num_batch_threads,
        help="threads forming and running batches",
    )


def batching_from_flags(args: argparse.Namespace) -> BatchingParameters:
    """``EXPORT_BATCHING`` with the values of ``add_batching_flags``' flags."""
    import dataclasses

    from serving.config_files import EXPORT_BATCHING

    return dataclasses.replace(
        EXPORT_BATCHING,
        max_batch_size=args.max_batch_size,
        batch_timeout_micros=round(args.batch_timeout_ms * 1000),
        num_batch_threads=args.num_batch_threads,
    )


def build_preset_model(preset: str, task: str, vocabulary_size: int, num_classes: int):
    """A randomly initialised ``task`` model on encoder ``preset``."""
    from kerasbert import (
        Encoder,
        MaskedLanguageModel,
        SentenceEncoder,
        SequenceClassifier,
        SpanQuestionAnswerer,
        TokenClassifier,
    )

    encoder = Encoder.from_preset(
        preset,
        vocabulary_size=vocabulary_size,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
    )
    builders = {
        "encoder": lambda: encoder,
        "sentence_encoder": lambda: SentenceEncoder(encoder),
        "classifier": lambda: SequenceClassifier(encoder, num_classes),
        "token_classifier": lambda: TokenClassifier(encoder, num_classes),
        "qa": lambda: SpanQuestionAnswerer(encoder),
        "mlm": lambda: MaskedLanguageModel(encoder),
    }
    return builders[task]()


def _usage_error(message: str) -> int:
    print(f"kerasbert export: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import keras

    from kerasbert.finetuning.text_model import TextTaskModel
    from kerasbert.loading import load
    from kerasbert.tokenizers import load_tokenizer
    from serving.export import ExportOptions, export_for_serving

    if args.tokenizer is None and not args.model:
        return _usage_error("--preset needs --tokenizer.")
    # Seed first: set_random_seed clears TF's eager kernel cache, and with it
    # any resource a cached kernel owns that was made before (tf-text's
    # SentencePiece model was one: tensorflow/text#570).
    keras.utils.set_random_seed(args.seed)
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    if args.model:
        print(f"Loading {args.model} ...", flush=True)
        model = load(args.model)
        if tokenizer is None and not isinstance(model, TextTaskModel):
            return _usage_error(
                f"{args.model} holds a {type(model).__name__}, which needs "
                "--tokenizer (only a TextTaskModel brings its own)."
            )
    else:
        model = build_preset_model(
            args.preset, args.task, tokenizer.vocabulary_size, args.num_classes
        )
    options = ExportOptions(
        sequence_length=args.sequence_length,
        top_k=args.top_k,
        max_predictions=args.max_predictions,
        labels=args.labels.split(",") if args.labels else None,
        batching=batching_from_flags(args),
    )
    result = export_for_serving(
        model,
        tokenizer,
        args.output,
        options,
        version=args.version,
        progress=lambda line: print(line, flush=True),
    )
    for name, outputs in result.signatures.items():
        print(f"  signature {name}: {', '.join(outputs)}")
    print(
        f"Serve it: kerasbert serve --model_base_path={args.output.resolve()} "
        f"--model_name={args.output.name}  (or tensorflow_model_server, same flags)"
    )
    return 0
