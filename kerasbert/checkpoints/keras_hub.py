"""keras-hub backbones (built in memory, no preset download) to and from ``Encoder``.

keras-hub fixes some hyperparameters per architecture: BERT, ALBERT and ELECTRA
use the tanh GELU and LayerNorm epsilon 1e-12; DistilBERT uses exact GELU and
1e-12; RoBERTa exact GELU and 1e-5. Weights always transfer exactly; an
encoder whose activation or epsilon differs gets a warning on the way to
keras-hub, since the backbone will compute a slightly different function.
Converting from keras-hub gives an encoder with keras-hub's values (pass
``hidden_activation=...`` to ``from_keras_hub`` to choose otherwise).

keras-hub's ElectraBackbone always has a pooler, ELECTRA checkpoints none: an
ELECTRA without one gets an all-zero pooler (``pooled_output`` is 0), which
reads back as no pooler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from kerasbert.checkpoints.assignment import assign_by_path
from kerasbert.checkpoints.layouts import (
    KERAS_HUB_NAMING,
    Layout,
    encoder_rules,
    infer_architecture,
    keras_hub_block,
    warn_about_fixed_hyperparameters,
)
from kerasbert.checkpoints.mapping import export_tensors, load_into, variable_arrays
from kerasbert.models.encoder import Encoder

_SEGMENT_PATH = "embeddings/segment_embedding/embeddings"


@dataclass(frozen=True)
class KerasHubArchitecture:
    """One keras-hub backbone class.

    Attributes:
        backbone: class name in ``keras_hub.models``.
        layout: where the encoder's parts live (variable paths).
        activation, layer_norm_epsilon: what the backbone hard-codes.
        backbone_config: ``Encoder`` -> the backbone's own constructor kwargs.
        encoder_config: the backbone's ``get_config()`` -> architecture-specific
            ``Encoder`` kwargs (the shared ones are added by ``from_keras_hub``).
        zero_pooler: the backbone always builds a pooler that the family's
            own checkpoints lack (ELECTRA; keras-hub ships no HF converter for
            it): an encoder without one is written with an all-zero pooler
            (``pooled_output`` is then 0), which reads back as no pooler.
    """

    backbone: str
    layout: Layout
    activation: str
    layer_norm_epsilon: float
    backbone_config: Callable[[Encoder], dict[str, Any]]
    encoder_config: Callable[[dict[str, Any]], dict[str, Any]]
    zero_pooler: bool = False


def _layout(**names: Any) -> Layout:
    return Layout(
        naming=KERAS_HUB_NAMING,
        embedding_norm="embeddings_layer_norm",
        **{"block": keras_hub_block("transformer_layer_{i}"), **names},
    )


_BERT_NAMES = dict(
    word_embeddings="token_embedding",
    position_embeddings="position_embedding",
    segment_embeddings="segment_embedding",
    pooler="pooled_dense",
)

KERAS_HUB_ARCHITECTURES: dict[str, KerasHubArchitecture] = {
    "bert": KerasHubArchitecture(
        "BertBackbone",
        _layout(**_BERT_NAMES),
        "gelu_approximate",
        1e-12,
        lambda e: dict(
            vocabulary_size=e.vocabulary_size, num_segments=e.type_vocabulary_size
        ),
        lambda c: dict(
            vocabulary_size=c["vocabulary_size"],
            type_vocabulary_size=c["num_segments"],
            use_pooler=True,
        ),
    ),
    "albert": KerasHubArchitecture(
        "AlbertBackbone",
        _layout(
            **_BERT_NAMES,
            projection="embedding_projection",
            block=keras_hub_block("group_{i}_inner_layer_0"),
            shared_blocks=True,
            projection_required=True,
        ),
        "gelu_approximate",
        1e-12,
        lambda e: dict(
            vocabulary_size=e.vocabulary_size,
            num_segments=e.type_vocabulary_size,
            embedding_dim=e.embedding_size,
            num_groups=e.num_groups,
            num_inner_repetitions=1,
        ),
        lambda c: dict(
            vocabulary_size=c["vocabulary_size"],
            type_vocabulary_size=c["num_segments"],
            embedding_size=c["embedding_dim"],
            num_groups=c["num_groups"],
            use_pooler=True,
        ),
    ),
    "electra": KerasHubArchitecture(
        "ElectraBackbone",
        _layout(**_BERT_NAMES, projection="embeddings_projection"),
        "gelu_approximate",
        1e-12,
        lambda e: dict(
            vocab_size=e.vocabulary_size,
            num_segments=e.type_vocabulary_size,
            embedding_dim=e.embedding_size,
        ),
        lambda c: dict(
            vocabulary_size=c["vocab_size"],
            type_vocabulary_size=c["num_segments"],
            embedding_size=c["embedding_dim"],
            use_pooler=True,
        ),
        zero_pooler=True,
    ),
    "distilbert": KerasHubArchitecture(
        "DistilBertBackbone",
        _layout(
            word_embeddings="token_and_position_embedding/token_embedding",
            position_embeddings="token_and_position_embedding/position_embedding",
        ),
        "gelu",
        1e-12,
        lambda e: dict(vocabulary_size=e.vocabulary_size),
        lambda c: dict(
            vocabulary_size=c["vocabulary_size"],
            type_vocabulary_size=0,
            use_pooler=False,
        ),
    ),
    "roberta": KerasHubArchitecture(
        "RobertaBackbone",
        _layout(
            word_embeddings="embeddings/token_embedding",
            position_embeddings="embeddings/position_embedding",
        ),
        "gelu",
        1e-5,
        lambda e: dict(vocabulary_size=e.vocabulary_size),
        lambda c: dict(
            vocabulary_size=c["vocabulary_size"],
            type_vocabulary_size=0,
            use_pooler=False,
        ),
    ),
}


def keras_hub_architecture(name: str) -> KerasHubArchitecture:
    """The registry entry ``name`` (``ValueError`` listing the known ones)."""
    if name not in KERAS_HUB_ARCHITECTURES:
        raise ValueError(
            f"Unsupported keras-hub architecture {name!r}; "
            f"supported: {sorted(KERAS_HUB_ARCHITECTURES)}"
        )
    return KERAS_HUB_ARCHITECTURES[name]


def _architecture_of(backbone: keras.Model) -> str:
    for name, architecture in KERAS_HUB_ARCHITECTURES.items():
        if type(backbone).__name__ == architecture.backbone:
            return name
    raise ValueError(
        f"Unsupported keras-hub backbone {type(backbone).__name__}; supported: "
        f"{sorted(a.backbone for a in KERAS_HUB_ARCHITECTURES.values())}"
    )


def _default_architecture(encoder: Encoder) -> str:
    """The backbone for ``encoder`` when none is asked for.

    The one it was read as, unless that backbone cannot hold its pooler (a
    Hugging Face RoBERTa has one, keras-hub's RobertaBackbone not), then the
    structural guess.
    """
    holding = [
        name
        for name, spec in KERAS_HUB_ARCHITECTURES.items()
        if spec.layout.pooler or not encoder.use_pooler
    ]
    return infer_architecture(encoder, holding)


def _zero_pooler(spec: KerasHubArchitecture, backbone: keras.Model) -> dict:
    """An all-zero pooler for ``backbone``, by variable path."""
    return {
        variable.path: np.zeros(variable.shape, variable.dtype)
        for variable in backbone.weights
        if variable.path.startswith(f"{spec.layout.pooler}/")
    }


def to_keras_hub(encoder: Encoder, architecture: str | None = None) -> keras.Model:
    """Builds the keras-hub backbone holding ``encoder``'s weights.

    Args:
        encoder: the encoder to convert.
        architecture: ``"bert"``, ``"albert"``, ``"electra"``, ``"distilbert"`` or
            ``"roberta"``; inferred from the encoder's structure when ``None``.
            A one-row, all-zero segment table (RoBERTa from Hugging Face) may
            go to backbones without segments: adding zero changes nothing.

    Raises:
        ValueError: the encoder does not fit the backbone (parts are named).
    """
    import keras_hub

    spec = keras_hub_architecture(architecture or _default_architecture(encoder))
    warn_about_fixed_hyperparameters(
        encoder,
        f"keras-hub's {spec.backbone}",
        (spec.activation,),
        spec.layer_norm_epsilon,
    )
    backbone = getattr(keras_hub.models, spec.backbone)(
        num_layers=encoder.num_layers,
        num_heads=encoder.num_heads,
        hidden_dim=encoder.hidden_size,
        intermediate_dim=encoder.intermediate_size,
        dropout=encoder.dropout_rate,
        max_sequence_length=encoder.max_sequence_length,
        **spec.backbone_config(encoder),
    )

    def zero_segment_row(path: str, array: np.ndarray) -> bool:
        return (
            path == _SEGMENT_PATH
            and spec.layout.segment_embeddings is None
            and array.shape[0] == 1
            and not array.any()
        )

    tensors = export_tensors(
        encoder,
        encoder_rules(spec.layout, encoder),
        foreign_shapes={v.path: tuple(v.shape) for v in backbone.weights},
        droppable=zero_segment_row,
        target=f"keras-hub {spec.backbone}",
    )
    if spec.zero_pooler and not encoder.use_pooler:
        tensors.update(_zero_pooler(spec, backbone))
    assign_by_path(backbone, tensors)
    return backbone


def from_keras_hub(backbone: keras.Model, **overrides: Any) -> Encoder:
    """Builds an ``Encoder`` holding a keras-hub backbone's weights.

    Args:
        backbone: a ``BertBackbone``, ``AlbertBackbone``, ``ElectraBackbone``,
            ``DistilBertBackbone`` or ``RobertaBackbone``.
        **overrides: ``Encoder`` arguments to change, e.g. ``dropout_rate=0.0``.

    Raises:
        ValueError: an unsupported backbone, or one that cannot be expressed
            (e.g. ALBERT with ``num_inner_repetitions > 1``).
    """
    name = _architecture_of(backbone)
    spec = KERAS_HUB_ARCHITECTURES[name]
    config = backbone.get_config()
    if config.get("num_inner_repetitions", 1) != 1:
        raise ValueError(
            "num_inner_repetitions > 1 is not supported (an Encoder block is one "
            "attention + one feed-forward sublayer)."
        )
    encoder_config = dict(
        num_layers=config["num_layers"],
        num_heads=config["num_heads"],
        hidden_size=config["hidden_dim"],
        intermediate_size=config["intermediate_dim"],
        max_sequence_length=config["max_sequence_length"],
        dropout_rate=config["dropout"],
        attention_dropout_rate=config["dropout"],
        hidden_activation=spec.activation,
        layer_norm_epsilon=spec.layer_norm_epsilon,
        architecture=name,
        **spec.encoder_config(config),
    )
    arrays = variable_arrays(backbone)
    pooler = _zero_pooler(spec, backbone) if spec.zero_pooler else {}
    if pooler and not any(arrays[path].any() for path in pooler):
        encoder_config["use_pooler"] = False
        arrays = {path: a for path, a in arrays.items() if path not in pooler}
    encoder = Encoder(**{**encoder_config, **overrides})
    load_into(
        encoder,
        arrays,
        encoder_rules(spec.layout, encoder),
        source=f"keras-hub {spec.backbone}",
    )
    return encoder
