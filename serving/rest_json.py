"""JSON request bodies of the REST API, read as TF Serving reads them.

Owns what every POST body goes through before it is converted
(json_tensor.cc ParseJson): the nesting cap, checked before parsing so a
deep body is a client error rather than a RecursionError; the lone
surrogate check after it; and the object check. Also owns the small
readers both converters share (``serving.rest_inputs`` for predict,
``serving.rest_examples`` for classify/regress), so that their errors
quote values and name JSON types as TF Serving's do: ``excerpt``,
``json_type``, ``signature_name``, ``is_b64`` / ``b64_bytes`` and
``lossy_error``.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np

from serving.errors import ServingError, invalid_argument

# Deeper JSON is refused before parsing (the parser and the converters
# recurse per level). TF's tensors have at most 254 dimensions.
MAX_JSON_DEPTH = 300
# The largest int64 feature value, and version in a path.
INT64_MAX = 2**63 - 1

# A JSON string, closed or not: cut out in one linear pass.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 (int8)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# A \u escape of a UTF-16 surrogate: the only way JSON can spell a lone one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_nesting(body: bytes) -> None:
    """Refuses JSON nested deeper than ``MAX_JSON_DEPTH`` before parsing it.

    So a body of 100,000 ``[`` is a client error, not a RecursionError.
    Linear in the body: strings are cut out (their brackets do not nest),
    then the depth is the running sum of the brackets left.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    brackets = _JSON_STRING.sub(b"", body).translate(_BRACKET_STEPS, _NOT_BRACKETS)
    steps = np.frombuffer(brackets, dtype=np.int8)
    if steps.size and np.cumsum(steps, dtype=np.int64).max() > MAX_JSON_DEPTH:
        raise invalid_argument(
            f"JSON Parse error: nested deeper than {MAX_JSON_DEPTH} levels"
        )


def _check_surrogates(body: bytes, document: object) -> None:
    """Refuses strings with a lone UTF-16 surrogate (``"\\ud800"``), as
    rapidjson does: they cannot be UTF-8 encoded for a tensor or a proto."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise invalid_argument(
            "JSON Parse error: The surrogate pair in string is invalid."
        ) from None


def parse_json_body(body: bytes) -> dict:
    """A request body as a JSON object (json_tensor.cc ParseJson).

    NaN, Infinity and -Infinity are numbers, as TF Serving parses them.

    Raises:
        ServingError(INVALID_ARGUMENT): empty, too deep, not UTF-8, not
            JSON, or not an object.
    """
    if not body.strip():
        raise invalid_argument("JSON Parse error: The document is empty")
    _check_nesting(body)
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise invalid_argument(
            f"JSON Parse error: Invalid encoding in string at offset: {error.start}"
        ) from None
    except ValueError as error:  # bad JSON, or an integer of over 4300 digits
        raise invalid_argument(f"JSON Parse error: {error}") from None
    _check_surrogates(body, document)
    if not isinstance(document, dict):
        raise invalid_argument(f"JSON Value: {excerpt(document)} Is not object")
    return document


def excerpt(value: object, limit: int = 200) -> str:
    """A JSON value as error messages quote it, cut to ``limit`` characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def json_type(value: object) -> str:
    """rapidjson's name for the type of a JSON value, as errors name it."""
    if value is None or isinstance(value, bool):
        return {None: "Null", False: "False", True: "True"}[value]
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    return "String" if isinstance(value, str) else "Number"


def signature_name(body: dict) -> str:
    """The body's optional ``signature_name`` ("" for the default)."""
    name = body.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid_argument(
            f"JSON Value: {excerpt(body)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return name


def is_b64(value: object) -> bool:
    """``{"b64": "<string>"}``, the JSON form of arbitrary bytes."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get("b64"), str)
    )


def b64_bytes(value: object) -> bytes:
    """The bytes of a ``{"b64": ...}`` object; padding may be left out, as
    absl::Base64Unescape allows."""
    if not is_b64(value):
        raise invalid_argument(
            f"JSON Value: {excerpt(value)} not formatted correctly for base64 data"
        )
    text = value["b64"]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise invalid_argument("Unable to base64 decode") from None


def lossy_error(value: object, target: str) -> ServingError:
    """The error for a JSON number that ``target`` cannot hold exactly."""
    return invalid_argument(
        f"Cannot convert JSON value: {excerpt(value)} to {target} without loss "
        "of precision."
    )
