"""JSON -> the input tensors of a REST predict request (json_tensor.cc
FillPredictRequestFromJson).

Owns ``predict_inputs``, which turns a parsed body's ``instances`` (row
format) or ``inputs`` (columnar) into numpy arrays of the signature's
input dtypes, and ``json_to_array`` for one input: dense shapes, type and
range checks that never wrap or round a value silently, and the element
count checked before any array is built. Parsing the body is
``serving.rest_json``'s job.
"""

from __future__ import annotations

import math

import grpc
import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from serving.batching import Arrays
from serving.errors import ServingError, invalid_argument
from serving.rest_json import b64_bytes, excerpt, is_b64, json_type, lossy_error
from serving.tensors import string_array

# The input dtypes JSON converts to; TF Serving refuses the others.
_INPUT_DTYPES: dict[int, np.dtype] = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_INT8: np.dtype(np.int8),
    types_pb2.DT_INT16: np.dtype(np.int16),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_UINT8: np.dtype(np.uint8),
    types_pb2.DT_UINT32: np.dtype(np.uint32),
    types_pb2.DT_UINT64: np.dtype(np.uint64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
    types_pb2.DT_STRING: np.dtype(object),
}


def _type_name(dtype: int) -> str:
    """TF's DataTypeString (``float``, ``int32``, ...), as errors name types."""
    return types_pb2.DataType.Name(dtype).removeprefix("DT_").lower()


def _type_error(value: object, dtype: int) -> ServingError:
    return invalid_argument(
        f"JSON Value: {excerpt(value)} Type: {json_type(value)} is not of "
        f"expected type: {_type_name(dtype)}"
    )


def _dense_shape(value: object) -> list[int]:
    """The shape a nested list has, read from its first elements."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _flatten(value: object, shape: list[int], level: int, leaves: list) -> None:
    """Appends the leaves of ``value``, checking it is dense of ``shape``."""
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid_argument(
                f"JSON Value: {excerpt(value)} found at incorrect level: "
                f"{level + 1} in the JSON DOM. Expected at level: {rank}"
            )
        leaves.append(value)
    elif level >= rank:
        raise invalid_argument(
            f"Encountered list at unexpected level: {level} expected < {rank}"
        )
    elif len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    elif level == rank - 1:
        leaves.extend(value)  # a list among them fails the type check
    else:
        for item in value:
            _flatten(item, shape, level + 1, leaves)


def _check_types(leaves: list, allowed: set[type], dtype: int) -> None:
    """Every leaf is of an allowed Python type (bool is not an int here)."""
    if set(map(type, leaves)) <= allowed:
        return
    raise _type_error(next(v for v in leaves if type(v) not in allowed), dtype)


def _string_leaf(value: object) -> bytes:
    """A string tensor element: UTF-8 of a JSON string, or b64 bytes."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict):
        return b64_bytes(value)
    raise _type_error(value, types_pb2.DT_STRING)


def _integer_leaves(leaves: list, dtype: int) -> np.ndarray:
    """Integer elements; a value outside the dtype's range is a type error
    (as rapidjson's IsInt / IsUint64 checks make it), never wrapped."""
    _check_types(leaves, {int}, dtype)
    limits = np.iinfo(_INPUT_DTYPES[dtype])
    for bound in (min(leaves, default=0), max(leaves, default=0)):
        if not limits.min <= bound <= limits.max:
            raise _type_error(bound, dtype)
    return np.array(leaves, dtype=_INPUT_DTYPES[dtype])


def _float_leaves(leaves: list, dtype: int) -> np.ndarray:
    """Float elements, refused where the dtype would lose precision
    (json_tensor.cc IsLosslessDecimal): integers past 2**digits - 1,
    finite decimals past the dtype's range. NaN and infinities pass."""
    _check_types(leaves, {int, float}, dtype)
    numpy_dtype = _INPUT_DTYPES[dtype]
    name = _type_name(dtype)
    exact = 2 ** (np.finfo(numpy_dtype).nmant + 1) - 1
    if int in set(map(type, leaves)):
        inexact = next((v for v in leaves if type(v) is int and abs(v) > exact), None)
        if inexact is not None:
            raise lossy_error(inexact, name)
    values = np.array(leaves, dtype=np.float64)
    largest = float(np.finfo(numpy_dtype).max)
    too_large = np.flatnonzero(np.isfinite(values) & (np.abs(values) > largest))
    if too_large.size:
        raise lossy_error(leaves[too_large[0]], name)
    return values.astype(numpy_dtype)


