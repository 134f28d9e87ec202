"""The files that travel with a converted checkpoint: JSON configs, tokenizer assets.

Writes go through ``kerasbert.atomic_files`` (``staged_path``/``staged_directory``).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from pathlib import Path
from typing import Any

from kerasbert.atomic_files import staged_path

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


def assets_to_copy(
    source: str | os.PathLike, destination: str | os.PathLike
) -> list[Path]:
    """The tokenizer files in/beside ``source`` that ``destination`` lacks.

    Files already in ``destination`` byte for byte (or the very same files,
    when ``destination`` is the source's own directory) are left out, so that
    writing beside them is not taken for replacing them.

    Args:
        source: a checkpoint directory, or a file whose directory is searched.
        destination: the directory they would be copied into.
    """
    source = Path(source)
    directory = source if source.is_dir() else source.parent
    found = [directory / name for name in ASSET_FILES if (directory / name).is_file()]
    return [
        path
        for path in found
        if not (Path(destination) / path.name).is_file()
        or not filecmp.cmp(path, Path(destination) / path.name, shallow=False)
    ]


def copy_assets(
    source: str | os.PathLike, destination: str | os.PathLike, overwrite: bool = True
) -> list[str]:
    """Copies ``assets_to_copy(source, destination)`` into ``destination``.

    Each file is copied through ``staged_path``, so it is atomic, honours the
    umask and, without ``overwrite``, refuses to replace a different file.

    Returns:
        The names of the files copied.
    """
    copied = []
    for path in assets_to_copy(source, destination):
        target = Path(destination) / path.name
        with staged_path(target, directory=False, overwrite=overwrite) as staged:
            shutil.copyfile(path, staged)
        copied.append(path.name)
    return copied
