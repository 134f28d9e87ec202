"""TF Serving's gRPC API (PredictionService, ModelService) over an engine.

Messages are the ones from ``tensorflow-serving-api``, so any TF Serving
client (including ``serving.client``) talks to this server unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import wrappers_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
    status_pb2,
)

from serving.constants import CLASSIFY_METHOD, DEFAULT_SIGNATURE, REGRESS_METHOD
from serving.errors import ServingError, invalid_argument
from serving.inference import InferenceEngine
from serving.tensors import serialized_examples, to_ndarrays, to_tensor_protos

logger = logging.getLogger("serving")


def _version(spec: model_pb2.ModelSpec) -> int | None:
    if spec.HasField("version_label"):
        raise invalid_argument(
            "Version labels are not supported; ask for a version number or none."
        )
    return spec.version.value if spec.HasField("version") else None


def _spec(name: str, version: int, signature_name: str = "") -> model_pb2.ModelSpec:
    return model_pb2.ModelSpec(
        name=name,
        version=wrappers_pb2.Int64Value(value=version),
        signature_name=signature_name,
    )


def _rpc(method: Callable) -> Callable:
    """Aborts the RPC with the right status for any failure; never crashes."""

    @wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except ServingError as error:
            context.abort(error.code, error.message)
        except tf.errors.OpError as error:
            logger.exception("Model error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, error.message)
        except Exception as error:  # report, keep serving
            logger.exception("Unexpected error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")

    return wrapper


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict, Classify, Regress and GetModelMetadata."""

    def __init__(self, engine: InferenceEngine):
        self.engine = engine

    @_rpc
    def Predict(self, request: predict_pb2.PredictRequest, context):
        spec = request.model_spec
        version, outputs = self.engine.predict(
            spec.name,
            _version(spec),
            spec.signature_name,
            to_ndarrays(request.inputs),
            request.output_filter,
        )
        response = predict_pb2.PredictResponse(
            model_spec=_spec(
                spec.name, version, spec.signature_name or DEFAULT_SIGNATURE
            )
        )
        for name, proto in to_tensor_protos(outputs).items():
            response.outputs[name].CopyFrom(proto)
        return response

    def _examples(self, request, method: str):
        spec = request.model_spec
        version, outputs = self.engine.run_examples(
            spec.name,
            _version(spec),
            spec.signature_name,
            method,
            serialized_examples(request.input),
        )
        return _spec(spec.name, version, spec.signature_name), outputs

    @_rpc
    def Classify(self, request: classification_pb2.ClassificationRequest, context):
        spec, outputs = self._examples(request, CLASSIFY_METHOD)
        scores = outputs["scores"]
        classes = outputs.get("classes")
        if classes is None:
            classes = np.broadcast_to(
                np.arange(scores.shape[1]).astype(str).astype(object), scores.shape
            )
        result = classification_pb2.ClassificationResult(
            classifications=[
                classification_pb2.Classifications(
                    classes=[
                        classification_pb2.Class(
                            label=label.decode() if isinstance(label, bytes) else label,
                            score=float(score),
                        )
                        for label, score in zip(row_classes, row_scores, strict=True)
                    ]
                )
                for row_classes, row_scores in zip(classes, scores, strict=True)
            ]
        )
        return classification_pb2.ClassificationResponse(model_spec=spec, result=result)

    @_rpc
    def Regress(self, request: regression_pb2.RegressionRequest, context):
        spec, outputs = self._examples(request, REGRESS_METHOD)
        values = outputs["outputs"].reshape(-1)
        result = regression_pb2.RegressionResult(
            regressions=[regression_pb2.Regression(value=float(v)) for v in values]
        )
        return regression_pb2.RegressionResponse(model_spec=spec, result=result)

    @_rpc
    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context
    ):
        fields = set(request.metadata_field)
        if fields != {"signature_def"}:
            raise invalid_argument(
                "Metadata field(s) must be exactly ['signature_def'], got "
                f"{sorted(fields)}."
            )
        spec = request.model_spec
        version, signatures = self.engine.metadata(spec.name, _version(spec))
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature in signatures.items():
            signature_map.signature_def[name].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse(
            model_spec=_spec(spec.name, version)
        )
        response.metadata["signature_def"].Pack(signature_map)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus: the health check when no gRPC health service is installed."""

    def __init__(self, engine: InferenceEngine):
        self.engine = engine

    @_rpc
    def GetModelStatus(
        self, request: get_model_status_pb2.GetModelStatusRequest, context
    ):
        spec = request.model_spec
        states = self.engine.states(spec.name, _version(spec))
        state_enum = get_model_status_pb2.ModelVersionStatus.State
        return get_model_status_pb2.GetModelStatusResponse(
            model_version_status=[
                get_model_status_pb2.ModelVersionStatus(
                    version=version,
                    state=state_enum.Value(state),
                    status=status_pb2.StatusProto(),
                )
                for version, state in sorted(states.items())
            ]
        )


def add_services(server: grpc.Server, engine: InferenceEngine) -> None:
    """Registers both TF Serving services on ``server``."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(engine), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelService(engine), server
    )
