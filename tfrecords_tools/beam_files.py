"""Reading and writing a build's files through Beam's file systems.

``apache_beam.io.filesystems`` reaches local paths and, where their extras are
installed, ``gs://``, ``hdfs://``, ``s3://`` and others, so a Beam build reads
its inputs and writes its output wherever the runner's workers can reach.

* ``expand_inputs`` turns input paths and globs into files;
* ``open_input`` opens one for the shared corpus reader (uncompressed bytes);
* ``local_copy`` gives the tokenizer, which reads local files only, a copy of
  a remote vocabulary;
* ``atomic_create`` / ``write_atomically`` publish a file whole: a temporary
  beside it, then a rename (local paths use ``kerasbert.atomic_files``);
* ``BeamStore`` is the output directory for the shared manifest logic
  (``tfrecords_tools.output_store.OutputStore``), plus the per-shard entry
  files that let a killed pipeline resume (see ``tfrecords_tools.beam_pipeline``).

Imports ``apache_beam``: only the ``--runner beam`` code paths import this.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from kerasbert.atomic_files import TEMP_SUFFIX, atomic_write, json_document
from kerasbert.data.records_format import MANIFEST
from tfrecords_tools.output_store import stream_sha256

_GLOB_CHARS = frozenset("*?[")
ENTRY_SUFFIX = ".entry.json"


def is_local(path: str) -> bool:
    """Whether ``path`` is a path on this machine (no ``scheme://``)."""
    return FileSystems.get_scheme(os.fspath(path)) is None


def expand_inputs(patterns: list[str]) -> list[str]:
    """Input files in order: a plain path as given, a glob's matches sorted.

    Raises:
        FileNotFoundError: a plain path does not exist or a glob matches nothing.
    """
    paths: list[str] = []
    for pattern in map(os.fspath, patterns):
        if _GLOB_CHARS.isdisjoint(pattern):
            if not FileSystems.exists(pattern):
                raise FileNotFoundError(f"input file not found: {pattern}")
            paths.append(pattern)
            continue
        (result,) = FileSystems.match([pattern])
        matched = sorted(item.path for item in result.metadata_list)
        if not matched:
            raise FileNotFoundError(f"no input file matches {pattern}")
        paths += matched
    return paths


def open_input(path: str) -> BinaryIO:
    """Opens ``path`` for reading its raw bytes (never decompressed).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if not FileSystems.exists(path):
        raise FileNotFoundError(f"input file not found: {path}")
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def file_size(path: str) -> int:
    """Size of file ``path`` in bytes."""
    return FileSystems.get_filesystem(path).size(path)


def read_bytes(path: str) -> bytes:
    with open_input(path) as handle:
        return handle.read()


def local_copy(path: str, scratch: str) -> str:
    """``path`` itself when local, else a copy in directory ``scratch``.

    The copy keeps the file name: its suffix (``.txt`` or ``.model``) tells the
    tokenizer the kind of vocabulary.
    """
    if is_local(path):
        return path
    if not FileSystems.exists(path):
        raise FileNotFoundError(f"vocabulary file not found: {path}")
    target = os.path.join(scratch, FileSystems.split(path)[1])
    write_atomically(target, read_bytes(path))
    return target


def temporary_path(path: str) -> str:
    """A fresh hidden temporary beside ``path`` (swept as debris if abandoned)."""
    directory, name = FileSystems.split(path)
    return FileSystems.join(directory, f".{name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")


def publish(temporary: str, path: str) -> None:
    """Renames a finished ``temporary`` to ``path``, replacing what is there.

    POSIX and object stores replace in the rename; a file system whose rename
    refuses an existing destination gets it deleted first.
    """
    try:
        FileSystems.rename([temporary], [path])
    except OSError:
        if not FileSystems.exists(path):
            raise
        FileSystems.delete([path])
        FileSystems.rename([temporary], [path])


@contextlib.contextmanager
def atomic_create(path: str) -> Iterator[BinaryIO]:
    """Yields a handle whose bytes replace ``path`` only on a clean exit.

    Local paths go through ``kerasbert.atomic_files.atomic_write`` (fsync,
    umask permissions); others through a temporary beside ``path`` and a
    rename. If the body raises, ``path`` is untouched and the temporary gone.
    """
    if is_local(path):
        with atomic_write(path) as handle:
            yield handle
        return
    temporary = temporary_path(path)
    handle = FileSystems.create(
        temporary, compression_type=CompressionTypes.UNCOMPRESSED
    )
    try:
        try:
            yield handle
        finally:
            handle.close()
        publish(temporary, path)
    except BaseException:
        if FileSystems.exists(temporary):
            FileSystems.delete([temporary])
        raise


def write_atomically(path: str, data: bytes) -> None:
    """Replaces ``path`` with ``data``: a reader sees the old or the new file."""
    with atomic_create(path) as handle:
        handle.write(data)


def json_bytes(payload: object) -> bytes:
    """JSON as ``LocalStore`` writes it (``write_json_atomically``, sorted keys)."""
    return json_document(payload, sort_keys=True).encode("utf-8")


class BeamStore:
    """An output directory on any file system Beam knows (``OutputStore``).

    Besides the shards and the manifest it holds, while a pipeline runs, one
    hidden ``.NAME.entry.json`` per finished shard: the shard's manifest entry,
    written right after the shard. Workers cannot safely rewrite one shared
    manifest, so these record progress instead; a rerun merges them.
    """

    def __init__(self, directory: str):
        self.directory = os.fspath(directory)
        if is_local(self.directory):
            os.makedirs(self.directory, exist_ok=True)

    def __str__(self) -> str:
        return self.directory

    def path(self, name: str) -> str:
        return FileSystems.join(self.directory, name)

    def read_manifest(self) -> dict | None:
        path = self.path(MANIFEST)
        return json.loads(read_bytes(path)) if FileSystems.exists(path) else None

    def write_manifest(self, manifest: dict) -> None:
        write_atomically(self.path(MANIFEST), json_bytes(manifest))

    def size(self, name: str) -> int | None:
        path = self.path(name)
        return file_size(path) if self._exists(path) else None

    def sha256(self, name: str) -> str:
        with open_input(self.path(name)) as handle:
            return stream_sha256(handle)

    def delete(self, name: str) -> None:
        path = self.path(name)
        if FileSystems.exists(path):
            FileSystems.delete([path])

    def sweep_temporaries(self) -> None:
        self._delete_matching(f".*{TEMP_SUFFIX}")

    def write_entry(self, name: str, entry: dict) -> None:
        """Records shard ``name``'s manifest entry (after the shard is in place)."""
        write_atomically(self.path(f".{name}{ENTRY_SUFFIX}"), json_bytes(entry))

    def read_entries(self) -> dict[str, dict]:
        """Shard name -> entry, of every entry file."""
        entries = {}
        for path in self._matching(f".*{ENTRY_SUFFIX}"):
            name = FileSystems.split(path)[1][1 : -len(ENTRY_SUFFIX)]
            entries[name] = json.loads(read_bytes(path))
        return entries

    def delete_entries(self) -> None:
        self._delete_matching(f".*{ENTRY_SUFFIX}")

    def _exists(self, path: str) -> bool:
        if is_local(path):
            return os.path.isfile(path)
        return FileSystems.exists(path)

    def _matching(self, pattern: str) -> list[str]:
        (result,) = FileSystems.match([self.path(pattern)])
        top = self.path("")
        # Local listings are recursive; keep the directory's own files.
        return sorted(
            item.path
            for item in result.metadata_list
            if "/" not in item.path[len(top) :].lstrip("/")
        )

    def _delete_matching(self, pattern: str) -> None:
        paths = self._matching(pattern)
        if paths:
            FileSystems.delete(paths)
