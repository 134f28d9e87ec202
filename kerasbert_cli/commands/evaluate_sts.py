"""``kerasbert evaluate-sts``: Spearman correlation of cosine similarity on STS data."""

from __future__ import annotations

import argparse
import os

POOLING_CHOICES = ("cls", "mean", "max")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate-sts",
        help="Spearman correlation of embedding cosine similarity with STS scores",
        description=(
            "Embeds both sentences of every pair in an STS-benchmark file "
            "(tab-separated: genre, file, year, id, score, sentence1, sentence2), "
            "and reports the Spearman (and Pearson) correlation x100 of their "
            "cosine similarities with the gold scores."
        ),
    )
    parser.add_argument(
        "--model",
        required=True,
        help="a .keras SentenceEncoder, Encoder or task model, or an HF BERT dir",
    )
    parser.add_argument("--data", required=True, help="STS-format file")
    parser.add_argument(
        "--vocab", help="WordPiece vocab.txt (default: vocab.txt beside --model)"
    )
    parser.add_argument(
        "--pooling",
        choices=POOLING_CHOICES,
        help="pooling for encoders; overrides a SentenceEncoder's own (default: "
        "the SentenceEncoder's, else mean)",
    )
    parser.add_argument("--cased", action="store_true", help="do not lowercase")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", help="also write the result as JSON here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kerasbert.atomic_files import write_json_atomically
    from kerasbert.evaluation import TextEmbedder, evaluate_sts, read_sts
    from kerasbert.evaluation.loading import default_vocabulary
    from kerasbert.loading import as_encoder, load
    from kerasbert.models.sentence_encoder import SentenceEncoder
    from kerasbert.tokenizers import load_tokenizer

    pairs = read_sts(args.data)
    model = load(args.model)
    encoder = as_encoder(model)
    if isinstance(model, SentenceEncoder) and args.pooling in (None, model.pooling):
        sentence_encoder = model
    else:
        sentence_encoder = SentenceEncoder(encoder, pooling=args.pooling or "mean")
    tokenizer = load_tokenizer(
        default_vocabulary(args.model, args.vocab), lowercase=not args.cased
    )
    embedder = TextEmbedder(
        sentence_encoder,
        tokenizer,
        encoder.input_names,
        sequence_length=args.sequence_length,
        batch_size=args.batch_size,
        progress=True,
    )
    result = {
        **evaluate_sts(embedder, pairs),
        "pooling": sentence_encoder.pooling,
        "model": os.fspath(args.model),
        "data": os.fspath(args.data),
    }
    print(
        f"STS {os.path.basename(args.data)} ({result['pairs']} pairs, "
        f"{result['pooling']} pooling): Spearman {result['spearman']:.2f}, "
        f"Pearson {result['pearson']:.2f}"
    )
    if args.json:
        write_json_atomically(args.json, result)
    return 0
