"""From a pretrained checkpoint to a fine-tuned, evaluated, saved raw-text model.

``finetune(settings)`` reads the data, tokenizes it once (timed), puts a fresh
head on the checkpoint's encoder and trains it with AdamW (warmup + linear
decay, optional layer-wise decay). Training is cut into intervals of
``eval_every`` steps (default: one epoch); after each one the model is
evaluated on the validation file and the best weights so far are kept. A
backup after every interval lets a killed run (even ``kill -9``) resume where
it was when rerun with the same command.

Writes to ``settings.output``:
    ``model.keras``: the best model as a ``TextTaskModel`` (strings in);
    ``metrics.json``: best and final validation metrics, the history, speed;
    ``curves.png``: training loss and validation metrics against steps;
    ``predictions.json``: SQuAD answers of the best model (official format);
    ``best.weights.npz``, ``progress.json``, ``backup/``: working state.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kerasbert.atomic_files import (
    atomic_write,
    save_keras_atomically,
    write_json_atomically,
)
from kerasbert.checkpoints.formats import read_encoder
from kerasbert.finetuning.curves import plot_curves
from kerasbert.finetuning.sentence_tasks import ClassifyTask, RegressTask
from kerasbert.finetuning.squad_task import SquadTask
from kerasbert.finetuning.tagging_task import TagTask
from kerasbert.finetuning.task_base import FineTuneSettings, FineTuningTask, Prepared
from kerasbert.finetuning.text_model import TextTaskModel
from kerasbert.tokenizers import Tokenizer, load_tokenizer
from kerasbert.training.distribution import create_strategy
from kerasbert.training.layerwise import LayerwiseAdamW
from kerasbert.training.optimization import NO_DECAY_NAMES, WarmupLinearDecay
from kerasbert.training.resumable import fit_resumable

TASKS: dict[str, Callable[[FineTuneSettings], FineTuningTask]] = {
    "classify": ClassifyTask,
    "regress": RegressTask,
    "squad": SquadTask,
    "tag": TagTask,
}


def find_tokenizer(
    model_path: Path, tokenizer_path: Path | None, lowercase: bool | None
) -> Tokenizer:
    """``tokenizer_path``, or the ``vocab.txt`` / ``*.model`` beside the model.

    Lowercasing defaults to ``do_lower_case`` in a Hugging Face
    ``tokenizer_config.json`` beside the model, else True.

    Raises:
        FileNotFoundError: no tokenizer given or found.
    """
    directory = model_path if model_path.is_dir() else model_path.parent
    if tokenizer_path is None:
        found = [directory / "vocab.txt", *sorted(directory.glob("*.model"))]
        found = [path for path in found if path.is_file()]
        if not found:
            raise FileNotFoundError(
                f"No tokenizer beside {model_path} (vocab.txt or *.model); "
                "pass --tokenizer."
            )
        tokenizer_path = found[0]
    if lowercase is None:
        config = directory / "tokenizer_config.json"
        lowercase = True
        if config.is_file():
            lowercase = bool(json.loads(config.read_text()).get("do_lower_case", True))
    return load_tokenizer(tokenizer_path, lowercase=lowercase)


def make_optimizer(
    settings: FineTuneSettings, encoder: Any, total_steps: int
) -> keras.optimizers.Optimizer:
    """AdamW (decay off for biases and LayerNorm), warmup then linear decay.

    Clips the global gradient norm at 1.0, as Hugging Face's ``Trainer``.
    """
    warmup = round(settings.warmup_ratio * total_steps)
    optimizer = LayerwiseAdamW(
        layer_decay=settings.layer_decay,
        num_layers=encoder.num_layers,
        num_groups=encoder.num_groups,
        learning_rate=WarmupLinearDecay(settings.learning_rate, total_steps, warmup),
        weight_decay=settings.weight_decay,
        epsilon=1e-8,
        global_clipnorm=1.0,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer


def training_dataset(
    data: Prepared, batch_size: int, seed: int, drop_remainder: bool
) -> tf.data.Dataset:
    """Shuffled (differently each epoch, reproducibly) batches of ``data``."""
    return (
        tf.data.Dataset.from_tensor_slices((data.inputs, data.targets))
        .shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=drop_remainder)
        .prefetch(tf.data.AUTOTUNE)
    )


def save_weights(model: keras.Model, path: Path) -> None:
    """The model's weights (not the optimizer's) as ``.npz``, atomically."""
    with atomic_write(path) as handle:
        np.savez(handle, *[variable.numpy() for variable in model.weights])


def load_weights(model: keras.Model, path: Path) -> None:
    """Inverse of ``save_weights`` (same model structure)."""
    with np.load(path) as arrays:
        values = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    if len(values) != len(model.weights):
        raise ValueError(f"{path} holds {len(values)} arrays for {len(model.weights)}.")
    for variable, value in zip(model.weights, values, strict=True):
        variable.assign(value)


class ValidationCheckpoint(keras.callbacks.Callback):
    """Evaluates after each interval; keeps the best weights and the history.

    State (history, best) lives in ``progress.json``, written atomically with
    the weights, so a resumed run continues the same record. An interval
    that is retrained after a crash replaces its history row.

    Args:
        evaluate: runs validation, returns metrics (higher primary = better).
        primary: the metric that picks the best checkpoint.
        directory: the output directory.
        on_best: called after new best weights are written.
    """

    def __init__(
        self,
        evaluate: Callable[[], dict[str, float]],
        primary: str,
        directory: Path,
        on_best: Callable[[], Any] = lambda: None,
    ):
        super().__init__()
        self.evaluate = evaluate
        self.primary = primary
        self.directory = directory
        self.on_best = on_best
        self.state_path = directory / "progress.json"
        self.weights_path = directory / "best.weights.npz"
        self.state: dict[str, Any] = {"history": [], "best": None}
        self.train_seconds = 0.0
        self.steps_run = 0
        self._started = 0.0

    def on_train_begin(self, logs=None):
        if self.state_path.is_file():
            self.state = json.loads(self.state_path.read_text())

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps_run += 1

    def on_epoch_end(self, epoch, logs=None):
        self.train_seconds += time.perf_counter() - self._started
        step = (epoch + 1) * self.params["steps"]  # steps per interval
        metrics = self.evaluate()
        if self.primary not in metrics:
            raise ValueError(
                f"--metric {self.primary!r} is not one of {sorted(metrics)}."
            )
        row = {"step": step, "train_loss": float((logs or {}).get("loss", "nan"))}
        row.update(metrics)
        history = [r for r in self.state["history"] if r["step"] != step]
        self.state["history"] = sorted([*history, row], key=lambda r: r["step"])
        best = self.state["best"]
        if best is None or metrics[self.primary] > best[self.primary]:
            save_weights(self.model, self.weights_path)
            self.state["best"] = row
            self.on_best()
        write_json_atomically(self.state_path, self.state)
        print(
            f"step {step}: "
            + ", ".join(
                f"{name} {value:.4f}" for name, value in row.items() if name != "step"
            ),
            flush=True,
        )


def _check_output(settings: FineTuneSettings) -> None:
    """Refuses to overwrite a finished run unless asked; --overwrite starts afresh."""
    done = settings.output / "metrics.json"
    if settings.overwrite and settings.output.exists():
        for name in ("backup", "progress.json", "best.weights.npz", "metrics.json"):
            path = settings.output / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    elif done.is_file() and not (settings.output / "backup").exists():
        raise FileExistsError(
            f"{settings.output} holds a finished run (metrics.json); pass "
            "--overwrite to train again."
        )
    settings.output.mkdir(parents=True, exist_ok=True)


def finetune(settings: FineTuneSettings) -> tuple[TextTaskModel, dict[str, Any]]:
    """Runs the whole fine-tuning; returns the best raw-text model and metrics."""
    if settings.task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {settings.task!r}.")
    _check_output(settings)
    keras.utils.set_random_seed(settings.seed)
    task = TASKS[settings.task](settings)
    train_examples = task.read(settings.train, settings.max_train_examples)
    validation_examples = task.read(settings.validation, settings.max_eval_examples)
    task.fit_labels(train_examples)
    tokenizer = find_tokenizer(settings.model, settings.tokenizer, settings.lowercase)

    started = time.perf_counter()
    train_data = task.prepare(train_examples, tokenizer)
    validation_data = task.prepare(validation_examples, tokenizer)
    tokenize_seconds = time.perf_counter() - started
    print(
        f"{settings.task}: {len(train_examples)} training examples -> "
        f"{len(train_data)} inputs, {len(validation_examples)} validation "
        f"examples -> {len(validation_data)} inputs; tokenized in "
        f"{tokenize_seconds:.1f} s",
        flush=True,
    )

    keras.mixed_precision.set_global_policy(settings.mixed_precision)
    strategy = create_strategy(settings.strategy, settings.tpu_address)
    steps_per_epoch = math.ceil(len(train_data) / settings.batch_size)
    total_steps = max(1, math.ceil(settings.epochs * steps_per_epoch))
    eval_every = min(settings.eval_every or steps_per_epoch, total_steps)
    with strategy.scope():
        encoder = read_encoder("auto", settings.model)
        model = task.build_model(encoder)
        model.compile(
            optimizer=make_optimizer(settings, encoder, total_steps),
            **task.compile_arguments(),
        )
    dataset = training_dataset(
        train_data,
        settings.batch_size,
        settings.seed,
        drop_remainder=strategy.num_replicas_in_sync > 1,
    )
    primary = settings.metric or task.primary_metric
    checkpoint = ValidationCheckpoint(
        lambda: task.evaluate(
            model, validation_examples, validation_data, settings.eval_batch_size
        ),
        primary,
        settings.output,
        on_best=lambda: getattr(task, "write_predictions", lambda d: None)(
            settings.output
        ),
    )
    fit_resumable(
        model,
        dataset,
        total_steps,
        checkpoint_dir=settings.output / "backup",
        checkpoint_every=eval_every,
        description=f"fine-tuning ({settings.task})",
        progress=settings.progress,
        callbacks=[checkpoint],
    )
    load_weights(model, checkpoint.weights_path)
    # A fresh copy: the saved model carries no optimizer or compile state.
    trained = model.__class__.from_config(model.get_config())
    trained.set_weights(model.get_weights())
    text_model = task.text_model(trained, tokenizer)
    save_keras_atomically(text_model, settings.output / "model.keras")
    state = checkpoint.state
    trained_examples = checkpoint.steps_run * settings.batch_size
    summary = {
        "task": settings.task,
        "primary_metric": primary,
        "labels": task.labels,
        "best": state["best"],
        "final": state["history"][-1],
        "history": state["history"],
        "train_examples": len(train_data),
        "validation_examples": len(validation_data),
        "total_steps": total_steps,
        "train_seconds": checkpoint.train_seconds,
        "train_examples_per_second": trained_examples / checkpoint.train_seconds
        if checkpoint.train_seconds
        else None,
        "tokenize_seconds": tokenize_seconds,
        "settings": {
            name: os.fspath(value) if isinstance(value, Path) else value
            for name, value in vars(settings).items()
        },
    }
    plot_curves(state["history"], primary, settings.output / "curves.png")
    write_json_atomically(settings.output / "metrics.json", summary)
    (settings.output / "progress.json").unlink(missing_ok=True)
    return text_model, summary
