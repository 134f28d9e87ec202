"""The ending the ``distill`` and ``mirror`` commands share: fit, save, describe.

Both train a compiled model for a number of steps with resumable backups in
``OUTPUT/backup``, then leave in ``OUTPUT`` the trained ``.keras`` models, a
copy of the vocabulary (so the output loads with its tokenizer beside it) and
a JSON summary of the run, each written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


def train_and_save(
    model: keras.Model,
    dataset: tf.data.Dataset,
    total_steps: int,
    output: str | os.PathLike,
    checkpoint_every: int,
    description: str,
    saved_models: Mapping[str, keras.Model],
    vocabulary: str | os.PathLike,
    summary_name: str,
    summary: Callable[[keras.callbacks.History], dict[str, Any]],
) -> None:
    """Trains ``model`` resumably, then writes its outputs to ``output``.

    Args:
        model: compiled and built (``fit_resumable``'s backup needs both).
        dataset: training batches (repeated as needed).
        total_steps: optimizer steps.
        output: the output directory; ``backup/`` inside it holds the
            resumable state until training completes.
        checkpoint_every: steps between backups.
        description: the progress bar's label.
        saved_models: file name (``NAME.keras``) -> model to save.
        vocabulary: the vocabulary file, copied as ``vocab.txt``.
        summary_name: file name of the JSON summary.
        summary: the summary's content, given the training history.
    """
    from kerasbert.atomic_files import (
        save_keras_atomically,
        write_bytes_atomically,
        write_json_atomically,
    )
    from kerasbert.training.resumable import fit_resumable

    history = fit_resumable(
        model,
        dataset,
        total_steps,
        checkpoint_dir=os.path.join(output, "backup"),
        checkpoint_every=checkpoint_every,
        description=description,
    )
    for name, saved in saved_models.items():
        save_keras_atomically(saved, os.path.join(output, name))
    with open(vocabulary, "rb") as f:
        write_bytes_atomically(os.path.join(output, "vocab.txt"), f.read())
    write_json_atomically(os.path.join(output, summary_name), summary(history))
