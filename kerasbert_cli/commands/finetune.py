"""``kerasbert finetune TASK``: checkpoint + labelled files -> evaluated model."""

from __future__ import annotations

import argparse
from pathlib import Path

from kerasbert.pretraining_options import PRECISIONS, STRATEGIES

_TASK_HELP = {
    "classify": "text (or text-pair) classification from TSV/CSV/JSON Lines",
    "regress": "text (or text-pair) regression, e.g. STS-B similarity scores",
    "squad": "extractive question answering on SQuAD v1.1 / v2.0 JSON",
    "tag": "token tagging (NER) on CoNLL files, scored as entities",
}
# Per-task defaults that differ from the shared ones.
_TASK_DEFAULTS = {"squad": {"max_seq_length": 384, "epochs": 2.0}}


def _column(text: str) -> str | int:
    """A column name, or an index (for --no-header files)."""
    return int(text) if text.isdigit() else text


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        help="checkpoint: Hugging Face dir, Google TF1 checkpoint, keras-hub or "
        "kerasbert .keras (format detected)",
    )
    parser.add_argument("--train", type=Path, required=True, help="training file")
    parser.add_argument(
        "--validation", type=Path, required=True, help="validation file"
    )
    parser.add_argument("--output", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--export",
        type=Path,
        help="also export the best model for TF Serving to EXPORT (BASE/NAME)",
    )
    parser.add_argument(
        "--tokenizer",
        type=Path,
        help="vocab.txt or SentencePiece .model (default: found beside --model)",
    )
    case = parser.add_mutually_exclusive_group()
    case.add_argument(
        "--lowercase", dest="lowercase", action="store_true", default=None
    )
    case.add_argument("--cased", dest="lowercase", action="store_false")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=float, default=3.0)
    training.add_argument("--batch-size", type=int, default=32)
    training.add_argument("--eval-batch-size", type=int, default=64)
    training.add_argument("--learning-rate", type=float, default=5e-5)
    training.add_argument(
        "--warmup-ratio", type=float, default=0.1, help="share of steps warming up"
    )
    training.add_argument("--weight-decay", type=float, default=0.01)
    training.add_argument(
        "--layer-decay",
        type=float,
        default=1.0,
        help="layer-wise learning-rate decay per layer downwards (1: off)",
    )
    training.add_argument("--dropout", type=float, default=0.1, help="head dropout")
    training.add_argument("--max-seq-length", type=int, default=128)
    training.add_argument(
        "--eval-every", type=int, help="steps between evaluations (default: epoch)"
    )
    training.add_argument(
        "--metric", help="validation metric choosing the best checkpoint"
    )
    training.add_argument("--max-train-examples", type=int)
    training.add_argument("--max-eval-examples", type=int)
    training.add_argument("--seed", type=int, default=0)
    training.add_argument("--mixed-precision", choices=PRECISIONS, default="float32")
    training.add_argument("--strategy", choices=STRATEGIES, default="default")
    training.add_argument("--tpu-address")
    training.add_argument(
        "--overwrite", action="store_true", help="start afresh over a finished run"
    )
    training.add_argument("--no-progress", dest="progress", action="store_false")


def _add_table_options(parser: argparse.ArgumentParser) -> None:
    table = parser.add_argument_group("table columns")
    table.add_argument("--text-column", type=_column, default="sentence")
    table.add_argument("--pair-column", type=_column, help="second text of pairs")
    table.add_argument("--label-column", type=_column, default="label")
    table.add_argument(
        "--delimiter", help="field separator (default: by extension: tsv, csv, jsonl)"
    )
    table.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the file has no header row; columns are 0-based indices",
    )
    parser.add_argument(
        "--pooling",
        choices=("pooled", "cls", "mean", "max"),
        default="pooled",
        help="sentence features for the head (pooled: BERT's tanh pooler)",
    )


def _add_squad_options(parser: argparse.ArgumentParser) -> None:
    squad = parser.add_argument_group("squad")
    squad.add_argument(
        "--doc-stride",
        type=int,
        default=128,
        help="tokens shared by consecutive windows of a long context",
    )
    squad.add_argument("--max-query-length", type=int, default=64)
    squad.add_argument("--max-answer-length", type=int, default=30)
    squad.add_argument("--n-best-size", type=int, default=20)
    squad.add_argument(
        "--version-2", action="store_true", help="SQuAD 2.0: allow no answer"
    )
    squad.add_argument(
        "--null-score-threshold",
        type=float,
        default=0.0,
        help="v2: answer '' when null score - best span score exceeds this",
    )


def _add_tag_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheme",
        choices=("auto", "IOB1", "IOB2", "IOBES"),
        default="auto",
        help="tagging scheme for entity scores (auto: from the training tags)",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a checkpoint on labelled data (classify, regress, squad, tag)",
        description=(
            "Fine-tunes a pretrained encoder with a new head, evaluates on the "
            "validation file after every epoch (or --eval-every steps), keeps "
            "the best model and writes OUTPUT/model.keras (it takes raw "
            "strings), metrics.json, curves.png (and predictions.json for "
            "squad). Rerunning a killed run resumes it. --export also writes a "
            "TF Serving version."
        ),
    )
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for task, help_text in _TASK_HELP.items():
        task_parser = tasks.add_parser(task, help=help_text, description=help_text)
        _add_common(task_parser)
        {"classify": _add_table_options, "regress": _add_table_options}.get(
            task, lambda p: None
        )(task_parser)
        if task == "squad":
            _add_squad_options(task_parser)
        if task == "tag":
            _add_tag_options(task_parser)
        task_parser.set_defaults(func=run, **_TASK_DEFAULTS.get(task, {}))


def settings_from_args(args: argparse.Namespace):
    """The ``FineTuneSettings`` the parsed arguments ask for."""
    import dataclasses

    from kerasbert.finetuning.task_base import FineTuneSettings

    names = {field.name for field in dataclasses.fields(FineTuneSettings)}
    return FineTuneSettings(
        **{name: value for name, value in vars(args).items() if name in names}
    )


def run(args: argparse.Namespace) -> int:
    from kerasbert.finetuning.run import finetune

    settings = settings_from_args(args)
    model, summary = finetune(settings)
    best = summary["best"]
    print(
        f"Best {summary['primary_metric']} {best[summary['primary_metric']]:.4f} "
        f"at step {best['step']}; model in {settings.output / 'model.keras'}"
    )
    if settings.export is not None:
        from serving.export import export_for_serving

        result = export_for_serving(
            model, None, settings.export, progress=lambda line: print(line, flush=True)
        )
        print(f"Exported version {result.version} to {result.path}")
    return 0
