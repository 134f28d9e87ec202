"""The TF Serving kit written next to the exported versions (``BASE/NAME/``).

* ``models.config``: a ``model_config_list`` for ``--model_config_file``.
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

import os
import tempfile
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.model_store import BatchingConfig


def atomic_write_text(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temp file + ``os.replace``."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as handle:
        handle.write(text)
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile creates 0600
    os.replace(handle.name, path)


def models_config(name: str, container_path: str) -> str:
    """``ModelServerConfig`` text proto serving the latest version of ``name``."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(
        name=name, base_path=container_path, model_platform="tensorflow"
    )
    model.model_version_policy.latest.num_versions = 1
    return text_format.MessageToString(config)


def batching_parameters(batching: BatchingConfig) -> str:
    """``BatchingParameters`` text proto (no variable-length padding)."""
    return f"""max_batch_size {{ value: {batching.max_batch_size} }}
batch_timeout_micros {{ value: {round(batching.timeout_s * 1e6)} }}
max_enqueued_batches {{ value: 100 }}
num_batch_threads {{ value: {batching.num_threads} }}
"""


MONITORING_CONFIG = """prometheus_config {
  enable: true
  path: "/monitoring/prometheus/metrics"
}
"""


def deploy_text(
    name: str, signatures: dict[str, list[str]], sequence_length: int
) -> str:
    """DEPLOY.md: docker commands, request examples, batching and TPU notes."""
    listing = "\n".join(
        f"| `{signature}` | {', '.join(f'`{o}`' for o in outputs)} |"
        for signature, outputs in signatures.items()
    )
    flags = " \\\n    ".join(
        [
            "--enable_batching",
            f"--batching_parameters_file=/models/{name}/batching_parameters",
            f"--monitoring_config_file=/models/{name}/monitoring.config",
        ]
    )
    return f"""# Deploying `{name}` with TF Serving

This directory is a TF Serving model base path: integer version directories
(SavedModels, the highest is served) plus this kit. Mount it at `/models/{name}`.

| signature | outputs |
|---|---|
{listing}

Text inputs are tokenized, truncated and padded to {sequence_length} tokens inside
the graph (tensorflow-text ops that `tensorflow_model_server` links), so clients
send raw strings.

## CPU

```sh
docker run --rm -p 8500:8500 -p 8501:8501 \\
  -v "$PWD:/models/{name}" -e MODEL_NAME={name} \\
  tensorflow/serving:latest \\
    {flags}
```

## GPU

```sh
docker run --rm --gpus all -p 8500:8500 -p 8501:8501 \\
  -v "$PWD:/models/{name}" -e MODEL_NAME={name} \\
  tensorflow/serving:latest-gpu \\
    {flags}
```

Use a TF Serving release at least as new as the TensorFlow that exported the
model. The tokenizer ops run on the CPU either way; the encoder runs on the GPU.

## Requests

```sh
curl -s localhost:8501/v1/models/{name}
curl -s localhost:8501/v1/models/{name}/metadata
curl -s -X POST localhost:8501/v1/models/{name}:predict \\
  -d '{{"instances": ["a sentence to encode"]}}'
kerasbert predict --server localhost:8500 --model {name} "a sentence to encode"
```

## Batching

`batching_parameters` enables server-side batching without
`pad_variable_length_inputs` (it pads with the first element,
tensorflow/serving#1279). It is not needed: text is padded in-graph to a fixed
length, so all requests to the text signatures have the same shape past the
batch axis. Requests to the `tensors` signature batch together only when they
share a sequence length; send them padded to {sequence_length}.

## TPU

The stock images do not serve on Cloud TPU. For TPU inference, convert the
SavedModel with the TPU Inference Converter (it places the `tensors`
computation on the TPU and keeps string ops on the host CPU) and serve it
with a TPU-enabled model server (e.g. Vertex AI); the raw-text signatures
still tokenize on the host.

## Files

* `models.config`: a `model_config_list`; pass
  `--model_config_file=/models/{name}/models.config` instead of `MODEL_NAME`
  (add more models to it to serve several).
* `batching_parameters`, `monitoring.config`: used by the commands above;
  Prometheus metrics are at `localhost:8501/monitoring/prometheus/metrics`.
"""


def write_kit(
    model_path: Path,
    signatures: dict[str, list[str]],
    sequence_length: int,
    batching: BatchingConfig,
) -> list[Path]:
    """Writes (atomically, replacing older ones) the kit files; returns them."""
    name = model_path.name
    files = {
        "models.config": models_config(name, f"/models/{name}"),
        "batching_parameters": batching_parameters(batching),
        "monitoring.config": MONITORING_CONFIG,
        "DEPLOY.md": deploy_text(name, signatures, sequence_length),
    }
    written = []
    for filename, text in files.items():
        atomic_write_text(model_path / filename, text)
        written.append(model_path / filename)
    return written
