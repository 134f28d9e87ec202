"""Atomic writing of converted checkpoints and the files that travel with them."""

from __future__ import annotations

import contextlib
import filecmp
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


def _exists(path: Path) -> bool:
    """Whether anything (a dangling symlink included) is at ``path``."""
    return os.path.lexists(path)


def _check_parent(destination: Path) -> None:
    """Raises ``NotADirectoryError`` when a file stands where a parent should be."""
    for ancestor in destination.parents:
        if _exists(ancestor):
            if not ancestor.is_dir():
                raise NotADirectoryError(
                    f"{ancestor} is not a directory, so {destination} cannot be written"
                )
            return


def check_destination(destination: Path, directory: bool, overwrite: bool) -> None:
    """Raises unless a ``directory`` (or file) may be written at ``destination``.

    Checked before anything is written, so that a refusal costs nothing: a
    file where a parent directory should be, something of the other kind at
    ``destination`` (never replaced, even with ``overwrite``: a file is not
    swapped for a directory or the other way round), or, without
    ``overwrite``, anything at all there.

    Raises:
        NotADirectoryError, IsADirectoryError: the kinds do not match.
        FileExistsError: ``destination`` exists and ``overwrite`` is false.
    """
    _check_parent(destination)
    if not _exists(destination):
        return
    if directory and not destination.is_dir():
        raise NotADirectoryError(f"{destination} exists and is not a directory")
    if not directory and destination.is_dir():
        raise IsADirectoryError(f"{destination} is a directory, not a file")
    if not overwrite:
        raise FileExistsError(f"{destination} already exists")


def _scratch_directory(destination: Path) -> Path:
    """A new, empty, hidden directory beside ``destination`` (same filesystem)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(
        tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent)
    )


def _umask() -> int:
    """The process umask, read by setting it and restoring it at once.

    The value set meanwhile is the strictest useful one, so that a file made
    by another thread in between is never more open than intended.
    """
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _apply_umask(root: Path) -> None:
    """Gives ``root`` and all under it the modes a plain ``open``/``mkdir`` would.

    Some writers ignore the umask (safetensors and ``tempfile`` make 0600
    files), and a converted checkpoint is meant to be shared like any file.
    """
    mask = _umask()
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    for path in paths:
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _swap_in(staged: Path, destination: Path, aside: Path) -> None:
    """Renames ``staged`` to ``destination``; an existing one goes to ``aside``.

    If the second rename fails the old ``destination`` is put back, so
    ``destination`` always holds either the old or the new version whole.
    """
    if not _exists(destination):
        os.rename(staged, destination)
        return
    os.rename(destination, aside)
    try:
        os.rename(staged, destination)
    except BaseException:
        os.rename(aside, destination)
        raise


@contextlib.contextmanager
def staged_path(
    destination: str | os.PathLike, directory: bool, overwrite: bool = True
) -> Iterator[Path]:
    """Yields a free path to write; on success it replaces ``destination`` whole.

    The path lies in a scratch directory beside ``destination``. When the
    body returns, an existing ``destination`` is renamed aside, the new one
    renamed in and the old one deleted: ``destination`` is never half-written
    and never a mix of old and new files. If the body raises, nothing at
    ``destination`` changes. Everything written gets the umask's permissions
    (see ``_apply_umask``).

    Args:
        destination: where the file or directory ends up.
        directory: whether the body writes a directory (else a file).
        overwrite: replace an existing ``destination`` (else refuse it, both
            before the body runs and again just before the swap).

    Raises:
        FileExistsError, NotADirectoryError, IsADirectoryError: see
            ``check_destination``.
    """
    destination = Path(destination)
    check_destination(destination, directory, overwrite)
    scratch = _scratch_directory(destination)
    try:
        staged = scratch / destination.name
        yield staged
        _apply_umask(staged)
        check_destination(destination, directory, overwrite)
        _swap_in(staged, destination, scratch / f"{destination.name}.old")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(
    destination: str | os.PathLike, overwrite: bool = True
) -> Iterator[Path]:
    """Yields an empty directory that then replaces ``destination`` whole.

    See ``staged_path``; by default an existing ``destination`` is replaced
    (as ``keras.Model.save`` does), never merged with.
    """
    with staged_path(destination, directory=True, overwrite=overwrite) as staged:
        staged.mkdir()
        yield staged


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


def save_keras_atomically(
    model: Any, path: str | os.PathLike, overwrite: bool = True
) -> Path:
    """``model.save(path)`` through ``staged_path`` (atomic, umask honoured).

    Raises:
        ValueError: ``path`` does not end in ``.keras``.
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"A Keras model file must end in .keras, got {path}")
    with staged_path(path, directory=False, overwrite=overwrite) as staged:
        model.save(staged)
    return path
