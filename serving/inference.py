"""TF Serving's request semantics, shared by the gRPC and REST front ends.

Predict, Classify, Regress, MultiInference, metadata and status answer as
TF Serving's ``predict_util`` / ``classifier`` / ``regressor`` /
``multi_inference`` do for a session-based SavedModel: the request names a
signature (default ``serving_default``); Predict feeds exactly the
signature's inputs and fetches its outputs (or ``output_filter``);
Classify/Regress feed serialized ``tf.Example``s to a signature whose method
is ``tensorflow/serving/classify`` / ``regress`` and read its ``classes`` /
``scores`` / ``outputs``. Inputs are not checked against the SignatureDef's
static shapes (TF Serving's session does not check them either), so a model
TF Serving answers is answered here.

What this adds, for a server exposed to clients: per-request limits checked
before anything is allocated or run (rows, elements, string sizes), each
failure a ``ServingError`` with TF Serving's status code and a message that
says what was wrong, and a client error never reported as INTERNAL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, prediction_log_pb2

from serving.batching import Arrays
from serving.constants import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    WARMUP_FILE,
)
from serving.errors import ServingError, invalid_argument, status_code
from serving.metrics import Metrics
from serving.model_manager import ModelManager, VersionStatus
from serving.servable import Servable
from serving.tensors import dtype_name, serialized_examples, to_ndarrays

CLASSIFY_INPUTS = "inputs"
CLASSIFY_CLASSES = "classes"
CLASSIFY_SCORES = "scores"
REGRESS_OUTPUTS = "outputs"


@dataclass(frozen=True)
class Limits:
    """Per-request limits, checked before anything is allocated or run.

    Attributes:
        max_batch_size: most rows (first-axis length) one input may have.
        max_tensor_elements: most elements in one input tensor.
        max_string_bytes: longest single string element.
    """

    max_batch_size: int = 1024
    max_tensor_elements: int = 2**22
    max_string_bytes: int = 2**20


@dataclass(frozen=True)
class RequestSpec:
    """What a request asks for (TF Serving's ``ModelSpec``)."""

    name: str
    version: int | None = None
    label: str | None = None
    signature_name: str = ""

    @property
    def signature(self) -> str:
        return self.signature_name or DEFAULT_SIGNATURE


Classes = list[list[tuple[str | None, float | None]]]


def _signature_def(servable: Servable, name: str) -> meta_graph_pb2.SignatureDef:
    signature = servable.signature_defs.get(name)
    if signature is None:
        raise invalid_argument(
            f'Serving signature name: "{name}" not found in signature def; '
            f"this model has {sorted(servable.signature_defs)}."
        )
    return signature


def _array_dtype(array: np.ndarray) -> int:
    if array.dtype == object:
        return types_pb2.DT_STRING
    return tf.as_dtype(array.dtype).as_datatype_enum


def check_limits(name: str, array: np.ndarray, limits: Limits) -> None:
    """Size limits of one decoded input (see ``Limits``)."""
    if array.size > limits.max_tensor_elements:
        raise invalid_argument(
            f"Input {name!r} has {array.size} elements; the limit is "
            f"{limits.max_tensor_elements}."
        )
    if array.ndim and array.shape[0] > limits.max_batch_size:
        raise invalid_argument(
            f"Task size {array.shape[0]} is larger than maximum input batch size "
            f"{limits.max_batch_size}."
        )
    if array.dtype == object:
        longest = max((len(v) for v in array.reshape(-1)), default=0)
        if longest > limits.max_string_bytes:
            raise invalid_argument(
                f"Input {name!r} has a string of {longest} bytes; the limit is "
                f"{limits.max_string_bytes}."
            )


def check_predict_inputs(
    signature: meta_graph_pb2.SignatureDef, inputs: Arrays, limits: Limits
) -> None:
    """The request's inputs are the signature's, of its dtypes, within limits."""
    expected, given = set(signature.inputs), set(inputs)
    if expected != given:
        raise invalid_argument(
            f"input size does not match signature: {len(given)}!={len(expected)} "
            f"len({sorted(given)}) != len({sorted(expected)}). Sent extra: "
            f"{sorted(given - expected)}. Missing but required: "
            f"{sorted(expected - given)}."
        )
    for name in sorted(inputs):
        array, want = inputs[name], signature.inputs[name].dtype
        got = _array_dtype(array)
        if got != want:
            raise invalid_argument(
                f"Expects arg {name!r} to be {dtype_name(want)} but "
                f"{dtype_name(got)} is provided."
            )
        check_limits(name, array, limits)
    rows = {array.shape[0] for array in inputs.values() if array.ndim}
    if len(rows) > 1:
        raise invalid_argument(f"Inputs disagree on the batch size: {sorted(rows)}.")


def check_output_filter(
    signature: meta_graph_pb2.SignatureDef, output_filter: Iterable[str]
) -> list[str]:
    """Output aliases to fetch: the filter (checked) or every output."""
    wanted = list(output_filter)
    seen = set()
    for alias in wanted:
        if alias not in signature.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs "
                f"expected to be in the set {sorted(signature.outputs)}."
            )
        if alias in seen:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return wanted or sorted(signature.outputs)


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


