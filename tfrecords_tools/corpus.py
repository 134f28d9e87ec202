"""Streaming corpus reading: contiguous document chunks and defensive line decoding.

Input follows the BERT convention (one sentence per line, a blank line between
documents) or, with ``one_document_per_line``, one document per line whose
sentences are split on ``. ! ?`` followed by whitespace.

A build is cut into chunks of whole documents of about ``chunk_bytes`` each. The
cut points depend only on the input bytes and ``chunk_bytes``, never on the
worker count, which keeps output deterministic; a worker only ever holds its own
chunk, which keeps memory flat however large the corpus is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

#: Opens an input file for binary reading (``open_local`` or, in a Beam
#: pipeline, one that reads through ``apache_beam.io.filesystems``).
Opener = Callable[[str], BinaryIO]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_OVERSIZE_FACTOR = 4  # a document longer than 4 chunks is cut at a line


@dataclass(frozen=True)
class Chunk:
    """A byte range ``[start, end)`` of one input file holding whole lines."""

    index: int
    path: str
    start: int
    end: int


@dataclass(frozen=True)
class InputFile:
    """Identity of an input file, recorded in the manifest."""

    path: str
    size: int
    sha256: str


@dataclass
class ReadStats:
    """What reading a chunk kept and skipped; every skip is counted, none silent."""

    lines: int = 0
    non_utf8_lines: int = 0
    long_lines: int = 0
    documents: int = 0
    empty_documents: int = 0

    def add(self, other: ReadStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Plan:
    """Chunks of every input file, in order, plus the files' identities."""

    chunks: list[Chunk] = field(default_factory=list)
    inputs: list[InputFile] = field(default_factory=list)
    split_documents: int = 0


def open_local(path: str) -> BinaryIO:
    """Opens a local input file for binary reading.

    Raises:
        FileNotFoundError: naming the missing input file.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    return open(path, "rb")


def plan_chunks(
    paths: list[str | Path],
    chunk_bytes: int,
    one_document_per_line: bool = False,
    open_file: Opener = open_local,
) -> Plan:
    """Scans the inputs once (constant memory) and cuts them into chunks.

    A chunk ends at the first document break after ``chunk_bytes`` bytes; a
    document running past ``4 * chunk_bytes`` is cut at a line boundary (counted
    in ``Plan.split_documents``) so that no chunk grows without bound. Chunks
    never span files, so each file can be planned on its own (``plan_file``,
    in parallel) and the plans joined in input order (``join_plans``).

    Raises:
        FileNotFoundError: an input file does not exist.
        ValueError: no inputs, or ``chunk_bytes`` is not positive.
    """
    check_plan_settings(paths, chunk_bytes)
    return join_plans(
        plan_file(str(path), chunk_bytes, one_document_per_line, open_file)
        for path in paths
    )


def check_plan_settings(paths: list, chunk_bytes: int) -> None:
    """Raises ``ValueError`` for no inputs or a ``chunk_bytes`` below 1."""
    if not paths:
        raise ValueError("no input files given")
    if chunk_bytes <= 0:
        raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes}")


def plan_file(
    path: str,
    chunk_bytes: int,
    one_document_per_line: bool = False,
    open_file: Opener = open_local,
) -> Plan:
    """The chunks of one input file, numbered from 0 (see ``plan_chunks``)."""
    plan = Plan()
    digest = hashlib.sha256()
    start = offset = 0
    with open_file(path) as handle:
        for line in iter(handle.readline, b""):
            digest.update(line)
            offset += len(line)
            size = offset - start
            at_break = one_document_per_line or not line.strip()
            oversize = size >= _OVERSIZE_FACTOR * chunk_bytes
            if (at_break and size >= chunk_bytes) or oversize:
                plan.split_documents += int(oversize and not at_break)
                plan.chunks.append(Chunk(len(plan.chunks), path, start, offset))
                start = offset
    if offset > start:
        plan.chunks.append(Chunk(len(plan.chunks), path, start, offset))
    plan.inputs.append(InputFile(path, offset, digest.hexdigest()))
    return plan


def join_plans(plans: Iterable[Plan]) -> Plan:
    """The plan of several inputs from theirs, in order; chunk indices run on."""
    joined = Plan()
    for plan in plans:
        first = len(joined.chunks)
        joined.chunks += [replace(c, index=first + c.index) for c in plan.chunks]
        joined.inputs += plan.inputs
        joined.split_documents += plan.split_documents
    return joined


def read_chunk(
    chunk: Chunk,
    max_line_bytes: int,
    one_document_per_line: bool = False,
    open_file: Opener = open_local,
) -> tuple[list[list[str]], ReadStats]:
    """Documents (lists of sentences) of a chunk, and what was skipped.

    Lines that are not valid UTF-8 or longer than ``max_line_bytes`` are skipped
    and counted; a document left with no sentences counts as empty.
    """
    with open_file(chunk.path) as handle:
        handle.seek(chunk.start)
        data = handle.read(chunk.end - chunk.start)
    stats = ReadStats()
    documents: list[list[str]] = []
    current: list[str] = []
    had_lines = False

    def close_document() -> None:
        nonlocal current, had_lines
        if current:
            documents.append(current)
        elif had_lines:
            stats.empty_documents += 1
        current, had_lines = [], False

    for raw in data.splitlines():
        stats.lines += 1
        stripped = raw.strip()
        if not stripped:
            close_document()
            continue
        had_lines = True
        if len(stripped) > max_line_bytes:
            stats.long_lines += 1
        else:
            try:
                text = stripped.decode("utf-8")
            except UnicodeDecodeError:
                stats.non_utf8_lines += 1
            else:
                if one_document_per_line:
                    current.extend(s for s in _SENTENCE_END.split(text) if s)
                else:
                    current.append(text)
        if one_document_per_line:
            close_document()
    close_document()
    stats.documents = len(documents)
    return documents, stats
