"""Loading the models the distill / mirror / evaluate-sts commands take."""

from __future__ import annotations

import os

import keras

from kerasbert.models.encoder import Encoder
from kerasbert.models.task import EncoderTask


def load_model(path: str | os.PathLike) -> keras.Model:
    """A ``.keras`` file, or a Hugging Face BERT directory (``config.json``).

    Hugging Face directories go through ``kerasbert.checkpoints.load_hf_bert``
    and give an ``Encoder``.

    Raises:
        FileNotFoundError: when ``path`` is neither.
    """
    path = os.fspath(path)
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json")):
        from kerasbert.checkpoints import load_hf_bert

        return load_hf_bert(path)
    if os.path.isfile(path) and path.endswith(".keras"):
        return keras.saving.load_model(path)
    raise FileNotFoundError(
        f"{path!r} is neither a .keras file nor a Hugging Face checkpoint "
        "directory with config.json."
    )


def as_encoder(model: keras.Model) -> Encoder:
    """The ``Encoder`` itself or the one inside a task model."""
    if isinstance(model, Encoder):
        return model
    if isinstance(model, EncoderTask):
        return model.encoder
    raise TypeError(f"Expected a kerasbert Encoder or task model, got {type(model)}.")


def default_vocabulary(model_path: str | os.PathLike, vocabulary: str | None) -> str:
    """``vocabulary``, or the ``vocab.txt`` next to / inside ``model_path``.

    Raises:
        FileNotFoundError: when no vocabulary was given or found.
    """
    if vocabulary is not None:
        return vocabulary
    model_path = os.fspath(model_path)
    directory = model_path if os.path.isdir(model_path) else os.path.dirname(model_path)
    candidate = os.path.join(directory, "vocab.txt")
    if os.path.exists(candidate):
        return candidate
    raise FileNotFoundError(
        f"No --vocab given and no vocab.txt next to {model_path!r}."
    )