def _run(servable: Servable, signature: str, inputs: Arrays, outputs: list[str]):
    """Runs a checked request; a model-side error keeps its TF status code."""
    try:
        return servable.run(signature, inputs, outputs)
    except tf.errors.OpError as error:
        raise ServingError(
            status_code(error), op_error_summary(error.message)
        ) from None


def _examples_signature(
    servable: Servable, name: str, method: str
) -> meta_graph_pb2.SignatureDef:
    """A classify/regress signature, checked as TF Serving checks it."""
    signature = _signature_def(servable, name)
    kind = method.rsplit("/", 1)[-1]
    if signature.method_name != method:
        raise invalid_argument(
            f"Expected {kind} signature method_name to be {method}. Was: "
            f"{signature.method_name}"
        )
    if len(signature.inputs) != 1:
        raise invalid_argument(
            f"Expected one input Tensor, got {len(signature.inputs)}."
        )
    (info,) = signature.inputs.values()
    if info.dtype != types_pb2.DT_STRING:
        raise invalid_argument(
            f"Expected input Tensor of DT_STRING, got {dtype_name(info.dtype)}."
        )
    return signature


def _classes(outputs: Arrays, rows: int) -> Classes:
    """Per example, (label, score) per class; None where the model has none."""
    classes, scores = outputs.get(CLASSIFY_CLASSES), outputs.get(CLASSIFY_SCORES)
    shapes = [a.shape for a in (classes, scores) if a is not None]
    for shape in shapes:
        if len(shape) != 2 or shape[0] != rows:
            raise invalid_argument(
                f"Expected Tensor shape: [batch_size num_classes] but got {list(shape)}"
            )
    if len(shapes) == 2 and shapes[0] != shapes[1]:
        raise invalid_argument(
            f"Tensors class and score should match in shape: {list(shapes[0])} "
            f"vs {list(shapes[1])}"
        )
    width = shapes[0][1]
    return [
        [
            (
                None
                if classes is None
                else bytes(classes[i, j]).decode("utf-8", "replace"),
                None if scores is None else float(scores[i, j]),
            )
            for j in range(width)
        ]
        for i in range(rows)
    ]


def _regressions(outputs: Arrays, rows: int) -> list[float]:
    values = outputs[REGRESS_OUTPUTS]
    if values.shape not in ((rows,), (rows, 1)):
        raise invalid_argument(
            "Expected output Tensor shape to be either [batch_size] or "
            f"[batch_size, 1] but got {list(values.shape)}"
        )
    return [float(v) for v in values.reshape(-1)]


