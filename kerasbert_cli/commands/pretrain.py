"""``kerasbert pretrain``: pretrain BERT / ALBERT / RoBERTa / ELECTRA on TFRecords.

Reads a ``tfrecords-tools build`` directory, trains with a custom loop on any
``tf.distribute`` strategy, checkpoints every N steps and resumes when rerun
with the same ``--output-dir``. Settings come from flags, a JSON ``--config``
file (keys are the flag names with underscores), or both: flags win, then
the file, then the defaults shown here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "data": None,
    "vocab": None,
    "output_dir": None,
    "kind": "bert",
    "preset": "bert_mini",
    "encoder": {},
    "batch_size": 32,
    "steps": 1000,
    "learning_rate": 1e-4,
    "warmup_steps": None,
    "weight_decay": 0.01,
    "optimizer": "adamw",
    "clip_norm": 1.0,
    "checkpoint_every": 500,
    "log_every": 50,
    "keep_checkpoints": 3,
    "jit_compile": False,
    "mixed_precision": "float32",
    "dynamic_masking": False,
    "max_predictions": 20,
    "masked_lm_prob": 0.15,
    "shuffle_buffer": 10_000,
    "seed": 0,
    "max_minutes": None,
    "strategy": "default",
    "tpu_address": None,
    "generator_fraction": 0.25,
    "rtd_weight": 50.0,
    "no_progress": False,
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from kerasbert.pretraining_options import (
        OPTIMIZERS,
        PRECISIONS,
        PRETRAINER_KINDS,
        STRATEGIES,
    )

    parser = subparsers.add_parser(
        "pretrain",
        help="pretrain an encoder (BERT, ALBERT, RoBERTa, ELECTRA) on TFRecords",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def option(flag: str, help_text: str, **kwargs) -> None:
        name = flag.lstrip("-").replace("-", "_")
        default = DEFAULTS[name]
        shown = f" (default: {default})" if default not in (None, {}, False) else ""
        parser.add_argument(flag, default=None, help=help_text + shown, **kwargs)

    parser.add_argument("--config", help="JSON file of settings (flags override it)")
    option("--data", "directory of a finished `tfrecords-tools build`")
    option(
        "--vocab",
        "vocab.txt / .model: [MASK] and special ids (ELECTRA, dynamic masking)",
    )
    option("--output-dir", "checkpoints, logs, summary.json, history.png, models")
    option("--kind", "pretraining objective", choices=PRETRAINER_KINDS)
    option("--preset", "encoder architecture preset (kerasbert.PRESETS)")
    option(
        "--encoder",
        "JSON dict overriding preset values, e.g. '{\"num_layers\": 2}'",
        type=json.loads,
    )
    option("--batch-size", "global batch size", type=int)
    option("--steps", "total optimizer steps", type=int)
    option("--learning-rate", "peak learning rate", type=float)
    option("--warmup-steps", "linear warmup steps (default: 10%% of --steps)", type=int)
    option("--weight-decay", "decoupled weight decay", type=float)
    option("--optimizer", "optimizer (lamb for large batches)", choices=OPTIMIZERS)
    option("--clip-norm", "global gradient-norm clip, 0 disables", type=float)
    option("--checkpoint-every", "steps between checkpoints", type=int)
    option("--log-every", "steps between logged metrics", type=int)
    option("--keep-checkpoints", "checkpoints kept", type=int)
    option("--jit-compile", "XLA-compile the train step", action="store_true")
    option("--mixed-precision", "compute dtype policy", choices=PRECISIONS)
    option(
        "--dynamic-masking",
        "mask on the fly each epoch (RoBERTa); needs --vocab",
        action="store_true",
    )
    option(
        "--max-predictions", "masked positions per sequence (dynamic masking)", type=int
    )
    option("--masked-lm-prob", "masking rate (dynamic masking)", type=float)
    option("--shuffle-buffer", "records in the shuffle buffer", type=int)
    option("--seed", "seed of shuffling, masking and initialisation", type=int)
    option(
        "--max-minutes",
        "stop (with a checkpoint) after this much training time; rerun to go on",
        type=float,
    )
    option(
        "--strategy",
        "tf.distribute strategy; multiworker reads TF_CONFIG",
        choices=STRATEGIES,
    )
    option("--tpu-address", "TPU name or grpc://host:port (--strategy tpu)")
    option(
        "--generator-fraction",
        "ELECTRA generator width / discriminator width",
        type=float,
    )
    option("--rtd-weight", "ELECTRA discriminator loss weight λ", type=float)
    option("--no-progress", "hide the progress bar", action="store_true")
    parser.set_defaults(func=run)


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Flags over ``--config`` file over ``DEFAULTS``.

    Raises:
        ValueError: unknown keys in the config file or missing required values.
    """
    from_file: dict[str, Any] = {}
    if args.config:
        from_file = json.loads(Path(args.config).read_text())
        unknown = set(from_file) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown settings in {args.config}: {sorted(unknown)}")
    settings = {}
    for name, default in DEFAULTS.items():
        value = getattr(args, name)
        settings[name] = value if value is not None else from_file.get(name, default)
    for required in ("data", "output_dir"):
        if not settings[required]:
            raise ValueError(f"--{required.replace('_', '-')} is required")
    if settings["warmup_steps"] is None:
        settings["warmup_steps"] = settings["steps"] // 10
    return settings


