"""``kerasbert.load(path)``: one call for a model saved anywhere kerasbert reads.

What comes back depends on what is stored:

* a kerasbert ``.keras`` file: the model as saved (an ``Encoder``, a task
  model, a pretrainer, a fine-tuned ``TextTaskModel``, ...);
* a Hugging Face directory, a Google TF1 checkpoint or a keras-hub ``.keras``
  backbone: an ``Encoder`` with the checkpoint's weights (see
  ``kerasbert.checkpoints.formats`` for the formats and their detection).

Unlike keras-hub's ``from_preset``, ``Encoder.from_preset(name)`` builds an
architecture with random weights; ``load`` is how pretrained weights come in.
"""

from __future__ import annotations

import importlib
import os

import keras

from kerasbert.checkpoints.formats import detect_format, load_keras_file, read_encoder
from kerasbert.models.encoder import Encoder
from kerasbert.models.task import EncoderTask

#: Modules whose import registers the Keras classes a kerasbert ``.keras`` holds.
_SERIALIZABLE_MODULES = (
    "kerasbert.models",
    "kerasbert.pretraining",
    "kerasbert.contrastive",
    "kerasbert.distillation",
    "kerasbert.finetuning.text_model",
    "kerasbert.training.layerwise",
    "kerasbert.training.optimization",
)


def load(
    path: str | os.PathLike,
    format_name: str = "auto",
    config_path: str | os.PathLike | None = None,
    architecture: str | None = None,
) -> keras.Model:
    """The model stored at ``path``.

    Args:
        path: a ``.keras`` file, a Hugging Face directory (``config.json``), a
            Google TF1 checkpoint (directory or prefix) or a keras-hub
            ``.keras`` backbone.
        format_name: ``"auto"`` (detected from what is on disk) or one of
            ``kerasbert.checkpoints.FORMATS``.
        config_path, architecture: for Google TF1 checkpoints only (see
            ``kerasbert.checkpoints.load_google``).

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: not a format kerasbert reads, or a damaged file.
    """
    if format_name == "auto":
        format_name = detect_format(path)
    if format_name == "kerasbert":
        for module in _SERIALIZABLE_MODULES:
            importlib.import_module(module)
        return load_keras_file(path)
    return read_encoder(format_name, path, config_path, architecture)


def as_encoder(model: keras.Model) -> Encoder:
    """The ``Encoder`` itself or the one inside a task model."""
    if isinstance(model, Encoder):
        return model
    if isinstance(model, EncoderTask):
        return model.encoder
    raise TypeError(f"Expected a kerasbert Encoder or task model, got {type(model)}.")
