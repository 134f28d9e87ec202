"""Where a build's files live: the few file operations the manifest logic needs.

The manifest logic (``tfrecords_tools.manifest``) decides which shards a build
keeps, deletes or still has to write; it reaches the output directory only
through ``OutputStore``, so the local builder (``LocalStore``: a directory on
this machine) and the Beam pipeline (``tfrecords_tools.beam_files.BeamStore``:
any file system Beam knows) share it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import BinaryIO, Protocol

from kerasbert.atomic_files import TEMP_SUFFIX, write_json_atomically
from kerasbert.data.records_format import MANIFEST


class OutputStore(Protocol):
    """An output directory: shards by file name plus ``manifest.json``.

    ``str(store)`` names the directory (for messages).
    """

    def read_manifest(self) -> dict | None:
        """The manifest there, or ``None`` when there is none."""

    def write_manifest(self, manifest: dict) -> None:
        """Replaces the manifest atomically."""

    def size(self, name: str) -> int | None:
        """The size of file ``name`` in bytes, or ``None`` when it is missing."""

    def sha256(self, name: str) -> str:
        """The hex SHA-256 of file ``name``."""

    def delete(self, name: str) -> None:
        """Deletes file ``name`` if it exists."""

    def sweep_temporaries(self) -> None:
        """Deletes the temporaries a killed writer left (never a finished file)."""


def stream_sha256(handle: BinaryIO) -> str:
    """Hex SHA-256 of what is left in ``handle``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a local file."""
    with open(path, "rb") as handle:
        return stream_sha256(handle)


class LocalStore:
    """An output directory on this machine (created if missing)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def __str__(self) -> str:
        return str(self.directory)

    def read_manifest(self) -> dict | None:
        path = self.directory / MANIFEST
        return json.loads(path.read_text()) if path.is_file() else None

    def write_manifest(self, manifest: dict) -> None:
        write_json_atomically(self.directory / MANIFEST, manifest, sort_keys=True)

    def size(self, name: str) -> int | None:
        path = self.directory / name
        return path.stat().st_size if path.is_file() else None

    def sha256(self, name: str) -> str:
        return file_sha256(self.directory / name)

    def delete(self, name: str) -> None:
        (self.directory / name).unlink(missing_ok=True)

    def sweep_temporaries(self) -> None:
        for leftover in self.directory.glob(f".*{TEMP_SUFFIX}"):
            leftover.unlink()
