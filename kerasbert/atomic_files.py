"""Atomic writes: every file or directory written appears whole or not at all.

A reader (a resumed job, TF Serving polling a model directory, a training
loop reading a manifest) must never see a half-written file, and a killed
writer must never destroy the previous version. Everything here writes
beside the destination (same filesystem) and publishes with one rename.

Two shapes:

* ``atomic_write`` (and ``write_bytes_atomically``, ``write_text_atomically``,
  ``write_json_atomically``): one file through a hidden temporary
  ``.NAME.*.tmp`` beside it, flushed to disk, then ``os.replace``. A killed
  writer leaves only such a temporary (``TEMP_SUFFIX``), which a caller may
  sweep on its next run.
* ``staged_path`` / ``staged_directory`` (and ``save_keras_atomically``): for
  writers that need a path rather than a handle (``keras.Model.save``,
  safetensors, whole directories). An existing destination is swapped out
  only after the new one is complete; files and directories are never
  swapped for each other, and ``overwrite=False`` refuses to replace anything.

All of them give what they write the permissions a plain ``open``/``mkdir``
would (the umask's), not ``tempfile``'s owner-only 0600/0700.

Standard library only (a model's own ``save`` is called, Keras is not
imported), so data builders and servers can use it without TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

#: Suffix of the temporary files ``atomic_write`` leaves if its process is killed.
TEMP_SUFFIX = ".tmp"


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
    files), and what the project writes is meant to be shared like any file.
    """
    mask = _umask()
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    for path in paths:
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Yields a handle whose content replaces ``target`` only on a clean exit.

    Args:
        target: the file to write; its parent directories are created.
        mode: ``open`` mode, ``"wb"`` or ``"w"`` (text is UTF-8).

    If the body raises, ``target`` is untouched and the temporary is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
    )
    encoding = None if "b" in mode else "utf-8"
    try:
        with os.fdopen(descriptor, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _apply_umask(Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Replaces ``path`` with ``data`` (see ``atomic_write``)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Replaces ``path`` with ``text`` as UTF-8 (see ``atomic_write``)."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def json_document(payload: Any, sort_keys: bool = False) -> str:
    """``payload`` as the JSON files here hold it: indented, non-ASCII kept,
    a final newline."""
    text = json.dumps(payload, indent=2, sort_keys=sort_keys, ensure_ascii=False)
    return text + "\n"


def write_json_atomically(
    path: str | os.PathLike, payload: Any, sort_keys: bool = False
) -> None:
    """Replaces ``path`` with ``payload`` as a UTF-8 ``json_document``."""
    write_text_atomically(path, json_document(payload, sort_keys))


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
    ``destination`` changes. Everything written gets the umask's permissions.

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
