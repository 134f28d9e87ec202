"""The pretraining feature layout: BERT's ``FixedLenFeature`` spec and build lookup.

The layout comes from ``tfrecords_tools.settings`` (the builder's single source
of truth), so what the builder writes and what the reader parses cannot drift.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from tfrecords_tools.builder import MANIFEST
from tfrecords_tools.settings import BuildConfig


def feature_lengths(
    task: str = "mlm-nsp",
    seq_len: int = 128,
    max_predictions: int = 20,
    premask: bool = False,
) -> dict[str, tuple[str, int]]:
    """Feature name -> (dtype name, fixed length) written for ``task``."""
    config = BuildConfig(
        task=task, seq_len=seq_len, max_predictions=max_predictions, premask=premask
    )
    return config.resolved().feature_lengths()


def feature_spec(
    lengths: dict[str, tuple[str, int]],
) -> dict[str, tf.io.FixedLenFeature]:
    """``tf.io.parse_example`` spec: every feature fixed-length (as in BERT)."""
    return {
        name: tf.io.FixedLenFeature([length], tf.as_dtype(dtype))
        for name, (dtype, length) in lengths.items()
    }


def read_build(directory: str | os.PathLike) -> tuple[list[str], dict]:
    """Shard paths and feature lengths of a finished ``tfrecords-tools`` build.

    Raises:
        FileNotFoundError: no ``manifest.json`` in ``directory``.
        ValueError: the build is incomplete (still running or killed).
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {directory}: not a build output")
    manifest = json.loads(path.read_text())
    if not manifest.get("complete"):
        raise ValueError(f"the build in {directory} is incomplete; rerun it to finish")
    files = [str(directory / name) for name in sorted(manifest["shards"])]
    lengths = {name: tuple(value) for name, value in manifest["features"].items()}
    return files, lengths
