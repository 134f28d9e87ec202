"""TF Serving warmup requests: real requests replayed when a version loads.

TF Serving reads ``assets.extra/tf_serving_warmup_requests`` (a TFRecord of
``PredictionLog`` protos) and runs each one before marking the version
AVAILABLE, so the first client request does not pay for graph
initialisation. ``serving.inference.InferenceEngine.warm_up`` replays the
same file through the server's request path (and the exporter replays it
through the C++ loader before a version appears).
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    prediction_log_pb2,
    regression_pb2,
)

from serving.constants import DEFAULT_SIGNATURE, WARMUP_FILE
from serving.signatures import ServingModule
from serving.tensors import text_example, to_tensor_protos


def sample_texts(mask_token: str) -> list[str]:
    """Short texts for warmup requests; one holds a mask token (for MLM)."""
    return [
        "The quick brown fox jumps over the lazy dog.",
        f"Paris is the {mask_token} of France.",
    ]


def warmup_logs(
    module: ServingModule, model_name: str
) -> list[prediction_log_pb2.PredictionLog]:
    """One request per signature of ``module``, on ``sample_texts``."""
    texts = sample_texts(module.tokenizer.vocabulary[module.tokenizer.mask_id])
    features = module.pack(tf.constant(texts))
    inputs = {
        DEFAULT_SIGNATURE: {"text": texts},
        "text_pair": {"text": texts, "text_pair": texts[::-1]},
        "tensors": {name: features[name].numpy() for name in module.input_names},
    }
    logs = []
    for signature, arrays in inputs.items():
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
        )
        for name, proto in to_tensor_protos(arrays).items():
            request.inputs[name].CopyFrom(proto)
        logs.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    if module.task_kind:
        spec = model_pb2.ModelSpec(name=model_name, signature_name=module.task_kind)
        examples = input_pb2.Input(
            example_list=input_pb2.ExampleList(
                examples=[text_example(text) for text in texts]
            )
        )
        if module.task_kind == "classify":
            log = prediction_log_pb2.PredictionLog(
                classify_log=prediction_log_pb2.ClassifyLog(
                    request=classification_pb2.ClassificationRequest(
                        model_spec=spec, input=examples
                    )
                )
            )
        else:
            log = prediction_log_pb2.PredictionLog(
                regress_log=prediction_log_pb2.RegressLog(
                    request=regression_pb2.RegressionRequest(
                        model_spec=spec, input=examples
                    )
                )
            )
        logs.append(log)
    return logs


def write_warmup_file(
    version_dir: Path, logs: list[prediction_log_pb2.PredictionLog]
) -> Path:
    """Writes ``logs`` to ``version_dir/assets.extra/tf_serving_warmup_requests``."""
    path = version_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path
