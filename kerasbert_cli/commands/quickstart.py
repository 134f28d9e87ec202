"""``kerasbert quickstart``: the whole path, from raw text to gRPC answers.

Harvests a corpus (the standard library's docstrings unless ``--corpus``),
learns a WordPiece vocabulary, builds MLM+SOP TFRecords, pretrains a tiny
ALBERT, reports held-out MLM accuracy, exports a fill-mask and an embedding
model for TF Serving, serves them locally, queries both over gRPC, shuts
the servers down and leaves ``history.png`` (loss/accuracy) and
``summary.json`` in the work directory. Each stage is also a command of its
own: ``tfrecords-tools vocab|build``, ``kerasbert pretrain|export|serve|predict``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

#: ``QuickstartConfig`` fields settable from the command line (``--name``).
SIZE_OPTIONS: dict[str, tuple[str, type]] = {
    "steps": ("pretraining steps", int),
    "batch-size": ("pretraining batch size", int),
    "learning-rate": ("peak learning rate", float),
    "max-train-minutes": ("stop pretraining after this long", float),
    "vocab-size": ("WordPiece vocabulary size", int),
    "sequence-length": ("tokens per example", int),
    "num-layers": ("transformer blocks (one shared parameter set)", int),
    "hidden-size": ("hidden width", int),
    "embedding-size": ("factorized embedding width E", int),
    "seed": ("seed of masking, shuffling and initialisation", int),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from kerasbert_cli.quickstart.pipeline import QuickstartConfig

    defaults = QuickstartConfig()
    parser = subparsers.add_parser(
        "quickstart",
        help="text -> vocab -> TFRecords -> tiny ALBERT -> export -> serve -> query",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("quickstart"),
        help="where every artifact goes (default: ./quickstart)",
    )
    parser.add_argument(
        "--corpus",
        nargs="+",
        default=[],
        help="your text files: one sentence per line, blank line between documents "
        "(default: the Python standard library's docstrings)",
    )
    parser.add_argument(
        "--max-documents", type=int, help="read at most this many documents"
    )

    for name, (help_text, kind) in SIZE_OPTIONS.items():
        default = getattr(defaults, name.replace("-", "_"))
        parser.add_argument(
            f"--{name}",
            type=kind,
            default=default,
            help=f"{help_text} (default: {default})",
        )
    parser.add_argument(
        "--fill-mask-text",
        action="append",
        help="a text with [MASK] to send to the fill-mask model (repeatable)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bars"
    )
    parser.set_defaults(func=run)


class _Stages:
    """Prints a numbered header per stage and records its wall time."""

    def __init__(self, total: int):
        self.total, self.number, self.seconds = total, 0, {}
        self._name, self._start = "", 0.0

    def start(self, name: str, description: str) -> None:
        self.finish()
        self.number += 1
        self._name, self._start = name, time.perf_counter()
        print(f"\n[{self.number}/{self.total}] {description}", flush=True)

    def finish(self) -> None:
        if self._name:
            self.seconds[self._name] = round(time.perf_counter() - self._start, 1)
            self._name = ""


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"kerasbert quickstart: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from kerasbert.atomic_files import write_json_atomically
    from kerasbert_cli.quickstart import demo, pipeline

    sizes = {
        name.replace("-", "_"): getattr(args, name.replace("-", "_"))
        for name in SIZE_OPTIONS
    }
    config = pipeline.QuickstartConfig(
        corpus=tuple(args.corpus),
        max_documents=args.max_documents,
        progress=not args.no_progress,
        **sizes,
    )
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    stages = _Stages(total=7)

    stages.start("corpus", "Corpus")
    corpus = pipeline.prepare_corpus(config, work)
    print(
        f"  {corpus['train_documents']:,} training documents "
        f"({corpus['train_words']:,} words), {corpus['valid_documents']:,} held out"
    )
    stages.start("vocabulary", f"WordPiece vocabulary ({config.vocab_size} tokens)")
    vocab = pipeline.train_vocabulary(config, work)
    print(f"  {vocab}: {len(vocab.read_text(encoding='utf-8').splitlines()):,} tokens")
    stages.start("records", "TFRecords: MLM + sentence-order prediction")
    examples = pipeline.build_records(config, work)
    print(f"  {examples['train']:,} training / {examples['valid']:,} held-out examples")
    stages.start(
        "pretrain",
        f"Pretraining a tiny ALBERT: {config.steps} steps or "
        f"{config.max_train_minutes:g} minutes, whichever comes first",
    )
    model, run_summary = pipeline.pretrain(config, work)
    print(
        f"  {model.encoder.count_params():,} encoder parameters; reached step "
        f"{run_summary['final_step']} after {run_summary['wall_seconds']:.0f} s "
        "of training this run"
        + (" (time limit)" if run_summary["stopped_by_time_limit"] else "")
    )
    stages.start("evaluate", "Held-out evaluation")
    metrics = pipeline.evaluate(config, work, model)
    print(
        f"  MLM accuracy {metrics['mlm_accuracy']:.3f} (unigram baseline "
        f"{metrics['mlm_unigram_baseline']:.3f}), "
        f"SOP accuracy {metrics['sop_accuracy']:.3f} (chance 0.5)"
    )
    stages.start("export", "Export for TF Serving")
    exported = pipeline.export(config, work, model)
    for name, info in exported.items():
        print(f"  {name}: {info['path']} ({', '.join(info['signatures'])})")
    stages.start("serve", "Serve locally and query over gRPC")
    models = work / "models"
    with demo.serving(models / pipeline.FILL_MASK_MODEL) as port:
        print(f"  {pipeline.FILL_MASK_MODEL} on 127.0.0.1:{port}")
        answers = demo.fill_mask(
            port,
            pipeline.FILL_MASK_MODEL,
            args.fill_mask_text or demo.FILL_MASK_TEXTS,
        )
    print(demo.format_fill_mask(answers))
    with demo.serving(models / pipeline.EMBEDDING_MODEL) as port:
        print(f"  {pipeline.EMBEDDING_MODEL} on 127.0.0.1:{port}")
        similarities = demo.embed(port, pipeline.EMBEDDING_MODEL, demo.EMBEDDING_TEXTS)
    print(demo.format_embeddings(similarities))
    print("  servers stopped")
    stages.finish()

    summary = {
        "config": pipeline.config_dict(config),
        "corpus": corpus,
        "examples": examples,
        "encoder_parameters": model.encoder.count_params(),
        "training": {
            key: run_summary[key]
            for key in (
                "start_step",
                "final_step",
                "stopped_by_time_limit",
                "wall_seconds",
                "final_metrics",
            )
        },
        "held_out": metrics,
        "exported": exported,
        "fill_mask": answers,
        "embedding": similarities,
        "stage_seconds": stages.seconds,
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    write_json_atomically(work / "summary.json", summary)
    print(
        f"\nDone in {summary['total_seconds']:.0f} s. Loss plot: "
        f"{work / 'pretrain' / 'history.png'}; summary: {work / 'summary.json'}"
    )
    print(json.dumps({"mlm_accuracy": round(metrics["mlm_accuracy"], 4)}))
    return 0
