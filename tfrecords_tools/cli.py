"""``tfrecords-tools``: train vocabularies, build pretraining TFRecords, inspect them.

Examples::

    tfrecords-tools vocab --model wordpiece --vocab-size 30522 -o vocab.txt a.txt
    tfrecords-tools build --task mlm-nsp --vocab vocab.txt -o out/ -j 2 a.txt b.txt
    tfrecords-tools inspect out/pretrain-00000-of-00004.tfrecord --vocab vocab.txt

With ``--runner beam`` (``pip install "kerasbert[beam]"``), ``vocab`` and ``build``
run as Apache Beam pipelines with the same output; Beam pipeline options follow
a ``--``::

    tfrecords-tools build --runner beam --vocab vocab.txt -o out/ 'data/*.txt' \
        -- --runner=DirectRunner --direct_running_mode=multi_processing
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
from collections.abc import Sequence

from kerasbert.data.records_format import TASKS
from tfrecords_tools.masking import MASKING_STRATEGIES
from tfrecords_tools.settings import BuildConfig


def _beam(module: str):
    """``tfrecords_tools.MODULE``, which needs the optional Apache Beam."""
    try:
        import apache_beam  # noqa: F401
    except ModuleNotFoundError as error:
        raise ValueError(
            '--runner beam needs Apache Beam: pip install "kerasbert[beam]"'
        ) from error
    return importlib.import_module(f"tfrecords_tools.{module}")


def _vocab(args: argparse.Namespace) -> None:
    from tfrecords_tools import vocab

    if args.runner == "beam":
        if args.model != "wordpiece":
            raise ValueError(
                "--runner beam trains WordPiece only: SentencePiece trains on "
                "a sample of sentences, not on word counts; run it locally"
            )
        tokens = _beam("beam_vocab").train_wordpiece_with_beam(
            args.inputs,
            args.output,
            args.vocab_size,
            lowercase=not args.cased,
            pipeline_args=args.pipeline_args,
        )
        print(f"wrote {len(tokens)} WordPiece tokens to {args.output}")
    elif args.model == "wordpiece":
        tokens = vocab.train_wordpiece(
            args.inputs, args.output, args.vocab_size, lowercase=not args.cased
        )
        print(f"wrote {len(tokens)} WordPiece tokens to {args.output}")
    else:
        path = vocab.train_sentencepiece(
            args.inputs,
            args.output,
            args.vocab_size,
            input_sentence_size=args.input_sentence_size,
            seed=args.seed,
        )
        print(f"wrote SentencePiece model {path}")


def _build(args: argparse.Namespace) -> None:
    from tfrecords_tools.builder import build

    config = BuildConfig(
        task=args.task,
        seq_len=args.seq_len,
        max_predictions=args.max_predictions,
        masked_lm_prob=args.masked_lm_prob,
        dupe_factor=args.dupe_factor,
        short_seq_prob=args.short_seq_prob,
        masking=args.masking,
        premask=args.premask,
        lowercase=not args.cased,
        seed=args.seed,
        chunk_bytes=args.chunk_mb << 20,
        max_line_bytes=args.max_line_bytes,
        one_document_per_line=args.one_document_per_line,
    )
    if args.runner == "beam":
        runner = functools.partial(
            _beam("beam_pipeline").build_with_beam, pipeline_args=args.pipeline_args
        )
    else:
        runner = functools.partial(build, workers=args.workers)
    manifest = runner(
        args.inputs, args.vocab, args.output, config, overwrite=args.overwrite
    )
    totals = manifest["totals"]
    print(f"wrote {totals['examples']} examples in {manifest['shards_total']} shards")
    skipped = {
        "non-UTF-8 lines": totals["non_utf8_lines"],
        f"lines over {args.max_line_bytes} bytes": totals["long_lines"],
        "empty documents": totals["empty_documents"],
        "documents cut at a chunk boundary": manifest["split_documents"],
    }
    for what, count in skipped.items():
        if count:
            print(f"skipped/changed: {count} {what}", file=sys.stderr)


def _inspect(args: argparse.Namespace) -> None:
    from tfrecords_tools.inspection import format_example, read_features, summarize
    from tfrecords_tools.tokenization import TextTokenizer

    tokenizer = TextTokenizer(args.vocab) if args.vocab else None
    features = read_features(args.files, limit=args.limit)
    if not features:
        raise SystemExit(f"no records in {', '.join(args.files)}")
    vocabulary = tokenizer.vocabulary if tokenizer else None
    for row in range(min(args.show, len(features["input_ids"]))):
        print(format_example(features, row, vocabulary))
    mask_id = tokenizer.mask_id if tokenizer else None
    print(json.dumps(summarize(features, mask_id), indent=2))


def _add_runner(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--runner",
        choices=("local", "beam"),
        default="local",
        help="local processes, or an Apache Beam pipeline (same output; "
        "Beam pipeline options go after --)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfrecords-tools",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    vocab = commands.add_parser(
        "vocab", help="train a WordPiece or SentencePiece vocab"
    )
    vocab.add_argument("inputs", nargs="+", help="text files")
    vocab.add_argument(
        "-o",
        "--output",
        required=True,
        help="vocab.txt (wordpiece) or NAME.model (sentencepiece)",
    )
    vocab.add_argument(
        "--model", choices=("wordpiece", "sentencepiece"), default="wordpiece"
    )
    vocab.add_argument("--vocab-size", type=int, default=30522)
    vocab.add_argument(
        "--cased", action="store_true", help="wordpiece: keep case and accents"
    )
    vocab.add_argument(
        "--input-sentence-size",
        type=int,
        default=1_000_000,
        help="sentencepiece: lines sampled for training",
    )
    vocab.add_argument("--seed", type=int, default=12345)
    _add_runner(vocab)
    vocab.set_defaults(run=_vocab)

    build = commands.add_parser(
        "build",
        help="build sharded pretraining TFRecords",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    build.add_argument(
        "inputs",
        nargs="+",
        help="text files: a sentence per line, blank line between documents",
    )
    build.add_argument("--vocab", required=True, help="vocab.txt or .model")
    build.add_argument("-o", "--output", required=True, help="output directory")
    build.add_argument("--task", choices=TASKS, default="mlm-nsp")
    build.add_argument("--seq-len", type=int, default=128)
    build.add_argument("--max-predictions", type=int, default=20)
    build.add_argument("--masked-lm-prob", type=float, default=0.15)
    build.add_argument(
        "--dupe-factor",
        type=int,
        default=None,
        help="default: 5 if the task writes masks, else 1",
    )
    build.add_argument("--short-seq-prob", type=float, default=0.1)
    build.add_argument(
        "--masking",
        choices=MASKING_STRATEGIES,
        default=None,
        help="default: token (BERT), ngram (mlm-sop), span (span)",
    )
    build.add_argument(
        "--premask", action="store_true", help="rtd: also write masked_lm_* features"
    )
    build.add_argument("--cased", action="store_true", help="keep case and accents")
    build.add_argument("--seed", type=int, default=12345)
    build.add_argument(
        "-j",
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (the output does not depend on it; "
        "with --runner beam the pipeline options decide)",
    )
    build.add_argument(
        "--chunk-mb", type=int, default=1, help="input MiB per output shard"
    )
    build.add_argument(
        "--max-line-bytes",
        type=int,
        default=1 << 20,
        help="longer lines are skipped and counted",
    )
    build.add_argument("--one-document-per-line", action="store_true")
    build.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a build with other settings in --output",
    )
    _add_runner(build)
    build.set_defaults(run=_build)

    inspect = commands.add_parser("inspect", help="decode records, print statistics")
    inspect.add_argument("files", nargs="+", help="TFRecord files")
    inspect.add_argument("--vocab", help="vocab.txt or .model to show tokens")
    inspect.add_argument("--show", type=int, default=3, help="examples to print")
    inspect.add_argument(
        "--limit", type=int, default=None, help="read at most this many records"
    )
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfrecords-tools`` console script.

    Everything after a ``--`` is passed to Beam as pipeline options (with
    ``--runner beam``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    pipeline_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, pipeline_args = argv[:split], argv[split + 1 :]
    parser = _parser()
    args = parser.parse_args(argv)
    args.pipeline_args = pipeline_args
    if pipeline_args and getattr(args, "runner", "local") != "beam":
        parser.error("pipeline options after -- need --runner beam")
    try:
        args.run(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"tfrecords-tools {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
