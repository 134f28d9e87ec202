"""TFRecord framing and ``tf.train.Example`` encoding in NumPy, without TensorFlow.

Why: importing TensorFlow costs ~650 MB of resident memory per process, more than
the whole budget of a lean builder worker. The wire formats are small and stable,
so the builder writes them directly:

* TFRecord: ``uint64 length | uint32 masked_crc32c(length) | data |
  uint32 masked_crc32c(data)``, all little-endian.
* ``tf.train.Example``: ``Example.features (1) -> Features.feature (1, map entry
  key=1 value=2) -> Feature.float_list (2) | Feature.int64_list (3) -> packed
  values (1)``.

Both are computed for a whole batch of examples at once (CRC32C runs one byte
column at a time across all records), so the per-example Python cost is a few
byte-string joins. ``tf.data.TFRecordDataset`` and ``tf.io.parse_example`` read
the output; the tests check that.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

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


def _varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _packed_varints(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Varint encodings of each row of a non-negative int matrix.

    Args:
        values: int array ``[N, L]``.

    Returns:
        ``(flat, offsets)``: all rows' encodings concatenated, and int64
        ``[N + 1]`` byte offsets of each row inside ``flat``.
    """
    if values.size and (values.min() < 0 or values.max() >= 1 << 28):
        raise ValueError("int64 features must lie in [0, 2**28)")
    v = values.astype(np.uint32)
    width = max(1, (int(v.max()).bit_length() + 6) // 7) if values.size else 1
    nbytes = np.ones(v.shape, dtype=np.uint32)
    for i in range(1, width):
        nbytes += v >= (1 << (7 * i))
    encoded = np.empty(v.shape + (width,), dtype=np.uint8)
    for i in range(width):
        continues = (nbytes > i + 1).astype(np.uint32) << 7
        encoded[..., i] = ((v >> (7 * i)) & 0x7F) | continues
    valid = np.arange(width, dtype=np.uint32) < nbytes[..., None]
    flat = encoded[valid].tobytes()
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(nbytes.sum(-1), out=offsets[1:])
    return flat, offsets


def _field(tag: int, body: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return bytes([tag]) + _varint(len(body)) + body


def encode_examples(features: Mapping[str, np.ndarray]) -> list[bytes]:
    """Serialized ``tf.train.Example`` messages, one per row.

    Args:
        features: name -> array ``[N, ...]``. Integer arrays become
            ``int64_list`` features, floating arrays ``float_list``; trailing
            dimensions are flattened, so every row has a fixed length.

    Returns:
        ``N`` serialized messages, identical in content to what
        ``tf.train.Example(...).SerializeToString()`` parses to.
    """
    names = sorted(features)
    count = len(next(iter(features.values())))
    columns = []  # per feature: (prefix cache, flat bytes, row offsets)
    for name in names:
        array = np.asarray(features[name]).reshape(count, -1)
        if np.issubdtype(array.dtype, np.floating):
            kind = 0x12
            flat = array.astype("<f4").tobytes()
            offsets = np.arange(count + 1, dtype=np.int64) * (array.shape[1] * 4)
        else:
            kind = 0x1A
            flat, offsets = _packed_varints(array)
        columns.append((_EntryPrefixes(name, kind), flat, offsets.tolist()))
    messages = []
    for row in range(count):
        parts = []
        for prefixes, flat, offs in columns:
            start, end = offs[row], offs[row + 1]
            parts += [prefixes[end - start], flat[start:end]]
        body = b"".join(parts)
        messages.append(b"\x0a" + _varint(len(body)) + body)
    return messages


class _EntryPrefixes(dict):
    """Bytes that precede a feature's packed values, keyed by their byte length.

    A map entry is ``entry(key, Feature(list(packed)))``; every wrapper's length
    depends only on the packed length, which takes few distinct values, so the
    prefixes are built once per length.
    """

    def __init__(self, name: str, kind: int):
        super().__init__()
        self._key = _field(0x0A, name.encode())
        self._kind = kind

    def __missing__(self, length: int) -> bytes:
        packed_header = b"\x0a" + _varint(length)
        typed = bytes([self._kind]) + _varint(len(packed_header) + length)
        inner = len(typed) + len(packed_header) + length
        value = b"\x12" + _varint(inner)
        entry_length = len(self._key) + len(value) + inner
        prefix = b"\x0a" + _varint(entry_length) + self._key + value + typed
        prefix += packed_header
        self[length] = prefix
        return prefix
