"""Resumable ``fit`` with a tqdm bar, shared by distillation and Mirror-BERT."""

from __future__ import annotations

import math
import os

import keras
import tensorflow as tf
from tqdm.auto import tqdm


class TqdmProgress(keras.callbacks.Callback):
    """One tqdm bar over all training steps, showing the latest losses.

    Resumed runs start the bar at the restored step.
    """

    def __init__(self, total_steps: int, description: str = "training"):
        super().__init__()
        self.total_steps = total_steps
        self.description = description
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._bar is None:
            done = epoch * self.params["steps"]
            self._bar = tqdm(
                total=self.total_steps, initial=done, desc=self.description
            )

    def on_train_batch_end(self, batch, logs=None):
        self._bar.update(1)
        self._bar.set_postfix(
            {name: f"{float(value):.4f}" for name, value in (logs or {}).items()},
            refresh=False,
        )

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def fit_resumable(
    model: keras.Model,
    dataset: tf.data.Dataset,
    total_steps: int,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    description: str = "training",
    progress: bool = True,
) -> keras.callbacks.History:
    """Trains ``model`` (compiled, built) for about ``total_steps`` steps.

    Training is cut into checkpoint intervals of equal length (each a Keras
    "epoch" over the repeated ``dataset``), rounded so that there are
    ``ceil(total_steps / checkpoint_every)`` of them; after each one Keras'
    ``BackupAndRestore`` writes weights, optimizer state and the interval
    number to ``checkpoint_dir``. Calling this again with the same
    directory after an interruption resumes at the last finished interval
    (data order restarts; with shuffled data that only changes which random
    batches come next). The backup is deleted when training completes.

    Args:
        model: a compiled model with its own ``train_step``.
        dataset: yields training batches; repeated here as needed.
        total_steps: optimizer steps to take.
        checkpoint_dir: where to back up; ``None`` disables resuming.
        checkpoint_every: steps between backups.
        progress: show a tqdm bar.

    Returns:
        The Keras history (per-interval means of the model's metrics).
    """
    if total_steps < 1 or checkpoint_every < 1:
        raise ValueError(
            f"total_steps and checkpoint_every must be positive, got "
            f"{total_steps} and {checkpoint_every}."
        )
    intervals = math.ceil(total_steps / checkpoint_every)
    steps_per_interval = math.ceil(total_steps / intervals)
    callbacks: list[keras.callbacks.Callback] = []
    if progress:
        callbacks.append(TqdmProgress(intervals * steps_per_interval, description))
    if checkpoint_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(os.fspath(checkpoint_dir)))
    return model.fit(
        dataset.repeat(),
        epochs=intervals,
        steps_per_epoch=steps_per_interval,
        callbacks=callbacks,
        shuffle=False,  # datasets shuffle themselves
        verbose=0,
    )
