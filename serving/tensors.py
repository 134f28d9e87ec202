"""Conversion between numpy arrays and ``tensorflow.TensorProto``.

Both the client and the server move tensors as ``TensorProto`` (TF Serving's
wire format). The client sends numeric arrays in ``tensor_content`` (raw
little-endian bytes, the fast path); the server answers in the typed repeated
fields (``float_val``, ``int_val``, ...), as TF Serving does, since many
clients read only those. Decoding accepts both, including TF's convention
that fewer values than the shape holds are padded with the last one; the
element count is checked against a limit before anything is allocated.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import numpy as np
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import input_pb2

from serving.constants import TEXT_FEATURE
from serving.errors import invalid_argument

# DataType enum <-> numpy dtype, for every dtype the exported signatures use.
NUMPY_DTYPES: dict[int, np.dtype] = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
    types_pb2.DT_STRING: np.dtype(object),
}
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_STRING: "string_val",
}


def dtype_name(dtype: int) -> str:
    """``DT_FLOAT`` for ``types_pb2.DT_FLOAT`` (how errors name dtypes)."""
    return types_pb2.DataType.Name(dtype)


def _proto_dtype(array: np.ndarray) -> int:
    if array.dtype.kind in "OSU":
        return types_pb2.DT_STRING
    for enum, dtype in NUMPY_DTYPES.items():
        if array.dtype == dtype:
            return enum
    raise invalid_argument(f"Unsupported tensor dtype {array.dtype}.")


def _as_bytes(value: object) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def to_tensor_proto(value: object) -> tensor_pb2.TensorProto:
    """Encodes an array (or anything ``np.asarray`` takes) as a TensorProto.

    Python/numpy strings become UTF-8 bytes; int64/float64 keep their width
    (pass ``np.int32`` arrays for int32 signature inputs).
    """
    try:
        array = np.asarray(value)
    except UnicodeDecodeError:  # a mix of str and non-ASCII bytes
        array = np.array(value, dtype=object)
    dtype = _proto_dtype(array)
    proto = tensor_pb2.TensorProto(
        dtype=dtype,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in array.shape]
        ),
    )
    if dtype == types_pb2.DT_STRING:
        proto.string_val.extend(_as_bytes(v) for v in array.reshape(-1))
    else:
        little_endian = array.dtype.newbyteorder("<")
        proto.tensor_content = np.ascontiguousarray(array, little_endian).tobytes()
    return proto


def to_typed_tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """An output array as TF Serving answers it: values in the typed field.

    ``float_val`` for float32, ``int_val`` for int32 (and bool in
    ``bool_val``, int64 in ``int64_val``, strings in ``string_val``), every
    value written out; ``tf.make_ndarray`` reads it back.
    """
    array = np.asarray(array)
    dtype = _proto_dtype(array)
    proto = tensor_pb2.TensorProto(
        dtype=dtype,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in array.shape]
        ),
    )
    values = getattr(proto, _VALUE_FIELDS[dtype])
    if dtype == types_pb2.DT_STRING:
        values.extend(_as_bytes(v) for v in array.reshape(-1))
    else:
        values.extend(array.reshape(-1).tolist())
    return proto


def to_ndarray(
    proto: tensor_pb2.TensorProto, max_elements: int | None = None
) -> np.ndarray:
    """Decodes a TensorProto; strings come back as an object array of bytes.

    Args:
        proto: the tensor.
        max_elements: refuse shapes with more elements, before allocating.

    Raises:
        ServingError(INVALID_ARGUMENT): unsupported dtype, too many elements,
            or a value count that does not fit the shape.
    """
    if proto.dtype not in NUMPY_DTYPES:
        raise invalid_argument(
            f"Unsupported tensor dtype {dtype_name(proto.dtype)}; supported: "
            f"{sorted(dtype_name(d) for d in NUMPY_DTYPES)}."
        )
    shape = tuple(dim.size for dim in proto.tensor_shape.dim)
    if any(n < 0 for n in shape):
        raise invalid_argument(f"Tensor shape {shape} has a negative dimension.")
    count = 1
    for n in shape:  # Python ints: no int64 overflow for absurd shapes
        count *= n
    if max_elements is not None and count > max_elements:
        raise invalid_argument(
            f"Tensor of shape {list(shape)} has {count} elements; the limit is "
            f"{max_elements}."
        )
    dtype = NUMPY_DTYPES[proto.dtype]
    if proto.tensor_content:
        if proto.dtype == types_pb2.DT_STRING:
            raise invalid_argument("String tensors must use string_val.")
        if len(proto.tensor_content) != count * dtype.itemsize:
            raise invalid_argument(
                f"tensor_content has {len(proto.tensor_content)} bytes; shape "
                f"{list(shape)} of {dtype_name(proto.dtype)} needs "
                f"{count * dtype.itemsize}."
            )
        flat = np.frombuffer(proto.tensor_content, dtype=dtype.newbyteorder("<"))
    else:
        values = getattr(proto, _VALUE_FIELDS[proto.dtype])
        flat = (
            string_array(list(values))
            if proto.dtype == types_pb2.DT_STRING
            else np.asarray(values, dtype=dtype)
        )
        if len(flat) < count:  # TF pads with the last value (zeros if none)
            fill = flat[-1:] if len(flat) else np.zeros(1, dtype)
            if proto.dtype == types_pb2.DT_STRING and not len(flat):
                fill = string_array([b""])
            flat = np.concatenate([flat, np.repeat(fill, count - len(flat))])
    if flat.size != count:
        raise invalid_argument(
            f"Tensor of shape {list(shape)} needs {count} values, got {flat.size}."
        )
    return flat.astype(dtype, copy=False).reshape(shape)


def to_tensor_protos(arrays: Mapping[str, object]) -> dict[str, tensor_pb2.TensorProto]:
    """``to_tensor_proto`` over a dict of named tensors."""
    return {name: to_tensor_proto(value) for name, value in arrays.items()}


def to_ndarrays(
    protos: Mapping[str, tensor_pb2.TensorProto], max_elements: int | None = None
) -> dict[str, np.ndarray]:
    """``to_ndarray`` over a map of named TensorProtos."""
    return {name: to_ndarray(proto, max_elements) for name, proto in protos.items()}


def string_array(values: list[bytes]) -> np.ndarray:
    """A rank-1 object array of bytes (what string signature inputs take)."""
    array = np.empty(len(values), object)
    array[:] = values
    return array


def serialized_examples(request_input: input_pb2.Input) -> np.ndarray:
    """The ``tf.Example``s of a Classify/Regress request, serialized, ``[n]``.

    With ``example_list_with_context`` each example is the context's bytes
    followed by the example's, which parsing merges (features of the example
    win), as TF Serving feeds them.

    Raises:
        ServingError(INVALID_ARGUMENT): no input, or no examples.
    """
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        prefix, examples = b"", request_input.example_list.examples
    elif kind == "example_list_with_context":
        listing = request_input.example_list_with_context
        prefix, examples = listing.context.SerializeToString(), listing.examples
    else:
        raise invalid_argument("Input is empty.")
    if not examples:
        raise invalid_argument("Input is empty.")
    return string_array([prefix + example.SerializeToString() for example in examples])


def text_example(text: str, feature: str = TEXT_FEATURE) -> example_pb2.Example:
    """A ``tf.Example`` with one bytes feature: what classify signatures parse."""
    value = feature_pb2.BytesList(value=[text.encode("utf-8")])
    return example_pb2.Example(
        features=feature_pb2.Features(
            feature={feature: feature_pb2.Feature(bytes_list=value)}
        )
    )


def _text(value: bytes) -> object:
    """UTF-8 bytes as a JSON string; other bytes as ``{"b64": ...}``."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(value).decode("ascii")}


def to_jsonable(array: np.ndarray) -> object:
    """Nested lists for JSON; bytes become str, or ``{"b64": ...}`` if not UTF-8."""
    if array.dtype == object and array.size:
        return np.vectorize(_text, otypes=[object])(array).tolist()
    return array.tolist()
