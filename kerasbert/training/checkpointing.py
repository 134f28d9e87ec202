"""Periodic, atomic, resumable training checkpoints (multi-worker aware)."""

from __future__ import annotations

import os
import shutil

import tensorflow as tf


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that owns shared outputs (checkpoints, logs, files)."""
    return bool(strategy.extended.should_checkpoint)


class TrainingCheckpoint:
    """Saves and restores model, optimizer and step every N steps.

    The data position is the step itself: the trainer replays a
    deterministic dataset from ``step`` global batches in, which works
    identically under every strategy. Writes go through
    ``tf.train.CheckpointManager`` (files are renamed into place and the
    ``checkpoint`` index is written last, so a kill mid-save leaves the
    previous checkpoint intact). Under MultiWorkerMirroredStrategy every
    worker must take part in a save; non-chief workers write to a scratch
    directory that is deleted afterwards.
    """

    def __init__(
        self,
        directory: str,
        strategy: tf.distribute.Strategy,
        max_to_keep: int = 3,
        **trackables,
    ):
        self.directory = directory
        self.chief = is_chief(strategy)
        self.checkpoint = tf.train.Checkpoint(**trackables)
        if self.chief:
            self._write_directory = directory
        else:
            resolver = strategy.cluster_resolver
            self._write_directory = os.path.join(
                directory, f".scratch_{resolver.task_type}_{resolver.task_id}"
            )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._write_directory, max_to_keep=max_to_keep
        )

    def restore_latest(self) -> str | None:
        """Restores the newest checkpoint in ``directory``; returns its path."""
        latest = tf.train.latest_checkpoint(self.directory)
        if latest is not None:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        return latest

    def save(self, step: int) -> None:
        self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self._write_directory, ignore_errors=True)
