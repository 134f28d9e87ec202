"""Resumable ``fit`` with a tqdm bar (distillation, Mirror-BERT, fine-tuning)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile

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


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backups survive ``kill -9`` at any moment.

    Keras writes ``latest.weights.h5`` in place and the epoch number in a
    second file: a process killed while writing leaves a truncated HDF5 file
    ("bad object header version number" on resume), or new weights beside the
    old epoch number. Here each backup is written into a temporary directory
    that is renamed to ``state-<epoch>`` once complete; resuming reads the
    newest complete one, and older ones are removed after each save.
    """

    _STATE = re.compile(r"state-(\d+)$")

    def __init__(self, backup_dir: str):
        super().__init__(backup_dir, delete_checkpoint=True, double_checkpoint=False)

    def _states(self) -> list[tuple[int, str]]:
        """(epoch, path) of the complete backups, oldest first."""
        if not os.path.isdir(self.backup_dir):
            return []
        found = []
        for name in os.listdir(self.backup_dir):
            match = self._STATE.match(name)
            if match:
                found.append((int(match.group(1)), os.path.join(self.backup_dir, name)))
        return sorted(found)

    def _use(self, directory: str) -> None:
        self._weights_path = os.path.join(directory, "latest.weights.h5")
        self._training_metadata_path = os.path.join(directory, "training_metadata.json")

    def _load_model(self):
        states = self._states()
        if states:
            self._use(states[-1][1])
            super()._load_model()

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        for name in os.listdir(self.backup_dir):
            if name.startswith(".saving-"):  # left by a killed save
                shutil.rmtree(os.path.join(self.backup_dir, name), ignore_errors=True)
        temporary = tempfile.mkdtemp(prefix=".saving-", dir=self.backup_dir)
        self.model.save_weights(os.path.join(temporary, "latest.weights.h5"))
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        with open(os.path.join(temporary, "training_metadata.json"), "w") as handle:
            json.dump(metadata, handle)
        final = os.path.join(self.backup_dir, f"state-{self._current_epoch:06d}")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(temporary, final)
        for _, older in self._states()[:-1]:
            shutil.rmtree(older, ignore_errors=True)


def fit_resumable(
    model: keras.Model,
    dataset: tf.data.Dataset,
    total_steps: int,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    description: str = "training",
    progress: bool = True,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> keras.callbacks.History:
    """Trains ``model`` (compiled, built) for about ``total_steps`` steps.

    Training is cut into checkpoint intervals of equal length (each a Keras
    "epoch" over the repeated ``dataset``), rounded so that there are
    ``ceil(total_steps / checkpoint_every)`` of them; after each one
    ``AtomicBackupAndRestore`` writes weights, optimizer state and the
    interval number to ``checkpoint_dir``. Calling this again with the same
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
        callbacks: more callbacks; they run before the backup of each
            interval is written, so an interval whose ``on_epoch_end`` work
            (e.g. evaluation) was cut short is trained and evaluated again
            on resume, never skipped.

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
    every: list[keras.callbacks.Callback] = []
    if progress:
        every.append(TqdmProgress(intervals * steps_per_interval, description))
    every.extend(callbacks or ())
    if checkpoint_dir is not None:
        every.append(AtomicBackupAndRestore(os.fspath(checkpoint_dir)))
    return model.fit(
        dataset.repeat(),
        epochs=intervals,
        steps_per_epoch=steps_per_interval,
        callbacks=every,
        shuffle=False,  # datasets shuffle themselves
        verbose=0,
    )
