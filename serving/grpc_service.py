"""TF Serving's gRPC API (PredictionService, ModelService) over an engine.

Messages are the ones from ``tensorflow-serving-api``, so any TF Serving
client (including ``serving.client``) talks to this server unchanged, and
answers are filled as TF Serving fills them: Predict outputs in the typed
value fields, ``model_spec`` with the served version and signature.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

import grpc
from google.protobuf import wrappers_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
    status_pb2,
)

from serving.constants import CLASSIFY_METHOD
from serving.errors import ServingError, invalid_argument
from serving.inference import Classes, InferenceEngine, RequestSpec
from serving.tensors import serialized_examples, to_ndarrays, to_typed_tensor_proto

logger = logging.getLogger("serving")
ENTRYPOINT = "GRPC"


def request_spec(spec: model_pb2.ModelSpec) -> RequestSpec:
    """A ``ModelSpec`` as the engine's ``RequestSpec``."""
    choice = spec.WhichOneof("version_choice")
    return RequestSpec(
        name=spec.name,
        version=spec.version.value if choice == "version" else None,
        label=spec.version_label if choice == "version_label" else None,
        signature_name=spec.signature_name,
    )


def response_spec(
    name: str, version: int, signature_name: str = ""
) -> model_pb2.ModelSpec:
    return model_pb2.ModelSpec(
        name=name,
        version=wrappers_pb2.Int64Value(value=version),
        signature_name=signature_name,
    )


def _rpc(api: str) -> Callable:
    """Counts the call and aborts it with the right status on any failure."""

    def decorate(method: Callable) -> Callable:
        @wraps(method)
        def wrapper(self, request, context):
            name = getattr(getattr(request, "model_spec", None), "name", "")
            try:
                with self.engine.observe(api, ENTRYPOINT, name):
                    return method(self, request, context)
            except ServingError as error:
                context.abort(error.code, error.message)
            except Exception as error:  # a server bug: report, keep serving
                logger.exception("Unexpected error in %s", method.__name__)
                context.abort(
                    grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}"
                )

        return wrapper

    return decorate


def classification_result(classes: Classes) -> classification_pb2.ClassificationResult:
    """Per example, its classes; a label or score the model lacks is unset."""
    result = classification_pb2.ClassificationResult()
    for row in classes:
        classifications = result.classifications.add()
        for label, score in row:
            entry = classifications.classes.add()
            if label is not None:
                entry.label = label
            if score is not None:
                entry.score = score
    return result


def regression_result(values: list[float]) -> regression_pb2.RegressionResult:
    return regression_pb2.RegressionResult(
        regressions=[regression_pb2.Regression(value=v) for v in values]
    )


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict, Classify, Regress, MultiInference and GetModelMetadata."""

    def __init__(self, engine: InferenceEngine):
        self.engine = engine

    @_rpc("Predict")
    def Predict(self, request: predict_pb2.PredictRequest, context):
        spec = request_spec(request.model_spec)
        inputs = to_ndarrays(request.inputs, self.engine.limits.max_tensor_elements)
        version, outputs = self.engine.predict(spec, inputs, request.output_filter)
        response = predict_pb2.PredictResponse(
            model_spec=response_spec(spec.name, version, spec.signature)
        )
        for name, array in outputs.items():
            response.outputs[name].CopyFrom(to_typed_tensor_proto(array))
        return response

    @_rpc("Classify")
    def Classify(self, request: classification_pb2.ClassificationRequest, context):
        spec = request_spec(request.model_spec)
        version, classes = self.engine.classify(
            spec, serialized_examples(request.input)
        )
        return classification_pb2.ClassificationResponse(
            model_spec=response_spec(spec.name, version, spec.signature),
            result=classification_result(classes),
        )

    @_rpc("Regress")
    def Regress(self, request: regression_pb2.RegressionRequest, context):
        spec = request_spec(request.model_spec)
        version, values = self.engine.regress(spec, serialized_examples(request.input))
        return regression_pb2.RegressionResponse(
            model_spec=response_spec(spec.name, version, spec.signature),
            result=regression_result(values),
        )

    @_rpc("MultiInference")
    def MultiInference(self, request: inference_pb2.MultiInferenceRequest, context):
        specs = [request_spec(task.model_spec) for task in request.tasks]
        version, results = self.engine.multi_inference(
            specs, serialized_examples(request.input)
        )
        response = inference_pb2.MultiInferenceResponse()
        for spec, (method, result) in zip(specs, results, strict=True):
            entry = response.results.add(
                model_spec=response_spec(spec.name, version, spec.signature)
            )
            if method == CLASSIFY_METHOD:
                entry.classification_result.CopyFrom(classification_result(result))
            else:
                entry.regression_result.CopyFrom(regression_result(result))
        return response

    @_rpc("GetModelMetadata")
    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context
    ):
        fields = list(request.metadata_field)
        if fields != ["signature_def"]:
            raise invalid_argument(
                "Metadata field(s) must be exactly ['signature_def'], got "
                f"{sorted(fields)}."
            )
        spec = request_spec(request.model_spec)
        version, signature_map = self.engine.metadata(spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse(
            model_spec=response_spec(spec.name, version)
        )
        response.metadata["signature_def"].Pack(signature_map)
        return response


def status_response(
    engine: InferenceEngine, spec: RequestSpec
) -> get_model_status_pb2.GetModelStatusResponse:
    """GetModelStatusResponse: every matching version, its state and error."""
    state_enum = get_model_status_pb2.ModelVersionStatus.State
    return get_model_status_pb2.GetModelStatusResponse(
        model_version_status=[
            get_model_status_pb2.ModelVersionStatus(
                version=status.version,
                state=state_enum.Value(status.state),
                status=status_pb2.StatusProto(
                    error_code=grpc.StatusCode[status.error_code].value[0],
                    error_message=status.error_message,
                ),
            )
            for status in engine.statuses(spec)
        ]
    )


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus (config reloading is not offered: restart instead)."""

    def __init__(self, engine: InferenceEngine):
        self.engine = engine

    @_rpc("GetModelStatus")
    def GetModelStatus(
        self, request: get_model_status_pb2.GetModelStatusRequest, context
    ):
        return status_response(self.engine, request_spec(request.model_spec))


def add_services(server: grpc.Server, engine: InferenceEngine) -> None:
    """Registers both TF Serving services on ``server``."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(engine), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelService(engine), server
    )
