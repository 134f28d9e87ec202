"""Hugging Face architectures: config translation and tensor-name layouts.

``HF_ARCHITECTURES`` is keyed by the ``model_type`` of a ``config.json``.
Each entry knows how to turn that config into ``Encoder`` arguments and back,
and where the encoder's parts live in the state dict (without the base-model
prefix such as ``bert.``).

RoBERTa keeps its one-row segment (token type) table as a one-row
``segment_embedding``: folding that row into the position table would change
the float summation order (results would differ by rounding, not exactly), and
the round trip back to Hugging Face would not reproduce the original tensors.
Callers feed ``segment_ids`` of zeros, as Hugging Face itself does.

RoBERTa numbers positions from ``padding_idx + 1`` and derives them from
``input_ids != padding_idx``; the encoder numbers them from 0 and drops the
first ``padding_idx + 1`` rows of the table, which gives the same outputs for
right-padded inputs whose real tokens are not the pad id (how RoBERTa is fed).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kerasbert.checkpoints.layouts import HF_NAMING, BlockNames, Layout, bert_block
from kerasbert.checkpoints.mapping import offset_rows
from kerasbert.layers.transformer_stack import group_of_layer
from kerasbert.models.encoder import Encoder

_TO_KERASBERT_ACTIVATION = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
}
_TO_HF_ACTIVATION = {
    "gelu": "gelu",
    "gelu_exact": "gelu",
    "gelu_approximate": "gelu_new",
    "gelu_new": "gelu_new",
    "relu": "relu",
}
DISTILBERT_LAYER_NORM_EPSILON = 1e-12  # hard-coded in Hugging Face's DistilBERT


def kerasbert_activation(name: str) -> str:
    """The ``Encoder`` activation for a Hugging Face ``hidden_act``."""
    if name not in _TO_KERASBERT_ACTIVATION:
        raise ValueError(
            f"Unsupported activation {name!r}; "
            f"known: {sorted(_TO_KERASBERT_ACTIVATION)}"
        )
    return _TO_KERASBERT_ACTIVATION[name]


def hf_activation(name: str) -> str:
    """The Hugging Face ``hidden_act`` for an ``Encoder`` activation."""
    if name not in _TO_HF_ACTIVATION:
        raise ValueError(
            f"Activation {name!r} has no Hugging Face name; "
            f"known: {sorted(_TO_HF_ACTIVATION)}"
        )
    return _TO_HF_ACTIVATION[name]


@dataclass(frozen=True)
class HFArchitecture:
    """One Hugging Face ``model_type``.

    Attributes:
        prefix: the base model's prefix in task-model checkpoints.
        model_class: the base model class written to ``architectures``.
        encoder_config: HF config dict -> ``Encoder`` keyword arguments.
        hf_config: ``Encoder`` -> HF config dict (``model_type`` included).
        layout: HF config dict -> the tensor names.
    """

    prefix: str
    model_class: str
    encoder_config: Callable[[dict[str, Any]], dict[str, Any]]
    hf_config: Callable[[Encoder], dict[str, Any]]
    layout: Callable[[dict[str, Any]], Layout]


def _require(config: dict[str, Any], *keys: str) -> None:
    missing = [key for key in keys if key not in config]
    if missing:
        raise ValueError(f"config.json lacks {missing}")


def _bert_encoder_config(config: dict[str, Any]) -> dict[str, Any]:
    _require(
        config,
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
    )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("Only absolute position embeddings are supported.")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        hidden_size=config["hidden_size"],
        intermediate_size=config["intermediate_size"],
        embedding_size=config.get("embedding_size"),
        max_sequence_length=config["max_position_embeddings"],
        type_vocabulary_size=config.get("type_vocab_size", 2),
        hidden_activation=kerasbert_activation(config.get("hidden_act", "gelu")),
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
        dropout_rate=config.get("hidden_dropout_prob", 0.1),
        attention_dropout_rate=config.get("attention_probs_dropout_prob", 0.1),
        initializer_range=config.get("initializer_range", 0.02),
    )


def _bert_hf_config(model_type: str) -> Callable[[Encoder], dict[str, Any]]:
    def hf_config(encoder: Encoder) -> dict[str, Any]:
        return dict(
            model_type=model_type,
            vocab_size=encoder.vocabulary_size,
            hidden_size=encoder.hidden_size,
            num_hidden_layers=encoder.num_layers,
            num_attention_heads=encoder.num_heads,
            intermediate_size=encoder.intermediate_size,
            max_position_embeddings=encoder.max_sequence_length,
            # Hugging Face always adds a segment table: an encoder without one
            # is written with a single all-zero row (see save_hf).
            type_vocab_size=max(encoder.type_vocabulary_size, 1),
            hidden_act=hf_activation(encoder.hidden_activation),
            layer_norm_eps=encoder.layer_norm_epsilon,
            hidden_dropout_prob=encoder.dropout_rate,
            attention_probs_dropout_prob=encoder.attention_dropout_rate,
            initializer_range=encoder.initializer_range,
        )

    return hf_config


def _bert_layout(config: dict[str, Any]) -> Layout:
    return Layout(
        naming=HF_NAMING,
        word_embeddings="embeddings.word_embeddings",
        position_embeddings="embeddings.position_embeddings",
        segment_embeddings="embeddings.token_type_embeddings",
        embedding_norm="embeddings.LayerNorm",
        block=bert_block("encoder.layer.{i}", "."),
        pooler="pooler.dense",
    )


def _check_albert_groups(num_layers: int, num_groups: int) -> None:
    """Refuses layer/group counts where Hugging Face shares blocks differently.

    Hugging Face's ``AlbertTransformer`` gives layer i the group
    ``int(i / (L / G))``, computed in floating point; the ``Encoder`` uses
    ``floor(i * G / L)`` exactly. Rounding makes them differ for some counts
    (L=18, G=14: layer 9 is in group 6 for Hugging Face, 7 here), and a model
    converted between them would compute another function.
    """
    differing = [
        f"layer {i}: group {int(i / (num_layers / num_groups))} in Hugging Face, "
        f"{group_of_layer(i, num_layers, num_groups)} in kerasbert"
        for i in range(num_layers)
        if int(i / (num_layers / num_groups))
        != group_of_layer(i, num_layers, num_groups)
    ]
    if differing:
        raise ValueError(
            f"Hugging Face's ALBERT assigns {num_layers} layers to {num_groups} "
            f"groups differently from kerasbert ({'; '.join(differing)}); this "
            "combination cannot be converted."
        )


def _albert_encoder_config(config: dict[str, Any]) -> dict[str, Any]:
    if config.get("inner_group_num", 1) != 1:
        raise ValueError(
            f"inner_group_num={config['inner_group_num']} is not supported "
            "(an Encoder block is one attention + one feed-forward sublayer)."
        )
    encoder_config = dict(
        _bert_encoder_config({"hidden_act": "gelu_new", **config}),
        embedding_size=config.get("embedding_size", 128),
        num_groups=config.get("num_hidden_groups", 1),
    )
    _check_albert_groups(encoder_config["num_layers"], encoder_config["num_groups"])
    return encoder_config


def _albert_hf_config(encoder: Encoder) -> dict[str, Any]:
    _check_albert_groups(encoder.num_layers, encoder.num_groups)
    return dict(
        _bert_hf_config("albert")(encoder),
        embedding_size=encoder.embedding_size,
        num_hidden_groups=encoder.num_groups,
        inner_group_num=1,
    )


def _albert_layout(config: dict[str, Any]) -> Layout:
    layer = "encoder.albert_layer_groups.{i}.albert_layers.0"
    return Layout(
        naming=HF_NAMING,
        word_embeddings="embeddings.word_embeddings",
        position_embeddings="embeddings.position_embeddings",
        segment_embeddings="embeddings.token_type_embeddings",
        embedding_norm="embeddings.LayerNorm",
        projection="encoder.embedding_hidden_mapping_in",
        block=BlockNames(
            query=f"{layer}.attention.query",
            key=f"{layer}.attention.key",
            value=f"{layer}.attention.value",
            attention_output=f"{layer}.attention.dense",
            attention_norm=f"{layer}.attention.LayerNorm",
            intermediate=f"{layer}.ffn",
            output=f"{layer}.ffn_output",
            output_norm=f"{layer}.full_layer_layer_norm",
        ),
        pooler="pooler",
        shared_blocks=True,
        projection_required=True,
    )


def _electra_encoder_config(config: dict[str, Any]) -> dict[str, Any]:
    return dict(_bert_encoder_config(config), use_pooler=False)


def _electra_hf_config(encoder: Encoder) -> dict[str, Any]:
    return dict(
        _bert_hf_config("electra")(encoder), embedding_size=encoder.embedding_size
    )


def _electra_layout(config: dict[str, Any]) -> Layout:
    return Layout(
        naming=HF_NAMING,
        word_embeddings="embeddings.word_embeddings",
        position_embeddings="embeddings.position_embeddings",
        segment_embeddings="embeddings.token_type_embeddings",
        embedding_norm="embeddings.LayerNorm",
        projection="embeddings_project",
        block=bert_block("encoder.layer.{i}", "."),
    )


def _roberta_offset(config: dict[str, Any]) -> int:
    """Rows of the position table before the first real token's position."""
    return config.get("pad_token_id", 1) + 1