class InferenceEngine:
    """Answers the TF Serving APIs over a ``ModelManager``.

    Args:
        manager: the served models.
        limits: per-request limits.
        metrics: where request counts and latencies go (optional).
    """

    def __init__(
        self,
        manager: ModelManager,
        limits: Limits | None = None,
        metrics: Metrics | None = None,
    ):
        self.manager = manager
        self.limits = limits or Limits()
        self.metrics = metrics

    @contextmanager
    def observe(self, api: str, entrypoint: str, model_name: str) -> Iterator[None]:
        """Counts one request and its latency under its final status."""
        start = time.perf_counter()
        status = "OK"
        try:
            yield
        except ServingError as error:
            status = error.code.name
            raise
        except Exception:
            status = "INTERNAL"
            raise
        finally:
            if self.metrics is not None:
                self.metrics.count_request(
                    model_name, api, entrypoint, status, time.perf_counter() - start
                )

    def predict(
        self, spec: RequestSpec, inputs: Arrays, output_filter: Iterable[str] = ()
    ) -> tuple[int, Arrays]:
        """Runs a Predict request; returns (served version, outputs)."""
        with self.manager.servable(spec.name, spec.version, spec.label) as servable:
            return servable.version, self.predict_on(
                servable, spec, inputs, output_filter
            )

    def predict_on(
        self,
        servable: Servable,
        spec: RequestSpec,
        inputs: Arrays,
        output_filter: Iterable[str] = (),
    ) -> Arrays:
        signature = _signature_def(servable, spec.signature)
        outputs = check_output_filter(signature, output_filter)
        check_predict_inputs(signature, inputs, self.limits)
        return _run(servable, spec.signature, inputs, outputs)

    def _run_examples(
        self, servable: Servable, spec: RequestSpec, method: str, examples: np.ndarray
    ) -> tuple[Arrays, int]:
        signature = _examples_signature(servable, spec.signature, method)
        (alias,) = signature.inputs
        check_limits(alias, examples, self.limits)
        wanted = (
            [a for a in (CLASSIFY_CLASSES, CLASSIFY_SCORES) if a in signature.outputs]
            if method == CLASSIFY_METHOD
            else [a for a in (REGRESS_OUTPUTS,) if a in signature.outputs]
        )
        if not wanted:
            raise invalid_argument(
                "Expected classification signature outputs to contain at least "
                "one of classes, scores"
                if method == CLASSIFY_METHOD
                else "No regression output named 'outputs' found in the signature."
            )
        return _run(servable, spec.signature, {alias: examples}, wanted), len(examples)

    def classify(self, spec: RequestSpec, examples: np.ndarray) -> tuple[int, Classes]:
        """Classify: (version, per example [(label, score), ...])."""
        with self.manager.servable(spec.name, spec.version, spec.label) as servable:
            return servable.version, self.classify_on(servable, spec, examples)

    def classify_on(
        self, servable: Servable, spec: RequestSpec, examples: np.ndarray
    ) -> Classes:
        outputs, rows = self._run_examples(servable, spec, CLASSIFY_METHOD, examples)
        return _classes(outputs, rows)

    def regress(
        self, spec: RequestSpec, examples: np.ndarray
    ) -> tuple[int, list[float]]:
        """Regress: (version, one value per example)."""
        with self.manager.servable(spec.name, spec.version, spec.label) as servable:
            return servable.version, self.regress_on(servable, spec, examples)

    def regress_on(
        self, servable: Servable, spec: RequestSpec, examples: np.ndarray
    ) -> list[float]:
        outputs, rows = self._run_examples(servable, spec, REGRESS_METHOD, examples)
        return _regressions(outputs, rows)

    def multi_inference(
        self, specs: list[RequestSpec], examples: np.ndarray
    ) -> tuple[int, list[tuple[str, Classes | list[float]]]]:
        """MultiInference: several classify/regress signatures, same examples.

        Returns (version, per task (method, classes or values)).
        """
        if not specs:
            raise invalid_argument("Expected at least one task")
        first = specs[0]
        with self.manager.servable(first.name, first.version, first.label) as servable:
            return servable.version, self.multi_inference_on(servable, specs, examples)

    def multi_inference_on(
        self, servable: Servable, specs: list[RequestSpec], examples: np.ndarray
    ) -> list[tuple[str, Classes | list[float]]]:
        if len({(s.name, s.version, s.label) for s in specs}) > 1:
            raise invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same model "
                "name and version."
            )
        names = [s.signature for s in specs]
        if len(set(names)) != len(names):
            raise invalid_argument(f"Duplicate evaluation of signature: {names}")
        results = []
        for spec in specs:
            method = _signature_def(servable, spec.signature).method_name
            if method == CLASSIFY_METHOD:
                results.append((method, self.classify_on(servable, spec, examples)))
            elif method == REGRESS_METHOD:
                results.append((method, self.regress_on(servable, spec, examples)))
            else:
                raise invalid_argument(f"Unsupported signature method_name: {method}")
        return results

    def metadata(
        self, spec: RequestSpec
    ) -> tuple[int, get_model_metadata_pb2.SignatureDefMap]:
        """(served version, every SignatureDef TF Serving lists), for both APIs."""
        with self.manager.servable(spec.name, spec.version, spec.label) as servable:
            signatures = servable.session.meta_graph.signature_def
            return servable.version, get_model_metadata_pb2.SignatureDefMap(
                signature_def=signatures
            )

    def statuses(self, spec: RequestSpec) -> list[VersionStatus]:
        return self.manager.statuses(spec.name, spec.version, spec.label)

    def warm_up(self, servable: Servable) -> int:
        """Replays ``assets.extra/tf_serving_warmup_requests`` on ``servable``.

        Each PredictionLog runs through the same request path as a client's,
        as TF Serving's warmup does, before the version becomes AVAILABLE; a
        failing record fails the load.
        """
        path = servable.path / WARMUP_FILE
        if not path.is_file():
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog.FromString(record)
            kind = log.WhichOneof("log_type")
            request = getattr(log, kind).request
            spec = RequestSpec(
                servable.name, signature_name=request.model_spec.signature_name
            )
            if kind == "predict_log":
                self.predict_on(
                    servable, spec, to_ndarrays(request.inputs), request.output_filter
                )
            elif kind == "classify_log":
                self.classify_on(servable, spec, serialized_examples(request.input))
            elif kind == "regress_log":
                self.regress_on(servable, spec, serialized_examples(request.input))
            elif kind == "multi_inference_log":
                specs = [
                    RequestSpec(
                        servable.name, signature_name=t.model_spec.signature_name
                    )
                    for t in request.tasks
                ]
                self.multi_inference_on(
                    servable, specs, serialized_examples(request.input)
                )
            else:
                raise ValueError(f"Unsupported warmup record kind {kind!r} in {path}.")
            count += 1
        return count
