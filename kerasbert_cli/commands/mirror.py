"""``kerasbert mirror``: Mirror-BERT contrastive fine-tuning of an encoder."""

from __future__ import annotations

import argparse
import os

# Per-level defaults of Mirror-BERT (Liu et al. 2021): temperature, epochs,
# maximum sequence length.
LEVEL_DEFAULTS = {
    "sentence": {"temperature": 0.04, "epochs": 1.0, "sequence_length": 50},
    "word": {"temperature": 0.2, "epochs": 2.0, "sequence_length": 25},
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mirror",
        help="Mirror-BERT: self-supervised contrastive fine-tuning for embeddings",
        description=(
            "Fine-tunes an encoder so that two views of each string (the string "
            "itself and a copy with a random span of tokens masked; both with "
            "dropout) embed close together and far from the other strings in "
            "the batch (InfoNCE). Takes a text file with one sentence (or word) "
            "per line; writes encoder.keras, sentence_encoder.keras and "
            "vocab.txt to --output (and a SavedModel with --export-savedmodel). "
            "Re-running an interrupted command resumes from --output/backup."
        ),
    )
    parser.add_argument(
        "--encoder", required=True, help="a .keras Encoder / task model or HF dir"
    )
    parser.add_argument("--texts", required=True, help="text file, one string a line")
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument(
        "--vocab", help="WordPiece vocab.txt (default: vocab.txt beside --encoder)"
    )
    parser.add_argument("--cased", action="store_true", help="do not lowercase")
    parser.add_argument(
        "--level",
        choices=sorted(LEVEL_DEFAULTS),
        default="sentence",
        help="sets temperature / epochs / sequence length defaults "
        "(sentence: 0.04 / 1 / 50, word: 0.2 / 2 / 25)",
    )
    parser.add_argument("--pooling", choices=("cls", "mean"), default="cls")
    parser.add_argument("--temperature", type=float)
    parser.add_argument(
        "--span-length", type=int, default=5, help="masked span k (0: off)"
    )
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--sequence-length", type=int)
    parser.add_argument("--max-texts", type=int, help="use only the first N lines")
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--export-savedmodel",
        action="store_true",
        help=(
            "also export the sentence encoder for TF Serving "
            "(serving/sentence_encoder/VERSION/, raw-text and tensor signatures)"
        ),
    )
    parser.set_defaults(func=run)


def resolve_level_defaults(args: argparse.Namespace) -> dict:
    """Temperature, epochs and sequence length: given values, else the level's."""
    return {
        name: default if getattr(args, name) is None else getattr(args, name)
        for name, default in LEVEL_DEFAULTS[args.level].items()
    }


def run(args: argparse.Namespace) -> int:
    import math

    import keras

    from kerasbert.contrastive import (
        MirrorBERT,
        mirror_dataset,
        unique_texts,
        with_dropout,
    )
    from kerasbert.data import read_lines
    from kerasbert.evaluation.loading import default_vocabulary
    from kerasbert.loading import as_encoder, load
    from kerasbert.models.sentence_encoder import SentenceEncoder
    from kerasbert.tokenizers import load_tokenizer
    from kerasbert.training.optimization import create_optimizer
    from kerasbert_cli.train_and_save import train_and_save

    keras.utils.set_random_seed(args.seed)
    settings = resolve_level_defaults(args)
    vocabulary = default_vocabulary(args.encoder, args.vocab)
    tokenizer = load_tokenizer(vocabulary, lowercase=not args.cased)
    texts = unique_texts(read_lines(args.texts, limit=args.max_texts))
    encoder = with_dropout(as_encoder(load(args.encoder)), args.dropout)
    sentence_encoder = SentenceEncoder(encoder, pooling=args.pooling)
    model = MirrorBERT(sentence_encoder, temperature=settings["temperature"])
    batch_size = min(args.batch_size, len(texts))
    dataset = mirror_dataset(
        texts,
        tokenizer,
        encoder.input_names,
        sequence_length=settings["sequence_length"],
        batch_size=batch_size,
        span_length=args.span_length,
        seed=args.seed,
    )
    total_steps = max(1, math.ceil(settings["epochs"] * (len(texts) // batch_size)))
    model.compile(optimizer=create_optimizer("adamw", args.learning_rate, total_steps))
    model(next(iter(dataset))["view_a"])  # builds it, which BackupAndRestore needs
    print(
        f"Mirror-BERT ({args.level}, {args.pooling} pooling, tau="
        f"{settings['temperature']}) on {len(texts)} unique texts: "
        f"{total_steps} steps of {batch_size}"
    )
    train_and_save(
        model,
        dataset,
        total_steps,
        args.output,
        args.checkpoint_every,
        "mirror",
        {"encoder.keras": encoder, "sentence_encoder.keras": sentence_encoder},
        vocabulary,
        "mirror.json",
        lambda history: {
            "encoder": os.fspath(args.encoder),
            "texts": os.fspath(args.texts),
            "num_texts": len(texts),
            "level": args.level,
            "pooling": args.pooling,
            "span_length": args.span_length,
            "dropout": args.dropout,
            "learning_rate": args.learning_rate,
            "batch_size": batch_size,
            "steps": total_steps,
            **settings,
            "final_loss": float(history.history["loss"][-1]),
        },
    )
    if args.export_savedmodel:
        from serving.export import ExportOptions, export_for_serving

        export_for_serving(
            sentence_encoder,
            tokenizer,
            os.path.join(args.output, "serving", "sentence_encoder"),
            ExportOptions(sequence_length=settings["sequence_length"]),
        )
    print(f"Wrote encoder.keras and sentence_encoder.keras to {args.output}")
    return 0
