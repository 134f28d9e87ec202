"""Reading and writing an ``Encoder`` in every supported on-disk format.

Formats:
    ``kerasbert``: a ``.keras`` file of the ``Encoder`` (or of a task model
        holding one, whose encoder is taken).
    ``hf``: a Hugging Face directory (``config.json`` + ``model.safetensors``).
    ``google``: a TF1 checkpoint directory (or prefix) + its JSON config.
    ``keras-hub``: a ``.keras`` file of a keras-hub backbone.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from kerasbert.checkpoints.files import save_keras_atomically
from kerasbert.checkpoints.google import load_google, save_google
from kerasbert.checkpoints.huggingface import load_hf, save_hf
from kerasbert.checkpoints.keras_hub import from_keras_hub, to_keras_hub
from kerasbert.models.encoder import Encoder


def load_keras_file(path: str | os.PathLike) -> keras.Model:
    """The model in a ``.keras`` file, with the path named in every error.

    A file that is not a zip archive is refused here: Keras reports it as
    "File not found", which misleads when the file is there.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No .keras file {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a valid .keras file (not a zip archive)")
    import keras_hub  # noqa: F401  (registers keras-hub classes for loading)

    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError) as error:
        raise ValueError(f"Cannot load {path}: {error}") from error


def _read_kerasbert(path: str | os.PathLike, **options: Any) -> Encoder:
    model = load_keras_file(path)
    encoder = model if isinstance(model, Encoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, Encoder):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a kerasbert Encoder "
            "or a task model with one."
        )
    if encoder is not model:
        warnings.warn(
            f"{path} holds a {type(model).__name__}: only its encoder is "
            "converted, its heads are dropped (--mlm-head keeps a "
            "MaskedLanguageModel's heads for --to hf / kerasbert).",
            stacklevel=2,
        )
    return encoder


def _read_keras_hub(path: str | os.PathLike, **options: Any) -> Encoder:
    return from_keras_hub(load_keras_file(path))


def _write_kerasbert(encoder: Encoder, path: Path, architecture: str | None) -> None:
    if architecture is not None:
        raise ValueError("The kerasbert format takes no architecture.")
    save_keras_atomically(encoder, path)


def _write_keras_hub(encoder: Encoder, path: Path, architecture: str | None) -> None:
    save_keras_atomically(to_keras_hub(encoder, architecture), path)


_READERS: dict[str, Callable[..., Encoder]] = {
    "kerasbert": _read_kerasbert,
    "hf": lambda path, **options: load_hf(path),
    "google": lambda path, **options: load_google(
        path,
        config_path=options.get("config_path"),
        architecture=options.get("architecture"),
    ),
    "keras-hub": _read_keras_hub,
}
_WRITERS: dict[str, Callable[[Encoder, Path, str | None], Any]] = {
    "kerasbert": _write_kerasbert,
    "hf": save_hf,
    "google": save_google,
    "keras-hub": _write_keras_hub,
}
FORMATS = tuple(_READERS)


def _check_format(name: str) -> None:
    if name not in FORMATS:
        raise ValueError(f"Unknown format {name!r}; known: {list(FORMATS)}")


def read_encoder(
    format_name: str,
    path: str | os.PathLike,
    config_path: str | os.PathLike | None = None,
    architecture: str | None = None,
) -> Encoder:
    """Reads an ``Encoder`` stored in ``format_name`` at ``path``.

    ``config_path`` and ``architecture`` apply to the ``google`` format only
    (see ``load_google``).
    """
    _check_format(format_name)
    return _READERS[format_name](
        path, config_path=config_path, architecture=architecture
    )


def write_encoder(
    format_name: str,
    encoder: Encoder,
    path: str | os.PathLike,
    architecture: str | None = None,
) -> Path:
    """Writes ``encoder`` in ``format_name`` at ``path``, replacing it whole.

    The file or directory is written beside ``path`` and then swapped in (see
    ``kerasbert.checkpoints.files.staged_path``), never merged with what was
    there.

    ``architecture`` picks the target model family for ``hf``, ``google`` and
    ``keras-hub`` (inferred from the encoder when ``None``).
    """
    _check_format(format_name)
    _WRITERS[format_name](encoder, Path(path), architecture)
    return Path(path)
