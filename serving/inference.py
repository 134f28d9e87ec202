"""Request checking and dispatch shared by the gRPC and REST front ends.

Everything a client can get wrong is caught here, before the model runs, and
turned into a ``ServingError`` with a precise message: unknown model, version
or signature; missing or extra inputs; wrong dtype or shape; empty batch;
batch over the limit; non-UTF-8 text; text over the byte limit (truncated or
rejected, as configured).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from serving.batching import Arrays
from serving.constants import DEFAULT_SIGNATURE
from serving.errors import invalid_argument, not_found
from serving.model_store import LoadedVersion, ModelStore
from serving.tensors import dtype_name, string_array

LONG_TEXT_POLICIES = ("truncate", "reject")


@dataclass(frozen=True)
class Limits:
    """Per-request limits.

    Attributes:
        max_batch_size: most rows in one request.
        max_text_bytes: longest string input, in UTF-8 bytes.
        long_text: ``"truncate"`` longer strings (at a character boundary)
            or ``"reject"`` the request.
    """

    max_batch_size: int = 64
    max_text_bytes: int = 16_384
    long_text: str = "truncate"

    def __post_init__(self):
        if self.long_text not in LONG_TEXT_POLICIES:
            raise ValueError(
                f"long_text must be one of {LONG_TEXT_POLICIES}, "
                f"got {self.long_text!r}."
            )


def _check_shape(name: str, array: np.ndarray, info: meta_graph_pb2.TensorInfo) -> None:
    shape = info.tensor_shape
    if shape.unknown_rank:
        return
    expected = [dim.size for dim in shape.dim]
    if array.ndim != len(expected) or any(
        want not in (-1, got) for want, got in zip(expected, array.shape, strict=True)
    ):
        readable = [None if n == -1 else n for n in expected]
        raise invalid_argument(
            f"Input {name!r} must have shape {readable}, got {list(array.shape)}."
        )


def _check_text(name: str, array: np.ndarray, limits: Limits) -> np.ndarray:
    """UTF-8 check and length limit for a string input; returns what to feed."""
    values = []
    for index, value in enumerate(array.reshape(-1)):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise invalid_argument(
                f"Input {name!r} element {index} is not valid UTF-8 ({error.reason} "
                f"at byte {error.start})."
            ) from None
        if len(value) > limits.max_text_bytes:
            if limits.long_text == "reject":
                raise invalid_argument(
                    f"Input {name!r} element {index} has {len(value)} bytes; the "
                    f"limit is {limits.max_text_bytes}."
                )
            value = value[: limits.max_text_bytes].decode("utf-8", "ignore").encode()
        values.append(value)
    return string_array(values).reshape(array.shape)


def check_inputs(
    signature_name: str,
    signature: meta_graph_pb2.SignatureDef,
    inputs: Arrays,
    limits: Limits,
    utf8_inputs: Iterable[str] | None = None,
) -> Arrays:
    """Validates ``inputs`` against ``signature``; returns the arrays to feed.

    Args:
        signature_name: for messages.
        signature: the SignatureDef the request names.
        inputs: decoded request tensors.
        limits: batch and text limits.
        utf8_inputs: string inputs that must hold UTF-8 text; default all
            string inputs (serialized ``tf.Example``s are binary: pass ``()``).
    """
    expected, given = set(signature.inputs), set(inputs)
    if expected != given:
        raise invalid_argument(
            f"Signature {signature_name!r} takes inputs {sorted(expected)}; the "
            f"request has {sorted(given)} (missing {sorted(expected - given)}, "
            f"unexpected {sorted(given - expected)})."
        )
    checked, batch_sizes = {}, set()
    for name in sorted(inputs):
        array, info = inputs[name], signature.inputs[name]
        want = info.dtype
        got = types_pb2.DT_STRING if array.dtype == object else None
        if got is None:
            got = tf.as_dtype(array.dtype).as_datatype_enum
        if got != want:
            raise invalid_argument(
                f"Input {name!r} of signature {signature_name!r} must be "
                f"{dtype_name(want)}, got {dtype_name(got)}."
            )
        _check_shape(name, array, info)
        if array.ndim == 0:
            raise invalid_argument(f"Input {name!r} needs a batch axis.")
        batch_sizes.add(array.shape[0])
        text = utf8_inputs is None or name in utf8_inputs
        if want == types_pb2.DT_STRING and text:
            array = _check_text(name, array, limits)
        checked[name] = array
    if len(batch_sizes) > 1:
        raise invalid_argument(
            f"Inputs disagree on the batch size: {sorted(batch_sizes)}."
        )
    rows = batch_sizes.pop()
    if rows == 0:
        raise invalid_argument("The request has an empty batch (0 rows).")
    if rows > limits.max_batch_size:
        raise invalid_argument(
            f"Task size {rows} is larger than maximum input batch size "
            f"{limits.max_batch_size}."
        )
    return checked


def op_error_summary(message: str) -> str:
    """The line of a TF op error that says what was wrong, without graph noise.

    ``"Graph execution error: ... indices[0,0] = 5000 is not in [0, 1000) ..."``
    -> ``"indices[0,0] = 5000 is not in [0, 1000)"``.
    """
    noise = (
        "Graph execution error",
        "Detected at node",
        "<stack traces",
        "[[",
        "File ",
    )
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(noise):
            return line
    return message.strip()


def run_model(model: LoadedVersion, signature_name: str, inputs: Arrays) -> Arrays:
    """Runs a checked request; model-side argument errors -> INVALID_ARGUMENT."""
    try:
        return model.run(signature_name, inputs)
    except tf.errors.InvalidArgumentError as error:
        raise invalid_argument(op_error_summary(error.message)) from None


class InferenceEngine:
    """Answers predict / classify / regress / metadata / status for one store."""

    def __init__(self, store: ModelStore, limits: Limits | None = None):
        self.store = store
        self.limits = limits or Limits()

    def _signature(
        self, model: LoadedVersion, signature_name: str
    ) -> meta_graph_pb2.SignatureDef:
        signature_name = signature_name or DEFAULT_SIGNATURE
        if signature_name not in model.signature_defs:
            raise invalid_argument(
                f"Serving signature name: {signature_name!r} not found in signature "
                f"def; available: {sorted(model.signature_defs)}."
            )
        return model.signature_defs[signature_name]

    def predict(
        self,
        name: str,
        version: int | None,
        signature_name: str,
        inputs: Arrays,
        output_filter: Iterable[str] = (),
    ) -> tuple[int, Arrays]:
        """Runs a Predict request; returns (served version, outputs)."""
        model = self.store.get(name, version)
        signature_name = signature_name or DEFAULT_SIGNATURE
        signature = self._signature(model, signature_name)
        wanted = set(output_filter)
        if unknown := wanted - set(signature.outputs):
            raise invalid_argument(
                f"output_filter names {sorted(unknown)}, not outputs of signature "
                f"{signature_name!r}: {sorted(signature.outputs)}."
            )
        checked = check_inputs(signature_name, signature, inputs, self.limits)
        outputs = run_model(model, signature_name, checked)
        if wanted:
            outputs = {key: value for key, value in outputs.items() if key in wanted}
        return model.version, outputs

    def run_examples(
        self,
        name: str,
        version: int | None,
        signature_name: str,
        method: str,
        examples: np.ndarray,
    ) -> tuple[int, Arrays]:
        """Runs a Classify/Regress request on serialized ``tf.Example``s.

        ``method`` is the SignatureDef method name the signature must have
        (``CLASSIFY_METHOD`` or ``REGRESS_METHOD``), as TF Serving requires.
        """
        model = self.store.get(name, version)
        signature_name = signature_name or DEFAULT_SIGNATURE
        signature = self._signature(model, signature_name)
        if signature.method_name != method:
            raise invalid_argument(
                f"Expected {method.rsplit('/', 1)[-1]} signature method_name to be "
                f"{method}; signature {signature_name!r} has "
                f"{signature.method_name!r}. Signatures with it: "
                + str(
                    sorted(
                        key
                        for key, value in model.signature_defs.items()
                        if value.method_name == method
                    )
                )
            )
        checked = check_inputs(
            signature_name, signature, {"inputs": examples}, self.limits, ()
        )
        return model.version, run_model(model, signature_name, checked)

    def metadata(
        self, name: str, version: int | None
    ) -> tuple[int, dict[str, meta_graph_pb2.SignatureDef]]:
        """(served version, its SignatureDefs)."""
        model = self.store.get(name, version)
        return model.version, model.signature_defs

    def states(self, name: str, version: int | None) -> dict[int, str]:
        """Version -> state for GetModelStatus (NOT_FOUND if none match)."""
        if name != self.store.name:
            raise not_found(f"Could not find any versions of model {name!r}.")
        states = self.store.states()
        if version is not None:
            states = {v: s for v, s in states.items() if v == version}
        if not states:
            raise not_found(
                f"Could not find version {version} of model {name!r}."
                if version is not None
                else f"Could not find any versions of model {name!r}."
            )
        return states
