"""Atomic writing of converted checkpoints and the files that travel with them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Tokenizer files copied next to a converted model when present beside the source.
ASSET_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
    "merges.txt",
)


@contextlib.contextmanager
def staged_directory(destination: str | os.PathLike) -> Iterator[Path]:
    """Yields a scratch directory whose files are moved into ``destination``.

    The scratch directory sits beside ``destination`` (same filesystem), and
    each file is moved with ``os.replace``, so ``destination`` never holds a
    half-written file; if the body raises, nothing is moved and the scratch
    directory is removed.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(
        tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent)
    )
    try:
        yield scratch
        destination.mkdir(exist_ok=True)
        for item in scratch.iterdir():
            os.replace(item, destination / item.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Writes ``data`` as indented JSON (call inside ``staged_directory``)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Reads a JSON object, with the file named in any error."""
    if not path.is_file():
        raise FileNotFoundError(f"No {path.name} in {path.parent}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid UTF-8 JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def copy_assets(source: str | os.PathLike, destination: str | os.PathLike) -> list[str]:
    """Copies the tokenizer files found in/beside ``source`` into ``destination``.

    Args:
        source: a checkpoint directory, or a file whose directory is searched.
        destination: an existing directory.

    Returns:
        The names of the files copied (each copied atomically).
    """
    source = Path(source)
    directory = source if source.is_dir() else source.parent
    destination = Path(destination)
    copied = []
    for name in ASSET_FILES:
        if (directory / name).is_file():
            with tempfile.NamedTemporaryFile(
                dir=destination, prefix=f".{name}.", delete=False
            ) as handle:
                scratch = handle.name
            try:
                shutil.copyfile(directory / name, scratch)
                os.replace(scratch, destination / name)
            except BaseException:
                os.unlink(scratch)
                raise
            copied.append(name)
    return copied


def save_keras_atomically(model: Any, path: str | os.PathLike) -> Path:
    """``model.save(path)`` through a scratch ``.keras`` file and ``os.replace``.

    Raises:
        ValueError: ``path`` does not end in ``.keras``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"A Keras model file must end in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.stem}.", suffix=".keras", delete=False
    ) as handle:
        scratch = handle.name
    try:
        model.save(scratch)
        os.replace(scratch, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
        raise
    return path
