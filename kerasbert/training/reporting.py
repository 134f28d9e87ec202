"""Training outputs: TensorBoard scalars, a JSON summary and a loss/accuracy plot."""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from kerasbert.atomic_files import atomic_write


def _scalar_metadata() -> summary_pb2.SummaryMetadata:
    """Marks a summary as a TensorBoard scalar.

    ``tf.summary.scalar`` lives in the separate ``tensorboard`` package; the
    core ``tf.summary.write`` op with this metadata writes the same event, so
    logging works whether or not TensorBoard is installed.
    """
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    return metadata


class ScalarLog:
    """Keeps the metric history and mirrors it to TensorBoard (chief only).

    ``history`` is a list of ``{"step": int, name: float, ...}`` rows.
    """

    def __init__(self, log_directory: str | None):
        self.history: list[dict[str, float]] = []
        self._writer = (
            tf.summary.create_file_writer(log_directory) if log_directory else None
        )

    def record(self, step: int, scalars: dict[str, float]) -> None:
        self.history.append({"step": step, **scalars})
        if self._writer is None:
            return
        metadata = _scalar_metadata()
        with self._writer.as_default(step=step):
            for name, value in scalars.items():
                tf.summary.write(
                    name, tf.constant(value, tf.float32), metadata=metadata
                )
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def plot_history(history: list[dict[str, float]], path: str) -> None:
    """Saves losses (left) and accuracies/AUC (right) against step as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [row["step"] for row in history]
    names = sorted({name for row in history for name in row} - {"step"})
    for name in names:
        if name.endswith("_loss") or name == "loss":
            axis = loss_axis
        elif name.endswith(("_accuracy", "_auc")):
            axis = accuracy_axis
        else:
            continue
        axis.plot(steps, [row.get(name, float("nan")) for row in history], label=name)
    for axis, title in ((loss_axis, "loss"), (accuracy_axis, "accuracy / AUC")):
        axis.set_xlabel("step")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend()
    figure.tight_layout()
    save_figure(figure, path)


def save_figure(figure: Any, path: str | os.PathLike) -> None:
    """Writes a matplotlib ``figure`` as a PNG at ``path`` atomically; closes it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_write(path) as handle:
            figure.savefig(handle, format="png", dpi=100)
    finally:
        plt.close(figure)
