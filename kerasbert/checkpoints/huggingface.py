"""Hugging Face BERT checkpoints (``config.json`` + safetensors) into an ``Encoder``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.checkpoints.assignment import assign_by_path
from kerasbert.models.encoder import Encoder

# Tensors a BertModel checkpoint may carry that are not parameters of the encoder.
_BUFFERS = ("embeddings.position_ids",)
_HEAD_PREFIXES = ("cls.",)
_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
}


def read_hf_checkpoint(
    path: str | os.PathLike,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The ``config.json`` and tensors of a Hugging Face model directory.

    Reads ``model.safetensors`` with ``safetensors.numpy`` (no torch needed),
    or ``pytorch_model.bin`` when torch is installed.

    Raises:
        FileNotFoundError: no config or no weights file in ``path``.
    """
    directory = Path(path)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"No config.json in {directory}")
    config = json.loads(config_path.read_text())
    safetensors_path = directory / "model.safetensors"
    if safetensors_path.is_file():
        from safetensors.numpy import load_file

        return config, load_file(str(safetensors_path))
    torch_path = directory / "pytorch_model.bin"
    if torch_path.is_file():
        import torch

        state = torch.load(str(torch_path), map_location="cpu", weights_only=True)
        return config, {name: tensor.numpy() for name, tensor in state.items()}
    raise FileNotFoundError(f"No model.safetensors or pytorch_model.bin in {directory}")


def bert_encoder_config(config: dict[str, Any]) -> dict[str, Any]:
    """``Encoder`` keyword arguments equivalent to a HF ``BertConfig`` dict."""
    activation = config.get("hidden_act", "gelu")
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"Unsupported hidden_act {activation!r}; known: {sorted(_ACTIVATIONS)}"
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("Only absolute position embeddings are supported.")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        hidden_size=config["hidden_size"],
        intermediate_size=config["intermediate_size"],
        max_sequence_length=config["max_position_embeddings"],
        type_vocabulary_size=config["type_vocab_size"],
        hidden_activation=_ACTIVATIONS[activation],
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
        dropout=config.get("hidden_dropout_prob", 0.1),
        attention_dropout=config.get("attention_probs_dropout_prob", 0.1),
        initializer_range=config.get("initializer_range", 0.02),
    )


def _linear(
    tensors: dict[str, np.ndarray], name: str, target: str
) -> dict[str, np.ndarray]:
    """A torch Linear ``[out, in]`` as a Keras Dense ``kernel [in, out]`` and bias."""
    return {
        f"{target}/kernel": tensors.pop(f"{name}.weight").T,
        f"{target}/bias": tensors.pop(f"{name}.bias"),
    }


def _layer_norm(
    tensors: dict[str, np.ndarray], name: str, target: str
) -> dict[str, np.ndarray]:
    return {
        f"{target}/gamma": tensors.pop(f"{name}.weight"),
        f"{target}/beta": tensors.pop(f"{name}.bias"),
    }


def bert_variable_arrays(
    tensors: dict[str, np.ndarray], num_layers: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Maps BERT tensor names to ``Encoder`` variable paths.

    q, k and v are fused into the ``[H, 3H]`` qkv kernel (column blocks q|k|v).

    Returns:
        ``(arrays by variable path, leftover tensors)``; the leftovers are what
        the encoder does not use (e.g. an MLM head), for the caller to check.
    """
    tensors = {name.removeprefix("bert."): value for name, value in tensors.items()}
    for buffer in _BUFFERS:
        tensors.pop(buffer, None)
    arrays = {
        "embeddings/token_embedding/embeddings": tensors.pop(
            "embeddings.word_embeddings.weight"
        ),
        "embeddings/position_embeddings": tensors.pop(
            "embeddings.position_embeddings.weight"
        ),
        **_layer_norm(tensors, "embeddings.LayerNorm", "embeddings/layer_norm"),
    }
    if "embeddings.token_type_embeddings.weight" in tensors:
        arrays["embeddings/segment_embedding/embeddings"] = tensors.pop(
            "embeddings.token_type_embeddings.weight"
        )
    for index in range(num_layers):
        source, attention, feed_forward = (
            f"encoder.layer.{index}",
            f"transformer/attention_{index}",
            f"transformer/feed_forward_{index}",
        )
        projections = [
            f"{source}.attention.self.{part}" for part in ("query", "key", "value")
        ]
        arrays[f"{attention}/qkv/kernel"] = np.concatenate(
            [tensors.pop(f"{p}.weight").T for p in projections], axis=1
        )
        arrays[f"{attention}/qkv/bias"] = np.concatenate(
            [tensors.pop(f"{p}.bias") for p in projections]
        )
        arrays.update(
            _linear(tensors, f"{source}.attention.output.dense", f"{attention}/output")
        )
        arrays.update(
            _layer_norm(
                tensors,
                f"{source}.attention.output.LayerNorm",
                f"{attention}/layer_norm",
            )
        )
        arrays.update(
            _linear(
                tensors, f"{source}.intermediate.dense", f"{feed_forward}/intermediate"
            )
        )
        arrays.update(
            _linear(tensors, f"{source}.output.dense", f"{feed_forward}/output")
        )
        arrays.update(
            _layer_norm(
                tensors, f"{source}.output.LayerNorm", f"{feed_forward}/layer_norm"
            )
        )
    if "pooler.dense.weight" in tensors:
        arrays.update(_linear(tensors, "pooler.dense", "pooler"))
    return arrays, tensors


def load_hf_bert(path: str | os.PathLike, **overrides: Any) -> Encoder:
    """Builds an ``Encoder`` from a Hugging Face BERT checkpoint directory.

    Accepts ``BertModel`` names and ``bert.``-prefixed ones
    (``BertForPreTraining``, ``BertForMaskedLM``, ...); the pretraining heads
    (``cls.*``) are not part of the encoder and are left out.

    Args:
        path: directory with ``config.json`` and ``model.safetensors``.
        **overrides: ``Encoder`` arguments to change, e.g. ``dropout=0.0``.

    Raises:
        ValueError: a tensor is missing, unexpected, or of the wrong shape
            (all are listed), or the vocabulary size disagrees with the config.
    """
    config, tensors = read_hf_checkpoint(path)
    encoder_config = bert_encoder_config(config)
    try:
        arrays, leftovers = bert_variable_arrays(tensors, encoder_config["num_layers"])
    except KeyError as error:
        raise ValueError(
            f"Checkpoint in {path} lacks the BERT tensor {error}."
        ) from error
    unexpected = sorted(
        name for name in leftovers if not name.startswith(_HEAD_PREFIXES)
    )
    if unexpected:
        raise ValueError(
            f"Checkpoint in {path} has tensors a BERT encoder does not use: "
            f"{unexpected}"
        )
    vocabulary_rows = arrays["embeddings/token_embedding/embeddings"].shape[0]
    if vocabulary_rows != encoder_config["vocabulary_size"]:
        raise ValueError(
            f"config.json says vocab_size={encoder_config['vocabulary_size']} but the "
            f"word embeddings have {vocabulary_rows} rows."
        )
    encoder_config["use_pooler"] = "pooler/kernel" in arrays
    encoder = Encoder(**{**encoder_config, **overrides})
    assign_by_path(encoder, arrays)
    return encoder
