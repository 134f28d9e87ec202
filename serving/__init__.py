"""Serving kerasbert models with TF Serving, and a local server with its API.

Export (artifacts the stock ``tensorflow_model_server`` loads):
    ``serving.export.export_for_serving(model, tokenizer, "BASE/NAME")``
    writes ``BASE/NAME/<version>/`` (SavedModel with raw-text, text-pair,
    tensor and classify/regress signatures, warmup requests) and the TF
    Serving kit (``serving.kit``). Signatures: ``serving.signatures``;
    outputs per model type: ``serving.heads``.

Client:
    ``serving.client.PredictionClient``: gRPC Predict / Classify /
    GetModelMetadata / GetModelStatus with timeouts, bounded retries on
    UNAVAILABLE and TLS.

Local server (TF Serving's gRPC + REST APIs, for where the binary is absent):
    ``serving.server.ModelServer`` over ``serving.model_store`` (versions,
    hot reload), ``serving.inference`` (request checks), ``serving.batching``
    (dynamic batching), ``serving.grpc_service`` and ``serving.rest``.

Submodules load TensorFlow, so import them explicitly; this package imports
nothing.
"""
