"""Reading and writing an ``Encoder`` in every supported on-disk format.

Formats:
    ``kerasbert``: a ``.keras`` file of the ``Encoder`` (or of a task model
        holding one, whose encoder is taken).
    ``hf``: a Hugging Face directory (``config.json`` + ``model.safetensors``).
    ``google``: a TF1 checkpoint directory (or prefix) + its JSON config.
    ``keras-hub``: a ``.keras`` file of a keras-hub backbone.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from kerasbert.atomic_files import save_keras_atomically
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
    import keras_hub  # noqa: F401  (registers keras-hub classes for loading)

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


def detect_format(path: str | os.PathLike) -> str:
    """The format of the checkpoint at ``path``, from what is on disk.

    ``hf``: a directory with ``config.json``; ``google``: a TF1 checkpoint
    (a directory holding ``*.index``, or a prefix with ``PREFIX.index``);
    ``keras-hub`` / ``kerasbert``: a ``.keras`` archive whose top-level
    object is a keras-hub class / anything else.

    Raises:
        FileNotFoundError: nothing there; ValueError: none of these.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return "hf"
        if any(path.glob("*.index")):
            return "google"
    elif Path(f"{path}.index").is_file():
        return "google"
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "config.json" in archive.namelist():
                config = json.loads(archive.read("config.json"))
                module = str(config.get("module", ""))
                return "keras-hub" if module.startswith("keras_hub") else "kerasbert"
    if not path.exists() and not Path(f"{path}.index").exists():
        raise FileNotFoundError(f"No checkpoint at {path}")
    raise ValueError(
        f"Cannot tell the format of {path}: expected a Hugging Face directory "
        "(config.json), a TF1 checkpoint (*.index) or a .keras file."
    )


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

    ``format_name="auto"`` detects it (``detect_format``).

    ``config_path`` and ``architecture`` apply to the ``google`` format only
    (see ``load_google``).
    """
    if format_name == "auto":
        format_name = detect_format(path)
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
    ``kerasbert.atomic_files.staged_path``), never merged with what was
    there.

    ``architecture`` picks the target model family for ``hf``, ``google`` and
    ``keras-hub`` (inferred from the encoder when ``None``).
    """
    _check_format(format_name)
    _WRITERS[format_name](encoder, Path(path), architecture)
    return Path(path)