def build_inputs(settings: dict[str, Any]):
    """The training dataset of global batches and the vocabulary facts.

    Returns:
        ``(dataset, vocabulary_size, mask_id)``; ``mask_id`` is ``None``
        without ``--vocab``.
    """
    from kerasbert.data import (
        DynamicMasking,
        pretraining_dataset,
        read_build,
        tuned_options,
    )
    from tfrecords_tools.tokenization import TextTokenizer

    records = read_build(settings["data"])
    lengths, vocabulary_size = records.lengths, records.vocabulary_size
    mask_id, masking = None, None
    if settings["vocab"]:
        tokenizer = TextTokenizer(settings["vocab"])
        if tokenizer.vocabulary_size != vocabulary_size:
            raise ValueError(
                f"{settings['vocab']} has {tokenizer.vocabulary_size} tokens but "
                f"the records were built with {vocabulary_size}"
            )
        mask_id = tokenizer.mask_id
    kind = settings["kind"]
    if kind in ("bert", "albert") and "next_sentence_labels" not in lengths:
        task = "mlm-nsp" if kind == "bert" else "mlm-sop"
        raise ValueError(f"--kind {kind} needs records built with --task {task}")
    needs_masking = settings["dynamic_masking"] or "masked_lm_positions" not in lengths
    if needs_masking:
        if mask_id is None:
            raise ValueError("dynamic masking (or records without masks) needs --vocab")
        masking = DynamicMasking(
            mask_id=mask_id,
            special_ids=[int(i) for i in tokenizer.is_special.nonzero()[0]],
            vocabulary_size=vocabulary_size,
            max_predictions=settings["max_predictions"],
            masked_lm_prob=settings["masked_lm_prob"],
            seed=settings["seed"],
        )
    # Resuming replays the stream from the step reached: it must be ordered.
    options = tuned_options()
    options.deterministic = True
    dataset = pretraining_dataset(
        records.files,
        settings["batch_size"],
        lengths,
        shuffle_buffer=settings["shuffle_buffer"],
        seed=settings["seed"],
        repeat=True,
        dynamic_masking=masking,
        options=options,
    )
    return dataset, vocabulary_size, mask_id


def run(args: argparse.Namespace) -> int:
    try:
        settings = resolve_settings(args)
        return train(settings)
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"kerasbert pretrain: error: {error}", file=sys.stderr)
        return 2


def train(settings: dict[str, Any]) -> int:
    """Runs (or resumes) the pretraining described by resolved ``settings``."""
    import keras

    from kerasbert.models.presets import preset_config
    from kerasbert.pretraining.factory import build_pretrainer
    from kerasbert.training import Trainer, TrainerConfig, TrainingDataError
    from kerasbert.training.distribution import create_strategy

    strategy = create_strategy(settings["strategy"], settings["tpu_address"])
    keras.mixed_precision.set_global_policy(settings["mixed_precision"])
    dataset, vocabulary_size, mask_id = build_inputs(settings)
    encoder = preset_config(
        settings["preset"], vocabulary_size=vocabulary_size, **settings["encoder"]
    )
    electra = (
        {
            "generator_fraction": settings["generator_fraction"],
            "rtd_weight": settings["rtd_weight"],
        }
        if settings["kind"] == "electra"
        else {}
    )
    config = TrainerConfig(
        total_steps=settings["steps"],
        learning_rate=settings["learning_rate"],
        warmup_steps=settings["warmup_steps"],
        weight_decay=settings["weight_decay"],
        optimizer=settings["optimizer"],
        clip_norm=settings["clip_norm"],
        checkpoint_every=settings["checkpoint_every"],
        log_every=settings["log_every"],
        keep_checkpoints=settings["keep_checkpoints"],
        jit_compile=settings["jit_compile"],
        seed=settings["seed"],
        progress=not settings["no_progress"],
        max_seconds=(
            None if settings["max_minutes"] is None else 60.0 * settings["max_minutes"]
        ),
    )
    trainer = Trainer(
        lambda: build_pretrainer(settings["kind"], encoder, mask_id, **electra),
        config,
        settings["output_dir"],
        strategy,
    )
    try:
        summary = trainer.train(dataset)
    except TrainingDataError as error:
        print(f"kerasbert pretrain: error: {error}", file=sys.stderr)
        return 2
    final = {k: round(v, 4) for k, v in summary["final_metrics"].items()}
    print(json.dumps({"final_step": summary["final_step"], **final}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs ``pretrain`` without the ``kerasbert`` CLI (``python -m ...``)."""
    parser = argparse.ArgumentParser(prog="kerasbert")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["pretrain", *(argv if argv is not None else sys.argv[1:])]
    )
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
