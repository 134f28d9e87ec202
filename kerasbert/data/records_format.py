"""The pretraining records format, shared by the writer and the readers.

``tfrecords-tools build`` writes it and ``kerasbert.data`` reads it; both take
every fact about it from here, so they cannot drift. NumPy only, without
TensorFlow: importing TensorFlow costs ~650 MB of resident memory per process,
more than the whole budget of a lean builder worker.

A build directory holds TFRecord shards and ``manifest.json`` (``MANIFEST``),
whose fields readers use are:

* ``format``: ``FORMAT``, the version of this layout;
* ``features``: feature name -> ``[dtype name, fixed length]``
  (``feature_lengths`` of the build's task);
* ``vocab_size``: the size of the vocabulary the ids come from;
* ``shards``: shard file name -> its entry (examples, bytes, sha256, ...);
* ``complete``: true once every shard is written (a killed build is false).

A TFRecord file is a sequence of frames ``uint64 length | uint32
masked_crc32c(length) | data | uint32 masked_crc32c(data)``, all
little-endian; the CRCs are computed for a whole batch of records at once
(CRC32C runs one byte column at a time across all records).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MANIFEST = "manifest.json"
FORMAT = "kerasbert-pretraining-tfrecords/1"

#: Pretraining tasks, each with its own feature layout: BERT's masked LM +
#: next sentence, ALBERT's masked LM + sentence order, RoBERTa's masked LM,
#: ELECTRA's replaced-token detection (inputs only unless premasked) and
#: SpanBERT's span masking.
TASKS = ("mlm-nsp", "mlm-sop", "mlm", "rtd", "span")
#: The tasks whose examples are two segments with a sentence label.
PAIR_TASKS = ("mlm-nsp", "mlm-sop")
#: The shortest sequence an example may have.
MIN_SEQ_LEN = 8


def writes_masks(task: str, premask: bool = False) -> bool:
    """Whether records of ``task`` store ``masked_lm_*`` features."""
    return task != "rtd" or premask


def feature_lengths(
    task: str = "mlm-nsp",
    seq_len: int = 128,
    max_predictions: int = 20,
    premask: bool = False,
) -> dict[str, tuple[str, int]]:
    """Feature name -> (``"int64"`` | ``"float32"``, fixed length) of ``task``.

    Args:
        task: one of ``TASKS``.
        seq_len: tokens per example.
        max_predictions: fixed length of the ``masked_lm_*`` features.
        premask: ``rtd`` only: the records also store ``masked_lm_*``.

    Raises:
        ValueError: an unknown task, ``seq_len`` below ``MIN_SEQ_LEN``,
            ``max_predictions`` below 1, or ``premask`` for a task other
            than ``rtd``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if seq_len < MIN_SEQ_LEN:
        raise ValueError(f"seq_len must be >= {MIN_SEQ_LEN}, got {seq_len}")
    if max_predictions < 1:
        raise ValueError("max_predictions must be >= 1")
    if premask and task != "rtd":
        raise ValueError("premask only applies to the rtd task")
    features = {
        "input_ids": ("int64", seq_len),
        "input_mask": ("int64", seq_len),
        "segment_ids": ("int64", seq_len),
    }
    if writes_masks(task, premask):
        features["masked_lm_positions"] = ("int64", max_predictions)
        features["masked_lm_ids"] = ("int64", max_predictions)
        features["masked_lm_weights"] = ("float32", max_predictions)
    if task in PAIR_TASKS:
        features["next_sentence_labels"] = ("int64", 1)
    if task == "mlm-sop":
        features["token_boundary"] = ("int64", seq_len)
    return features


@dataclass(frozen=True)
class RecordsBuild:
    """What a reader needs of a finished build, from one read of its manifest.

    Attributes:
        files: shard paths, sorted by name.
        lengths: feature name -> (dtype name, fixed length).
        vocabulary_size: the size of the vocabulary the ids come from.
    """

    files: list[str]
    lengths: dict[str, tuple[str, int]]
    vocabulary_size: int