def _roberta_encoder_config(config: dict[str, Any]) -> dict[str, Any]:
    encoder_config = _bert_encoder_config(
        {"type_vocab_size": 1, "layer_norm_eps": 1e-5, **config}
    )
    encoder_config["max_sequence_length"] -= _roberta_offset(config)
    return encoder_config


def _roberta_hf_config(encoder: Encoder) -> dict[str, Any]:
    config = dict(_bert_hf_config("roberta")(encoder), pad_token_id=1)
    config["max_position_embeddings"] += _roberta_offset(config)
    return config


def _roberta_layout(config: dict[str, Any]) -> Layout:
    return replace(
        _bert_layout(config), position_codec=offset_rows(_roberta_offset(config))
    )


def _distilbert_encoder_config(config: dict[str, Any]) -> dict[str, Any]:
    _require(config, "vocab_size", "dim", "n_layers", "n_heads", "hidden_dim")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["n_layers"],
        num_heads=config["n_heads"],
        hidden_size=config["dim"],
        intermediate_size=config["hidden_dim"],
        max_sequence_length=config.get("max_position_embeddings", 512),
        type_vocabulary_size=0,
        hidden_activation=kerasbert_activation(config.get("activation", "gelu")),
        layer_norm_epsilon=DISTILBERT_LAYER_NORM_EPSILON,
        dropout_rate=config.get("dropout", 0.1),
        attention_dropout_rate=config.get("attention_dropout", 0.1),
        initializer_range=config.get("initializer_range", 0.02),
        use_pooler=False,
    )


