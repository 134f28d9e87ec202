"""``tf.train.Example`` encoding in NumPy, without TensorFlow.

Why: importing TensorFlow costs ~650 MB of resident memory per process, more than
the whole budget of a lean builder worker. The wire format is small and stable,
so the builder writes it directly: ``Example.features (1) -> Features.feature
(1, map entry key=1 value=2) -> Feature.float_list (2) | Feature.int64_list (3)
-> packed values (1)``. It is computed for a whole batch of examples at once,
so the per-example Python cost is a few byte-string joins. The TFRecord
framing around the messages is the records format's
(``kerasbert.data.records_format``). ``tf.io.parse_example`` reads the output;
the tests check that.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


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