def _leaves_array(leaves: list, dtype: int) -> np.ndarray:
    """A flat array of one input dtype from checked JSON leaves."""
    if dtype == types_pb2.DT_STRING:
        return string_array([_string_leaf(leaf) for leaf in leaves])
    if dtype == types_pb2.DT_BOOL:
        _check_types(leaves, {bool}, dtype)
        return np.array(leaves, dtype=np.bool_)
    if _INPUT_DTYPES[dtype].kind == "f":
        return _float_leaves(leaves, dtype)
    return _integer_leaves(leaves, dtype)


def json_to_array(
    name: str, value: object, info: meta_graph_pb2.TensorInfo, max_elements: int
) -> np.ndarray:
    """One input's JSON value as an array of the signature input's dtype.

    The value is a (nested, rectangular) list or a scalar; its shape is not
    checked against the signature's, as TF Serving does not check it. The
    element count is checked before any array is built.

    Raises:
        ServingError: INVALID_ARGUMENT for a ragged value, a value of the
            wrong type or range, or too many elements; UNIMPLEMENTED for an
            input dtype JSON does not convert to.
    """
    if info.dtype not in _INPUT_DTYPES:
        raise ServingError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"Conversion of JSON Value: {excerpt(value)} to type: "
            f"{_type_name(info.dtype)}",
        )
    shape = _dense_shape(value)
    count = math.prod(shape)
    if count > max_elements:
        raise invalid_argument(
            f"Input {name!r} has {count} elements; the limit is {max_elements}."
        )
    leaves: list = []
    _flatten(value, shape, 0, leaves)
    return _leaves_array(leaves, info.dtype).reshape(shape)


def _is_named(value: object) -> bool:
    """A JSON object of named tensors (any object but a b64 one)."""
    return isinstance(value, dict) and not is_b64(value)


def _instance_columns(instances: list, names: list[str]) -> dict[str, list]:
    """Row-format objects regrouped per input: every object has every input."""
    columns: dict[str, list] = {name: [] for name in names}
    for index, item in enumerate(instances):
        if not _is_named(item):
            raise invalid_argument(
                f"Expecting object but got list at item {index} of input list"
            )
        for key, value in item.items():
            if key not in columns:
                raise invalid_argument(
                    f"Failed to process element: {index} key: {key} of 'instances' "
                    f"list. Error: JSON object: does not have named input: {key}"
                )
            columns[key].append(value)
        if len(item) != len(names):
            raise invalid_argument(
                f"Failed to process element: {index} of 'instances' list. JSON "
                f"object: {excerpt(item)} must only have keys: {','.join(names)}"
            )
    return columns


def _row_inputs(
    instances: object, infos: dict[str, meta_graph_pb2.TensorInfo], max_elements: int
) -> Arrays:
    """``instances``: one item per row; objects when there are several inputs."""
    if not isinstance(instances, list):
        raise invalid_argument("Excepting 'instances' to be an list/array")
    if not instances:
        raise invalid_argument("No values in 'instances' array")
    names = sorted(infos)
    if _is_named(instances[0]):
        columns = _instance_columns(instances, names)
    elif len(names) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple "
            "input tensors required as per tensorinfo_map"
        )
    else:
        index = next((i for i, item in enumerate(instances) if _is_named(item)), None)
        if index is not None:
            raise invalid_argument(
                f"Expecting value/list but got object at item {index} of input list"
            )
        columns = {names[0]: instances}
    return {
        name: json_to_array(name, values, infos[name], max_elements)
        for name, values in columns.items()
    }


def _columnar_inputs(
    inputs: object, infos: dict[str, meta_graph_pb2.TensorInfo], max_elements: int
) -> Arrays:
    """``inputs``: the tensor itself, or an object of named tensors (names
    the signature lacks are ignored, as TF Serving ignores them)."""
    names = sorted(infos)
    if not _is_named(inputs):
        if len(names) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple "
                "input tensors required as per tensorinfo_map"
            )
        return {
            names[0]: json_to_array(names[0], inputs, infos[names[0]], max_elements)
        }
    missing = next((name for name in names if name not in inputs), None)
    if missing is not None:
        raise invalid_argument(f"Missing named input: {missing} in 'inputs' object.")
    return {
        name: json_to_array(name, inputs[name], infos[name], max_elements)
        for name in names
    }


def predict_inputs(
    body: dict, signature: meta_graph_pb2.SignatureDef, max_elements: int
) -> tuple[Arrays, bool]:
    """The input arrays of a predict body, and whether it used row format."""
    if "instances" in body and "inputs" in body:
        raise invalid_argument(
            "Not formatted correctly expecting only one of 'inputs' or "
            "'instances' keys to exist"
        )
    infos = dict(signature.inputs)
    if "instances" in body:
        return _row_inputs(body["instances"], infos, max_elements), True
    if "inputs" in body:
        return _columnar_inputs(body["inputs"], infos, max_elements), False
    raise invalid_argument("Missing 'inputs' or 'instances' key")
