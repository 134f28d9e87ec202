"""JSON -> the serialized ``tf.Example``s of REST classify/regress requests
(json_tensor.cc FillClassificationRequestFromJson).

Owns ``examples_tensor``: a parsed body's ``examples`` (and optional
``context``) as the ``[n]`` string tensor the engine feeds, with TF
Serving's feature typing: strings and b64 objects are bytes, whole numbers
(and booleans) int64, decimals float, refused where float32 would lose
them. Parsing the body is ``serving.rest_json``'s job.
"""

from __future__ import annotations

import math

import numpy as np
from tensorflow.core.example import example_pb2, feature_pb2

from serving.errors import invalid_argument
from serving.rest_json import INT64_MAX, b64_bytes, is_b64, json_type, lossy_error
from serving.tensors import string_array

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


def _float_feature_value(value: float | int) -> float:
    """A float feature value, refused where float32 would lose it."""
    try:
        number = float(value)
    except OverflowError:
        raise lossy_error(value, "float") from None
    if math.isfinite(number) and abs(number) > _FLOAT32_MAX:
        raise lossy_error(value, "float")
    return number


def _feature_value(name: str, value: object) -> tuple[str, bytes | float | int]:
    """(Feature kind, value) of one JSON value: strings and b64 are bytes,
    decimals float, whole numbers (and booleans) int64."""
    if (
        value is None
        or isinstance(value, list)
        or (isinstance(value, dict) and not is_b64(value))
    ):
        raise invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: {json_type(value)}"
        )
    if isinstance(value, bool):
        return "int64_list", int(value)
    if isinstance(value, dict):
        return "bytes_list", b64_bytes(value)
    if isinstance(value, str):
        return "bytes_list", value.encode("utf-8")
    if isinstance(value, int) and -INT64_MAX - 1 <= value <= INT64_MAX:
        return "int64_list", value
    if isinstance(value, int) and 0 <= value < 2**64:
        raise invalid_argument(
            f"Feature: {name} has uint64 element. Only int64 is supported."
        )
    return "float_list", _float_feature_value(value)  # rapidjson: a double


def _feature(name: str, content: object) -> feature_pb2.Feature:
    """A feature from one JSON value or a list of them, all of one kind."""
    kind, values = None, []
    for item in content if isinstance(content, list) else [content]:
        item_kind, value = _feature_value(name, item)
        if kind not in (None, item_kind):
            raise invalid_argument(
                f"Unexpected element type in feature: {name} expecting type: "
                f"{_KIND_NAMES[kind]}"
            )
        kind = item_kind
        values.append(value)
    feature = feature_pb2.Feature()
    if kind is not None:
        getattr(feature, kind).value.extend(values)
    return feature


def _example_bytes(value: object) -> bytes:
    """A JSON object of features as a serialized ``tf.Example``."""
    if not isinstance(value, dict):
        raise invalid_argument(
            f"Example must be JSON object but got JSON {json_type(value)}"
        )
    example = example_pb2.Example()
    for name, content in value.items():
        example.features.feature[name].CopyFrom(_feature(name, content))
    return example.SerializeToString()


def examples_tensor(body: dict, api: str, max_examples: int) -> np.ndarray:
    """The serialized ``tf.Example``s of a classify/regress body, ``[n]``.

    With a ``context``, each example is the context's bytes followed by the
    example's, as TF Serving feeds ``example_list_with_context``: parsing
    merges them and a feature in both takes the example's value.
    """
    context = _example_bytes(body["context"]) if "context" in body else b""
    if "examples" not in body:
        raise invalid_argument(
            f"When method is {api}, key 'examples' is expected and was not found"
        )
    examples = body["examples"]
    if not isinstance(examples, list):
        raise invalid_argument("Expecting 'examples' value to be an list/array")
    if not examples:
        raise invalid_argument("'examples' value is an empty array")
    if len(examples) > max_examples:
        raise invalid_argument(
            f"Task size {len(examples)} is larger than maximum input batch size "
            f"{max_examples}."
        )
    return string_array([context + _example_bytes(example) for example in examples])
