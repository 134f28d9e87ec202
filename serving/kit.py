"""The TF Serving kit written next to the exported versions (``BASE/NAME/``).

* ``models.config``: a ``model_config_list`` for ``--model_config_file``,
  with this directory's absolute path as the base path (TF Serving refuses
  relative ones; in a container, mount the directory at that same path).
* ``batching_parameters``: for ``--enable_batching``. It leaves
  ``pad_variable_length_inputs`` off (that option pads with the first
  element, tensorflow/serving#1279): the raw-text signatures pad in-graph to
  a fixed length, so every request's tensors already agree past the batch
  axis and the batcher concatenates them as they are.
* ``monitoring.config``: Prometheus metrics at ``/monitoring/prometheus/metrics``.
* ``DEPLOY.md``: how to run it with the ``tensorflow/serving`` images.

TF Serving ignores non-numeric entries of the model directory, so these files
can live beside the version directories.
"""

from __future__ import annotations

from pathlib import Path

from kerasbert.atomic_files import write_text_atomically
from serving.config_files import (
    BatchingParameters,
    ModelConfig,
    MonitoringConfig,
    batching_parameters_text,
    model_config_text,
    monitoring_config_text,
)

MONITORING = MonitoringConfig(prometheus_enabled=True)
# One ``serving_default`` instance of the REST example (JSON).
TEXT_INSTANCE = '"a sentence to encode"'


def deploy_text(
    name: str,
    base_path: Path,
    signatures: dict[str, list[str]],
    sequence_length: int,
    instance: str = TEXT_INSTANCE,
) -> str:
    """DEPLOY.md: model server command lines, requests, batching and TPU notes.

    ``instance``: JSON of one ``serving_default`` instance for the example
    requests (an object for signatures with several inputs).
    """
    predict_line = ""
    if instance == TEXT_INSTANCE:  # the predict command sends text inputs
        predict_line = (
            f"kerasbert predict --server localhost:8500 --model {name} "
            f"{TEXT_INSTANCE}\n"
        )
    listing = "\n".join(
        f"| `{signature}` | {', '.join(f'`{o}`' for o in outputs)} |"
        for signature, outputs in signatures.items()
    )
    return f"""# Deploying `{name}` with TF Serving

This directory is a TF Serving model base path: integer version directories
(SavedModels; the highest is served) plus this kit.

| signature | outputs |
|---|---|
{listing}

Text inputs are tokenized, truncated and padded to {sequence_length} tokens inside
the graph (tensorflow-text ops that `tensorflow_model_server` links), so clients
send raw strings.

## How this export was verified

`kerasbert export` loaded the version with TensorFlow's C++ SavedModel loader
(`LoadSavedModel`, the one `tensorflow_model_server` uses: restore op, init op,
`Session::Run` on the SignatureDef tensor names) and replayed every warmup
request in `assets.extra/tf_serving_warmup_requests` through it before the
version directory appeared.

## tensorflow_model_server

One model, batching and Prometheus metrics on:

```sh
tensorflow_model_server --port=8500 --rest_api_port=8501 \\
  --model_name={name} --model_base_path={base_path} \\
  --enable_batching --batching_parameters_file={base_path}/batching_parameters \\
  --monitoring_config_file={base_path}/monitoring.config
```

With the config file (add entries to serve several models, pin versions with
`model_version_policy`, name them with `version_labels`):

```sh
tensorflow_model_server --port=8500 --rest_api_port=8501 \\
  --model_config_file={base_path}/models.config
```

`kerasbert serve` takes the same flags and files and behaves the same way
(same loader), for where the binary is not installed.

## Docker

Mount this directory at the path `models.config` names:

```sh
docker run --rm -p 8500:8500 -p 8501:8501 -v "{base_path}:{base_path}" \\
  tensorflow/serving:latest --model_config_file={base_path}/models.config \\
  --enable_batching --batching_parameters_file={base_path}/batching_parameters \\
  --monitoring_config_file={base_path}/monitoring.config
```

GPU: `--gpus all` and `tensorflow/serving:latest-gpu`. Use a TF Serving release at
least as new as the TensorFlow that exported the model. The tokenizer ops run on
the CPU either way.

## Requests

```sh
curl -s localhost:8501/v1/models/{name}
curl -s localhost:8501/v1/models/{name}/metadata
curl -s -X POST localhost:8501/v1/models/{name}:predict \\
  -d '{{"instances": [{instance}]}}'
curl -s localhost:8501/monitoring/prometheus/metrics
{predict_line}```

## Batching

`batching_parameters` leaves `pad_variable_length_inputs` off (it pads with the
first element, tensorflow/serving#1279): text is padded in-graph to a fixed
length, so requests to the text signatures agree past the batch axis and are
concatenated as they are. Requests to the `tensors` signature batch together
only when they share a sequence length; send them padded to {sequence_length}.

## TPU

The stock images do not serve on Cloud TPU. For TPU inference, convert the
SavedModel with the TPU Inference Converter (it places the `tensors`
computation on the TPU and keeps string ops on the host CPU) and serve it with
a TPU-enabled model server; the raw-text signatures still tokenize on the host.
"""


def write_kit(
    model_path: Path,
    signatures: dict[str, list[str]],
    sequence_length: int,
    batching: BatchingParameters,
    instance: str = TEXT_INSTANCE,
) -> list[Path]:
    """Writes (atomically, replacing older ones) the kit files; returns them.

    ``instance``: see ``deploy_text``.
    """
    name = model_path.name
    base_path = model_path.resolve()
    files = {
        "models.config": model_config_text([ModelConfig(name, base_path)]),
        "batching_parameters": batching_parameters_text(batching),
        "monitoring.config": monitoring_config_text(MONITORING),
        "DEPLOY.md": deploy_text(
            name, base_path, signatures, sequence_length, instance
        ),
    }
    written = []
    for filename, text in files.items():
        write_text_atomically(model_path / filename, text)
        written.append(model_path / filename)
    return written