def _distilbert_hf_config(encoder: Encoder) -> dict[str, Any]:
    if encoder.layer_norm_epsilon != DISTILBERT_LAYER_NORM_EPSILON:
        warnings.warn(
            "Hugging Face's DistilBERT fixes layer_norm_epsilon at "
            f"{DISTILBERT_LAYER_NORM_EPSILON} but the encoder uses "
            f"{encoder.layer_norm_epsilon}: the weights are exact, the outputs "
            "will differ slightly.",
            stacklevel=4,
        )
    return dict(
        model_type="distilbert",
        vocab_size=encoder.vocabulary_size,
        dim=encoder.hidden_size,
        n_layers=encoder.num_layers,
        n_heads=encoder.num_heads,
        hidden_dim=encoder.intermediate_size,
        max_position_embeddings=encoder.max_sequence_length,
        activation=hf_activation(encoder.hidden_activation),
        dropout=encoder.dropout_rate,
        attention_dropout=encoder.attention_dropout_rate,
        initializer_range=encoder.initializer_range,
        sinusoidal_pos_embds=False,
    )


def _distilbert_layout(config: dict[str, Any]) -> Layout:
    layer = "transformer.layer.{i}"
    return Layout(
        naming=HF_NAMING,
        word_embeddings="embeddings.word_embeddings",
        position_embeddings="embeddings.position_embeddings",
        embedding_norm="embeddings.LayerNorm",
        block=BlockNames(
            query=f"{layer}.attention.q_lin",
            key=f"{layer}.attention.k_lin",
            value=f"{layer}.attention.v_lin",
            attention_output=f"{layer}.attention.out_lin",
            attention_norm=f"{layer}.sa_layer_norm",
            intermediate=f"{layer}.ffn.lin1",
            output=f"{layer}.ffn.lin2",
            output_norm=f"{layer}.output_layer_norm",
        ),
    )


HF_ARCHITECTURES: dict[str, HFArchitecture] = {
    "bert": HFArchitecture(
        "bert.",
        "BertModel",
        _bert_encoder_config,
        _bert_hf_config("bert"),
        _bert_layout,
    ),
    "albert": HFArchitecture(
        "albert.",
        "AlbertModel",
        _albert_encoder_config,
        _albert_hf_config,
        _albert_layout,
    ),
    "electra": HFArchitecture(
        "electra.",
        "ElectraModel",
        _electra_encoder_config,
        _electra_hf_config,
        _electra_layout,
    ),
    "distilbert": HFArchitecture(
        "distilbert.",
        "DistilBertModel",
        _distilbert_encoder_config,
        _distilbert_hf_config,
        _distilbert_layout,
    ),
    "roberta": HFArchitecture(
        "roberta.",
        "RobertaModel",
        _roberta_encoder_config,
        _roberta_hf_config,
        _roberta_layout,
    ),
}


def hf_architecture(model_type: str) -> HFArchitecture:
    """The registry entry for ``model_type`` (``ValueError`` listing known ones)."""
    if model_type not in HF_ARCHITECTURES:
        raise ValueError(
            f"Unsupported Hugging Face model_type {model_type!r}; "
            f"supported: {sorted(HF_ARCHITECTURES)}"
        )
    return HF_ARCHITECTURES[model_type]
