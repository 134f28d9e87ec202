"""Hugging Face checkpoints (``config.json`` + safetensors) to and from ``Encoder``.

Supports the ``model_type``s in ``HF_ARCHITECTURES`` (BERT, ALBERT, ELECTRA,
DistilBERT, RoBERTa). Task-model checkpoints (``BertForPreTraining``,
``ElectraForMaskedLM``, ...) are accepted: their base-model tensors carry a
prefix such as ``bert.``, and everything outside that prefix is a head, which
the encoder leaves out. In a bare base-model checkpoint every tensor must be
used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.atomic_files import staged_directory, write_json_atomically
from kerasbert.checkpoints.files import read_json
from kerasbert.checkpoints.hf_architectures import HF_ARCHITECTURES, hf_architecture
from kerasbert.checkpoints.layouts import encoder_rules, infer_architecture
from kerasbert.checkpoints.mapping import export_tensors, load_into
from kerasbert.models.encoder import Encoder

# Non-parameter buffers older checkpoints saved with the embeddings.
_BUFFER_SUFFIXES = (".position_ids", ".token_type_ids")


def read_hf_checkpoint(
    path: str | os.PathLike,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The ``config.json`` and tensors of a Hugging Face model directory.

    Raises:
        FileNotFoundError: no config or no weights file in ``path``.
        ValueError: a config or weights file that cannot be parsed.
    """
    return read_json(Path(path) / "config.json"), read_hf_tensors(path)


def read_hf_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a Hugging Face model directory, by name.

    Reads ``model.safetensors`` with ``safetensors.numpy`` (no torch needed),
    or ``pytorch_model.bin`` when torch is installed.

    Raises:
        FileNotFoundError: no weights file in ``path``.
        ValueError: a weights file that cannot be parsed.
        ImportError: only ``pytorch_model.bin`` is there and torch is not.
    """
    directory = Path(path)
    safetensors_path = directory / "model.safetensors"
    if safetensors_path.is_file():
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            return load_file(str(safetensors_path))
        except (SafetensorError, ValueError, OSError) as error:
            raise ValueError(f"Cannot read {safetensors_path}: {error}") from error
    torch_path = directory / "pytorch_model.bin"
    if torch_path.is_file():
        try:
            import torch
        except ImportError as error:
            raise ImportError(
                f"{torch_path} is a PyTorch pickle; install torch to read it, or "
                "convert it to model.safetensors."
            ) from error
        try:
            state = torch.load(str(torch_path), map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for bad pickles
            raise ValueError(f"Cannot read {torch_path}: {error}") from error
        return {name: tensor.float().numpy() for name, tensor in state.items()}
    raise FileNotFoundError(f"No model.safetensors or pytorch_model.bin in {directory}")


def split_base_model(
    tensors: dict[str, np.ndarray], prefix: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Separates base-model tensors (prefix removed) from head tensors.

    Without any ``prefix``-ed name the checkpoint is a bare base model and has
    no heads.
    """
    if not any(name.startswith(prefix) for name in tensors):
        return dict(tensors), {}
    base = {
        n.removeprefix(prefix): t for n, t in tensors.items() if n.startswith(prefix)
    }
    heads = {n: t for n, t in tensors.items() if not n.startswith(prefix)}
    return base, heads


def load_hf(path: str | os.PathLike, **overrides: Any) -> Encoder:
    """Builds an ``Encoder`` from a Hugging Face checkpoint directory.

    The architecture comes from ``model_type`` in ``config.json`` (absent in
    very old BERT configs, which are read as ``"bert"``) and is recorded as
    the encoder's ``architecture``, which ``save_hf`` and the other writers
    keep. A pooler is built exactly when the checkpoint has one.

    Args:
        path: directory with ``config.json`` and ``model.safetensors`` (or
            ``pytorch_model.bin``).
        **overrides: ``Encoder`` arguments to change, e.g. ``dropout_rate=0.0``.

    Raises:
        ValueError: an unsupported ``model_type``, a tensor missing, unused or
            of the wrong shape (all are listed), or a vocabulary size that
            disagrees with the config. Nothing is half-loaded.
    """
    config = read_json(Path(path) / "config.json")
    model_type = config.get("model_type", "bert")
    architecture = hf_architecture(model_type)
    layout = architecture.layout(config)
    base, _ = split_base_model(read_hf_tensors(path), architecture.prefix)
    encoder_config = dict(architecture.encoder_config(config), architecture=model_type)
    words = base.get(layout.naming.table.format(layout.word_embeddings))
    if words is not None and words.shape[0] != encoder_config["vocabulary_size"]:
        raise ValueError(
            f"config.json says vocab_size={encoder_config['vocabulary_size']} but the "
            f"word embeddings have {words.shape[0]} rows."
        )
    if layout.pooler:
        encoder_config["use_pooler"] = (
            layout.naming.kernel.format(layout.pooler) in base
        )
    encoder = Encoder(**{**encoder_config, **overrides})
    load_into(
        encoder,
        base,
        encoder_rules(layout, encoder),
        ignore=lambda name: name.endswith(_BUFFER_SUFFIXES),
        source=f"Hugging Face checkpoint in {path}",
    )
    return encoder


# The historical name: it loads every supported architecture, not only BERT.
load_hf_bert = load_hf


def hf_files(
    encoder: Encoder, model_type: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The ``config.json`` dict and base-model tensors ``save_hf`` writes.

    Split out so that ``save_hf_masked_lm`` writes the same encoder with its
    heads. ``model_type`` as in ``save_hf``.
    """
    model_type = model_type or infer_architecture(encoder, HF_ARCHITECTURES)
    architecture = hf_architecture(model_type)
    config = architecture.hf_config(encoder)
    config["architectures"] = [architecture.model_class]
    layout = architecture.layout(config)
    tensors = export_tensors(
        encoder,
        encoder_rules(layout, encoder),
        target=f"Hugging Face {model_type}",
    )
    if layout.segment_embeddings and encoder.type_vocabulary_size == 0:
        name = layout.naming.table.format(layout.segment_embeddings)
        tensors[name] = np.zeros((1, encoder.embedding_size), np.float32)
    return config, tensors


def write_hf_files(
    path: str | os.PathLike, config: dict[str, Any], tensors: dict[str, np.ndarray]
) -> Path:
    """Writes ``config.json`` and ``model.safetensors`` into ``path`` atomically."""
    from safetensors.numpy import save_file

    with staged_directory(path) as scratch:
        save_file(
            tensors, str(scratch / "model.safetensors"), metadata={"format": "pt"}
        )
        write_json_atomically(scratch / "config.json", config, sort_keys=True)
    return Path(path)


def save_hf(
    encoder: Encoder, path: str | os.PathLike, model_type: str | None = None
) -> Path:
    """Writes ``encoder`` as a Hugging Face base-model checkpoint directory.

    The result (``config.json`` + ``model.safetensors``) loads with
    ``transformers.AutoModel.from_pretrained(path)``. Architectures whose
    Hugging Face model always has segment embeddings get a one-row zero
    table when the encoder has none (adding zero changes nothing).

    Args:
        encoder: the encoder to write.
        path: the output directory (created; files are replaced atomically).
        model_type: ``"bert"``, ``"albert"``, ``"electra"``, ``"distilbert"`` or
            ``"roberta"``; by default the one the encoder was read as, else
            inferred from its structure.

    Raises:
        ValueError: the encoder does not fit ``model_type`` (e.g. a pooler
            for ELECTRA, shared layers for BERT); the parts are named.
    """
    return write_hf_files(path, *hf_files(encoder, model_type))
