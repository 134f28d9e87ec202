"""Held-out evaluation of pretrainers on a ``tfrecords-tools`` build.

``evaluate_pretrainer`` runs a pretrainer's own statistics (the ones the
trainer logs) over every batch of a build and reduces them exactly;
``unigram_baseline`` gives the accuracy a model reaches without reading
context (always predicting the commonest masked token), the floor a
pretrained model has to clear.
"""

from __future__ import annotations

import os
from collections import Counter

import keras
import numpy as np
import tensorflow as tf

from kerasbert.data import pretraining_dataset, read_build
from kerasbert.pretraining.objectives import summarize


def read_in_order(build_dir: str | os.PathLike, batch_size: int) -> tf.data.Dataset:
    """One pass over every example of a build, unshuffled (last batch partial)."""
    records = read_build(build_dir)
    return pretraining_dataset(
        records.files,
        batch_size,
        records.lengths,
        shuffle=False,
        drop_remainder=False,
    )


def evaluate_pretrainer(
    model: keras.Model, dataset: tf.data.Dataset, seed: tuple[int, int] = (1, 2)
) -> dict[str, float]:
    """Metrics (``mlm_accuracy``, ``mlm_loss``, ``sop_accuracy``, ...) over ``dataset``.

    Args:
        model: a pretrainer (``kerasbert.pretraining.Pretrainer``).
        dataset: finite batches of its features.
        seed: stateless seed of in-model sampling (ELECTRA's generator).
    """
    seed_tensor = tf.constant(seed, tf.int32)
    statistics = tf.function(
        lambda features: model.compute_statistics(
            features, training=False, seed=seed_tensor
        )[1]
    )
    sums: dict[str, np.ndarray] = {}
    for batch in dataset:
        for key, value in statistics(batch).items():
            sums[key] = sums.get(key, 0.0) + value.numpy()
    if not sums:
        raise ValueError("the evaluation data is empty")
    return summarize(sums)


def _masked_targets(dataset: tf.data.Dataset) -> np.ndarray:
    targets = [
        batch["masked_lm_ids"].numpy()[batch["masked_lm_weights"].numpy() > 0]
        for batch in dataset
    ]
    return np.concatenate(targets) if targets else np.zeros([0], np.int32)


def unigram_baseline(
    train: tf.data.Dataset, valid: tf.data.Dataset
) -> tuple[float, int]:
    """Accuracy on ``valid``'s masked tokens of always answering train's commonest.

    Returns:
        ``(accuracy, token_id)``.
    """
    train_targets = _masked_targets(train)
    if train_targets.size == 0:
        raise ValueError("the training data has no masked-token targets")
    commonest = Counter(train_targets.tolist()).most_common(1)[0][0]
    valid_targets = _masked_targets(valid)
    if valid_targets.size == 0:
        raise ValueError("the validation data has no masked-token targets")
    return float(np.mean(valid_targets == commonest)), int(commonest)
