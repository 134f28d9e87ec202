"""TF Serving warmup requests: real requests replayed when a version loads.

TF Serving reads ``assets.extra/tf_serving_warmup_requests`` (a TFRecord of
``PredictionLog`` protos) and runs each one before marking the version
AVAILABLE, so the first client request does not pay for graph
initialisation. ``serving.inference.InferenceEngine.warm_up`` replays the
same file through the server's request path (and the exporter replays it
through the C++ loader before a version appears).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    prediction_log_pb2,
    regression_pb2,
)

from serving.constants import CLASSIFY_METHOD, DEFAULT_SIGNATURE, WARMUP_FILE
from serving.heads import Features
from serving.signatures import TEXT_PAIR_FEATURE, ServingModule
from serving.tensors import text_example, to_tensor_protos
from serving.text_task_signatures import TextTaskServingModule

# Signature -> its Predict inputs; signature -> the tf.Examples of its request.
PredictInputs = dict[str, dict[str, object]]
ExampleInputs = dict[str, list[example_pb2.Example]]

# squad warmup pairs: one non-ASCII context, one empty.
QUESTIONS = ["Who jumps over the dog?", "Where is it?"]
CONTEXTS = ["The quick brown fox jumps over the lazy dog in Zürich.", ""]


def sample_texts(mask_token: str) -> list[str]:
    """Short texts for warmup requests; one holds a mask token (for MLM)."""
    return [
        "The quick brown fox jumps over the lazy dog.",
        f"Paris is the {mask_token} of France.",
    ]


def _tensors_inputs(
    pack: Callable[..., Features], names: list[str], *texts: list[str]
) -> dict[str, np.ndarray]:
    """The ``tensors`` inputs ``names`` for ``texts`` packed by ``pack``."""
    features = pack(*[tf.constant(part) for part in texts])
    return {name: features[name].numpy() for name in names}


def _model_inputs(module: ServingModule) -> tuple[PredictInputs, ExampleInputs]:
    """``ServingModule``: the sample texts alone, as pairs and as tensors."""
    texts = sample_texts(module.tokenizer.vocabulary[module.tokenizer.mask_id])
    predict: PredictInputs = {
        DEFAULT_SIGNATURE: {"text": texts},
        "text_pair": {"text": texts, TEXT_PAIR_FEATURE: texts[::-1]},
        "tensors": _tensors_inputs(module.pack, module.input_names, texts),
    }
    if not module.task_kind:
        return predict, {}
    return predict, {module.task_kind: [text_example(text) for text in texts]}


def _text_task_inputs(
    module: TextTaskServingModule,
) -> tuple[PredictInputs, ExampleInputs]:
    """``TextTaskServingModule``: task inputs; examples with and without pairs."""
    if module.task == "squad":
        texts = [QUESTIONS, CONTEXTS]
    else:  # a sentence, an empty one, one longer than S
        sentence = sample_texts("")[0]
        texts = [[sentence, "", " ".join(["dog"] * module.sequence_length)]]
    predict: PredictInputs = {
        DEFAULT_SIGNATURE: dict(zip(module.text_input_names, texts, strict=True)),
        "tensors": _tensors_inputs(module.task_features, module.input_names, *texts),
    }
    if not module.task_kind:
        return predict, {}
    sentences = texts[0]
    predict["text_pair"] = {"text": sentences, TEXT_PAIR_FEATURE: sentences[::-1]}
    paired = text_example(sentences[0])
    paired.MergeFrom(text_example(sentences[2], TEXT_PAIR_FEATURE))
    return predict, {module.task_kind: [text_example(sentences[0]), paired]}


def _predict_log(
    spec: model_pb2.ModelSpec, inputs: dict[str, object]
) -> prediction_log_pb2.PredictionLog:
    """A Predict request log on ``inputs``."""
    request = predict_pb2.PredictRequest(model_spec=spec)
    for name, proto in to_tensor_protos(inputs).items():
        request.inputs[name].CopyFrom(proto)
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )


def _examples_log(
    spec: model_pb2.ModelSpec, method: str, examples: list[example_pb2.Example]
) -> prediction_log_pb2.PredictionLog:
    """A Classify or Regress request log (by ``method``) on ``examples``."""
    listing = input_pb2.Input(example_list=input_pb2.ExampleList(examples=examples))
    if method == CLASSIFY_METHOD:
        return prediction_log_pb2.PredictionLog(
            classify_log=prediction_log_pb2.ClassifyLog(
                request=classification_pb2.ClassificationRequest(
                    model_spec=spec, input=listing
                )
            )
        )
    return prediction_log_pb2.PredictionLog(
        regress_log=prediction_log_pb2.RegressLog(
            request=regression_pb2.RegressionRequest(model_spec=spec, input=listing)
        )
    )


def warmup_logs(
    module: ServingModule, model_name: str
) -> list[prediction_log_pb2.PredictionLog]:
    """One request per signature of ``module``.

    ``ServingModule``: ``sample_texts``. ``TextTaskServingModule``: a
    sentence, an empty string and one longer than S (squad: ``QUESTIONS``,
    ``CONTEXTS``); its Classify/Regress request mixes an example with and one
    without ``text_pair``.
    """
    if isinstance(module, TextTaskServingModule):
        predict, examples = _text_task_inputs(module)
    else:
        predict, examples = _model_inputs(module)
    methods = module.method_names()

    def spec(signature: str) -> model_pb2.ModelSpec:
        return model_pb2.ModelSpec(name=model_name, signature_name=signature)

    logs = [_predict_log(spec(name), inputs) for name, inputs in predict.items()]
    logs += [
        _examples_log(spec(name), methods[name], listing)
        for name, listing in examples.items()
    ]
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
