"""``kerasbert distill``: DistilBERT-style distillation of a teacher into a student."""

from __future__ import annotations

import argparse
import os


def _layer_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated block indices, got {text!r}"
        ) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "distill",
        help="distil a teacher encoder into a half-depth student (DistilBERT)",
        description=(
            "Builds a student with half the teacher's blocks (copied from the "
            "teacher), no segment embeddings and no pooler, and trains it on a "
            "text file (one sentence per line) to imitate the teacher. Teachers "
            "saved as a MaskedLanguageModel are distilled with soft-target, MLM "
            "and cosine losses; plain encoders (e.g. Hugging Face checkpoints "
            "without an MLM head) with hidden-state MSE and cosine losses. "
            "Writes student.keras (Encoder), student_mlm.keras (with an MLM "
            "head) and vocab.txt to --output. Re-running an interrupted command "
            "resumes from the last checkpoint in --output/backup."
        ),
    )
    parser.add_argument(
        "--teacher",
        required=True,
        help="a .keras Encoder/MaskedLanguageModel or HF dir",
    )
    parser.add_argument("--texts", required=True, help="text file, one sentence a line")
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument(
        "--vocab", help="WordPiece vocab.txt (default: vocab.txt beside --teacher)"
    )
    parser.add_argument("--cased", action="store_true", help="do not lowercase")
    parser.add_argument(
        "--layers",
        type=_layer_list,
        help="teacher blocks to copy, e.g. 0,2,4 (default: every other block)",
    )
    parser.add_argument(
        "--no-fold-segments",
        action="store_true",
        help="do not fold the teacher's segment-0 embedding into positions",
    )
    losses = parser.add_argument_group(
        "losses (defaults: 5/2/1/0 with an MLM head, else 0/0/1/1)"
    )
    losses.add_argument("--temperature", type=float, default=2.0)
    losses.add_argument("--soft-target-weight", type=float)
    losses.add_argument("--mlm-weight", type=float)
    losses.add_argument("--cosine-weight", type=float)
    losses.add_argument("--hidden-mse-weight", type=float)
    training = parser.add_argument_group("training")
    training.add_argument("--sequence-length", type=int, default=128)
    training.add_argument("--batch-size", type=int, default=32)
    training.add_argument("--epochs", type=float, default=1.0)
    training.add_argument("--max-texts", type=int, help="use only the first N lines")
    training.add_argument("--learning-rate", type=float, default=1e-4)
    training.add_argument("--warmup-fraction", type=float, default=0.05)
    training.add_argument("--checkpoint-every", type=int, default=500)
    training.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def default_loss_weights(args: argparse.Namespace, has_mlm_head: bool) -> dict:
    """The four loss weights: given ones, else DistilBERT's or hidden-state ones."""
    defaults = (
        {"soft_target": 5.0, "mlm": 2.0, "cosine": 1.0, "hidden_mse": 0.0}
        if has_mlm_head
        else {"soft_target": 0.0, "mlm": 0.0, "cosine": 1.0, "hidden_mse": 1.0}
    )
    return {
        name: default
        if getattr(args, f"{name}_weight") is None
        else getattr(args, f"{name}_weight")
        for name, default in defaults.items()
    }


def run(args: argparse.Namespace) -> int:
    import math

    import keras

    from kerasbert.data import read_lines
    from kerasbert.distillation import (
        Distiller,
        build_student,
        build_student_mlm,
        default_layer_map,
        distillation_dataset,
    )
    from kerasbert.evaluation.loading import default_vocabulary
    from kerasbert.loading import load
    from kerasbert.models.masked_lm import MaskedLanguageModel
    from kerasbert.tokenizers import load_tokenizer
    from kerasbert.training.optimization import create_optimizer
    from kerasbert_cli.train_and_save import train_and_save

    keras.utils.set_random_seed(args.seed)
    vocabulary = default_vocabulary(args.teacher, args.vocab)
    tokenizer = load_tokenizer(vocabulary, lowercase=not args.cased)
    texts = read_lines(args.texts, limit=args.max_texts)
    teacher = load(args.teacher)
    has_head = isinstance(teacher, MaskedLanguageModel)
    teacher_encoder = teacher.encoder if has_head else teacher
    if tokenizer.vocabulary_size != teacher_encoder.vocabulary_size:
        raise ValueError(
            f"The vocabulary has {tokenizer.vocabulary_size} tokens but the "
            f"teacher expects {teacher_encoder.vocabulary_size}."
        )
    layer_map = args.layers or default_layer_map(teacher_encoder.num_layers)
    fold = not args.no_fold_segments
    student = (
        build_student_mlm(teacher, layer_map, fold)
        if has_head
        else build_student(teacher, layer_map, fold)
    )
    weights = default_loss_weights(args, has_head)
    distiller = Distiller(
        teacher,
        student,
        layer_map,
        temperature=args.temperature,
        **{f"{name}_weight": value for name, value in weights.items()},
    )
    dataset = distillation_dataset(
        texts,
        tokenizer,
        sequence_length=args.sequence_length,
        batch_size=args.batch_size,
        masked_lm=distiller.uses_mlm,
        seed=args.seed,
    )
    total_steps = max(1, math.ceil(args.epochs * (len(texts) // args.batch_size)))
    distiller.compile(
        optimizer=create_optimizer(
            "adamw",
            args.learning_rate,
            total_steps,
            warmup_steps=int(args.warmup_fraction * total_steps),
        )
    )
    distiller(next(iter(dataset)))  # builds it, which BackupAndRestore needs
    print(
        f"Distilling {teacher_encoder.num_layers} -> {len(layer_map)} blocks "
        f"(teacher blocks {layer_map}) on {len(texts)} texts, {total_steps} steps; "
        f"loss weights {weights}"
    )
    saved_models = {"student.keras": student.encoder if has_head else student}
    if has_head:
        saved_models["student_mlm.keras"] = student
    train_and_save(
        distiller,
        dataset,
        total_steps,
        args.output,
        args.checkpoint_every,
        "distilling",
        saved_models,
        vocabulary,
        "distill.json",
        lambda history: {
            "teacher": os.fspath(args.teacher),
            "texts": os.fspath(args.texts),
            "num_texts": len(texts),
            "layer_map": layer_map,
            "fold_segment_embeddings": fold,
            "loss_weights": weights,
            "temperature": args.temperature,
            "steps": total_steps,
            "final_losses": {
                name: float(values[-1]) for name, values in history.history.items()
            },
        },
    )
    print(f"Wrote the student to {args.output}")
    return 0
