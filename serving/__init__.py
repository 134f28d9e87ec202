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

Local server (``tensorflow_model_server``'s flags, files, gRPC and REST APIs):
    ``serving.server.ModelServer`` over ``serving.model_manager`` (models,
    version policies, labels, states, hot reload), ``serving.servable``
    (one version: ``serving.saved_model_session``, TensorFlow's C++ SavedModel
    loader, plus ``serving.batching``), ``serving.inference`` (TF Serving's
    request semantics and limits), ``serving.grpc_service``, ``serving.rest``
    (routes and dispatch; JSON in ``serving.rest_json``, ``serving.rest_inputs``,
    ``serving.rest_examples``, ``serving.rest_outputs``; HTTP/1.1 transport in
    ``serving.http_server`` and ``serving.http_connections``),
    ``serving.metrics``; files in ``serving.config_files``.

Submodules load TensorFlow, so import them explicitly; this package imports
nothing.
"""
