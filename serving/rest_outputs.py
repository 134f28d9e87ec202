"""Outputs -> the JSON text of TF Serving's REST answers (json_tensor.cc
MakeJsonFromTensors).

Owns the answer bodies: ``predict_json`` (row or columnar format),
``classify_json``, ``regress_json``, and ``proto_json`` for the status and
metadata protos. Tensors are written as text directly, not through
``json.dumps``, so floats come out as TF Serving writes them
(``decimal_texts``: float32 0.1 is ``0.1``; NaN and infinities are the
tokens ``NaN``, ``Infinity``, ``-Infinity``).
"""

from __future__ import annotations

import base64
import json
import math

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import Message

from serving.batching import Arrays
from serving.errors import invalid_argument
from serving.inference import Classes

_FLOAT_DIGITS = {np.dtype(np.float32): 9, np.dtype(np.float64): 17}  # max_digits10
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
# The integer dtypes TF Serving writes (it has no case for uint16).
_OUTPUT_INTEGERS = {np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64)} | {
    np.dtype(t) for t in (np.uint8, np.uint32, np.uint64)
}


def _with_point(text: str) -> str:
    """Adds the ``.0`` TF Serving gives whole numbers not in e-notation."""
    return text if "." in text or "e" in text else text + ".0"


def decimal_texts(values: np.ndarray) -> list[str]:
    """Float values as TF Serving writes them (WriteDecimal).

    Six significant digits (``%g``) when they read back as the same value of
    the dtype, else ``max_digits10``; whole numbers get ``.0``; NaN and
    infinities are the tokens ``NaN``, ``Infinity``, ``-Infinity``.
    So float32 0.1 is ``0.1``, not ``0.10000000149011612``.
    """
    flat = values.reshape(-1)
    numbers = flat.tolist()
    texts = [f"{v:g}" for v in numbers]
    finite = np.isfinite(flat)
    inexact = finite & (np.array(texts, dtype=flat.dtype) != flat)
    digits = _FLOAT_DIGITS[flat.dtype]
    for index in np.flatnonzero(inexact).tolist():
        texts[index] = f"{numbers[index]:.{digits}g}"
    return [_NONFINITE.get(text) or _with_point(text) for text in texts]


def _string_text(value: bytes | str, as_bytes: bool) -> str:
    """A string element: a JSON string, or ``{"b64": ...}`` for ``_bytes``
    outputs and for bytes that are not UTF-8 (which JSON cannot hold)."""
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not as_bytes:
        try:
            return json.dumps(raw.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    return json.dumps({"b64": base64.b64encode(raw).decode("ascii")})


def _leaf_texts(array: np.ndarray, as_bytes: bool) -> list[str]:
    """JSON text of each element of ``array``, in C order."""
    if array.dtype in _FLOAT_DIGITS:
        return decimal_texts(array)
    flat = array.reshape(-1).tolist()
    if array.dtype == np.bool_:
        return ["true" if value else "false" for value in flat]
    if array.dtype in _OUTPUT_INTEGERS:
        return [str(value) for value in flat]
    if array.dtype.kind in "OSU":
        return [_string_text(value, as_bytes) for value in flat]
    raise invalid_argument(
        f"Failed to write JSON value for tensor type: {array.dtype.name}"
    )


def _nest(texts: list[str], shape: tuple[int, ...]) -> str:
    """Element texts (C order) nested into JSON lists of ``shape``."""
    items = texts
    for axis in range(len(shape) - 1, -1, -1):
        size, groups = shape[axis], math.prod(shape[:axis])
        items = [
            "[" + ",".join(items[g * size : (g + 1) * size]) + "]"
            for g in range(groups)
        ]
    return items[0]


def _tensor_rows(array: np.ndarray, as_bytes: bool) -> list[str]:
    """JSON text of each row (first-axis slice) of ``array``."""
    texts = _leaf_texts(array, as_bytes)
    per_row, row_shape = math.prod(array.shape[1:]), array.shape[1:]
    return [
        _nest(texts[row * per_row : (row + 1) * per_row], row_shape)
        for row in range(array.shape[0])
    ]


def _is_bytes_output(name: str, array: np.ndarray) -> bool:
    """A string output whose name ends in ``_bytes`` is written as b64."""
    return name.endswith("_bytes") and array.dtype.kind in "OSU"


def _check_batch(outputs: Arrays) -> None:
    """Row format needs every output batched to one size of at least 1."""
    batch = None
    for name in sorted(outputs):
        shape = outputs[name].shape
        if not shape:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        if shape[0] < 1:
            raise invalid_argument(
                f"Tensor name: {name} has invalid batch size: {shape[0]}"
            )
        if batch not in (None, shape[0]):
            raise invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: {shape[0]} "
                f"expecting: {batch}"
            )
        batch = shape[0]


def predict_json(outputs: Arrays, row_format: bool) -> str:
    """TF Serving's predict answer: ``{"predictions": [row, ...]}`` (row
    format; a row is an object of named outputs when there are several) or
    ``{"outputs": tensor | {name: tensor}}`` (columnar)."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    if not row_format:
        tensors = {
            name: _nest(
                _leaf_texts(outputs[name], _is_bytes_output(name, outputs[name])),
                outputs[name].shape,
            )
            for name in names
        }
        return '{"outputs": ' + _json_object_or_only(tensors) + "}"
    _check_batch(outputs)
    rows = {
        name: _tensor_rows(outputs[name], _is_bytes_output(name, outputs[name]))
        for name in names
    }
    items = [
        _json_object_or_only({name: rows[name][row] for name in names})
        for row in range(len(rows[names[0]]))
    ]
    return '{"predictions": [' + ",".join(items) + "]}"


def _json_object_or_only(texts: dict[str, str]) -> str:
    """The only value's text, or a JSON object of several named texts."""
    if len(texts) == 1:
        return next(iter(texts.values()))
    return "{" + ",".join(f"{json.dumps(k)}: {v}" for k, v in texts.items()) + "}"


def classify_json(classes: Classes) -> str:
    """``{"results": [[[label, score], ...] per example]}``; a label the model
    lacks is "" and a missing score 0.0 (the proto defaults TF writes)."""
    rows = []
    for row in classes:
        scores = decimal_texts(
            np.array([0.0 if s is None else s for _, s in row], dtype=np.float32)
        )
        pairs = [
            f"[{json.dumps(label or '')}, {score}]"
            for (label, _), score in zip(row, scores, strict=True)
        ]
        rows.append("[" + ",".join(pairs) + "]")
    return '{"results": [' + ",".join(rows) + "]}"


def regress_json(values: list[float]) -> str:
    """``{"results": [value, ...]}``, one float per example."""
    texts = decimal_texts(np.array(values, dtype=np.float32))
    return '{"results": [' + ",".join(texts) + "]}"


def proto_json(message: Message) -> str:
    """A proto as TF Serving prints it: field names kept, defaults printed."""
    return json.dumps(
        json_format.MessageToDict(
            message,
            always_print_fields_with_no_presence=True,
            preserving_proto_field_name=True,
        )
    )