def read_build(directory: str | os.PathLike) -> RecordsBuild:
    """The shards, feature lengths and vocabulary size of a finished build.

    Raises:
        FileNotFoundError: no ``manifest.json`` in ``directory``.
        ValueError: the build is incomplete (still running or killed).
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {directory}: not a build output")
    manifest = json.loads(path.read_text())
    if not manifest.get("complete"):
        raise ValueError(f"the build in {directory} is incomplete; rerun it to finish")
    return RecordsBuild(
        files=[str(directory / name) for name in sorted(manifest["shards"])],
        lengths={name: tuple(value) for name, value in manifest["features"].items()},
        vocabulary_size=manifest["vocab_size"],
    )


_CRC32C_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _crc32c_table() -> np.ndarray:
    """The 256-entry lookup table of the reflected Castagnoli polynomial."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ _CRC32C_POLY, table >> 1)
    return table.astype(np.uint32)


_TABLE = _crc32c_table()


def crc32c_batch(records: list[bytes]) -> np.ndarray:
    """CRC32C of each byte string, vectorised across records.

    Args:
        records: ``N`` byte strings of any lengths.

    Returns:
        uint32 array ``[N]``.
    """
    lengths = np.fromiter((len(r) for r in records), dtype=np.int64, count=len(records))
    width = int(lengths.max()) if len(records) else 0
    # Column-major padded bytes: row j holds byte j of every record.
    padded = np.zeros((width, len(records)), dtype=np.uint8)
    flat = np.frombuffer(b"".join(records), dtype=np.uint8)
    row = np.arange(width)[:, None] < lengths[None, :]
    padded.T[row.T] = flat
    crc = np.full(len(records), 0xFFFFFFFF, dtype=np.uint32)
    full = int(lengths.min()) if len(records) else 0
    for j in range(full):  # every record still active: no masking needed
        crc = _TABLE[(crc ^ padded[j]) & 0xFF] ^ (crc >> 8)
    for j in range(full, width):
        updated = _TABLE[(crc ^ padded[j]) & 0xFF] ^ (crc >> 8)
        crc = np.where(row[j], updated, crc)
    return crc ^ np.uint32(0xFFFFFFFF)


def masked_crc(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant."""
    crc = crc.astype(np.uint64)
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    return ((rotated + _MASK_DELTA) & 0xFFFFFFFF).astype(np.uint32)


def frame_records(payloads: list[bytes]) -> bytes:
    """Concatenated TFRecord frames of ``payloads`` (each a serialized message)."""
    if not payloads:
        return b""
    headers = [struct.pack("<Q", len(p)) for p in payloads]
    header_crc = masked_crc(crc32c_batch(headers))
    data_crc = masked_crc(crc32c_batch(payloads))
    parts = []
    for header, hcrc, payload, dcrc in zip(
        headers, header_crc.tolist(), payloads, data_crc.tolist(), strict=True
    ):
        parts += [header, struct.pack("<I", hcrc), payload, struct.pack("<I", dcrc)]
    return b"".join(parts)


def iter_records(path: str | Path, batch: int = 1024) -> Iterator[bytes]:
    """Yields the payloads of a TFRecord file, verifying every CRC.

    CRCs are checked ``batch`` records at a time (vectorised), so verifying a
    file costs about as much as reading it.

    Raises:
        ValueError: naming the file, record index and byte offset of the first
            truncated or corrupt record.
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        index = 0
        while True:
            headers, header_crcs, payloads, data_crcs, offsets = [], [], [], [], []
            while len(payloads) < batch:
                offset = handle.tell()
                header = handle.read(12)
                if not header:
                    break
                length = struct.unpack("<Q", header[:8])[0] if len(header) == 12 else 0
                # Bound the read by the file size: a corrupt length never
                # allocates more than the file holds.
                if len(header) < 12 or offset + 16 + length > size:
                    raise ValueError(
                        f"{path}: truncated or corrupt record "
                        f"{index + len(payloads)} at byte {offset}"
                    )
                body = handle.read(length + 4)
                headers.append(header[:8])
                header_crcs.append(struct.unpack("<I", header[8:])[0])
                payloads.append(body[:length])
                data_crcs.append(struct.unpack("<I", body[length:])[0])
                offsets.append(offset)
            if not payloads:
                return
            good = (masked_crc(crc32c_batch(headers)) == header_crcs) & (
                masked_crc(crc32c_batch(payloads)) == data_crcs
            )
            if not good.all():
                bad = int(np.argmin(good))
                raise ValueError(
                    f"{path}: corrupt record {index + bad} at byte {offsets[bad]} "
                    "(CRC mismatch)"
                )
            yield from payloads
            index += len(payloads)
