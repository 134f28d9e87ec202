"""Where each part of a BERT-family encoder lives in a foreign format.

A ``Layout`` names the foreign tensors of one architecture in one framework
(e.g. ALBERT in Hugging Face's names); ``encoder_rules`` turns it into the
``Rule`` list for a concrete ``Encoder``. The per-format modules only declare
layouts; no format has its own copy of the per-block mapping.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import dataclass

from kerasbert.checkpoints.mapping import COPY, RESHAPE, TRANSPOSE, Codec, Rule
from kerasbert.models.encoder import Encoder


@dataclass(frozen=True)
class Naming:
    """A framework's parameter naming: templates take the layer's name."""

    kernel: str
    bias: str
    gamma: str
    beta: str
    table: str
    kernel_codec: Codec
    attention_kernel_codec: Codec
    attention_bias_codec: Codec


HF_NAMING = Naming(
    "{}.weight",
    "{}.bias",
    "{}.weight",
    "{}.bias",
    "{}.weight",
    TRANSPOSE,
    TRANSPOSE,
    COPY,
)
GOOGLE_NAMING = Naming(
    "{}/kernel", "{}/bias", "{}/gamma", "{}/beta", "{}", COPY, COPY, COPY
)
KERAS_HUB_NAMING = Naming(
    "{}/kernel",
    "{}/bias",
    "{}/gamma",
    "{}/beta",
    "{}/embeddings",
    COPY,
    RESHAPE,
    RESHAPE,
)


@dataclass(frozen=True)
class BlockNames:
    """Names of one transformer block's layers; ``{i}`` is the block index."""

    query: str
    key: str
    value: str
    attention_output: str
    attention_norm: str
    intermediate: str
    output: str
    output_norm: str


def bert_block(layer: str, separator: str) -> BlockNames:
    """The original BERT block names, used by Google's and Hugging Face's code.

    Args:
        layer: the block's scope, e.g. ``"encoder.layer.{i}"``.
        separator: ``"."`` (Hugging Face) or ``"/"`` (TensorFlow).
    """

    def name(*parts: str) -> str:
        return separator.join((layer, *parts))

    return BlockNames(
        query=name("attention", "self", "query"),
        key=name("attention", "self", "key"),
        value=name("attention", "self", "value"),
        attention_output=name("attention", "output", "dense"),
        attention_norm=name("attention", "output", "LayerNorm"),
        intermediate=name("intermediate", "dense"),
        output=name("output", "dense"),
        output_norm=name("output", "LayerNorm"),
    )


def keras_hub_block(layer: str) -> BlockNames:
    """keras-hub ``TransformerEncoder`` names under scope ``layer``."""
    return BlockNames(
        query=f"{layer}/self_attention_layer/query",
        key=f"{layer}/self_attention_layer/key",
        value=f"{layer}/self_attention_layer/value",
        attention_output=f"{layer}/self_attention_layer/attention_output",
        attention_norm=f"{layer}/self_attention_layer_norm",
        intermediate=f"{layer}/feedforward_intermediate_dense",
        output=f"{layer}/feedforward_output_dense",
        output_norm=f"{layer}/feedforward_layer_norm",
    )


@dataclass(frozen=True)
class Layout:
    """One architecture's tensor names in one framework.

    Attributes:
        shared_blocks: blocks are numbered by parameter group (ALBERT) rather
            than by depth; the encoder must then share whole blocks.
        projection_required: the format always has the E->H projection
            (ALBERT), so an unfactorized encoder cannot be expressed.
        position_codec: how the position table maps (RoBERTa's offset).
    """

    naming: Naming
    word_embeddings: str
    position_embeddings: str
    embedding_norm: str
    block: BlockNames
    segment_embeddings: str | None = None
    projection: str | None = None
    pooler: str | None = None
    shared_blocks: bool = False
    projection_required: bool = False
    position_codec: Codec = COPY


def _check_fits(layout: Layout, encoder: Encoder) -> None:
    problems = []
    if encoder.norm_first:
        problems.append("the format has post-LN blocks but the encoder is pre-LN")
    transformer = encoder.transformer
    if layout.shared_blocks:
        sets = {transformer.num_attention_sets, transformer.num_feed_forward_sets}
        if sets != {encoder.num_groups}:
            problems.append(
                "the format shares whole blocks but the encoder shares only "
                f"{encoder.shared_components!r}"
            )
    elif encoder.num_groups != encoder.num_layers:
        problems.append(
            f"the format has no parameter sharing but the encoder has "
            f"num_groups={encoder.num_groups} < num_layers={encoder.num_layers}"
        )
    if layout.projection_required and not encoder.embeddings.factorized:
        problems.append(
            "the format always projects embeddings to the hidden size, but the "
            "encoder has embedding_size == hidden_size"
        )
    if problems:
        raise ValueError("The encoder does not fit this format: " + "; ".join(problems))


def _dense(
    naming: Naming, name: str, path: str, kernel: Codec, bias: Codec
) -> list[Rule]:
    return [
        Rule(f"{path}/kernel", (naming.kernel.format(name),), kernel),
        Rule(f"{path}/bias", (naming.bias.format(name),), bias),
    ]


def _norm(naming: Naming, name: str, path: str) -> list[Rule]:
    return [
        Rule(f"{path}/gamma", (naming.gamma.format(name),)),
        Rule(f"{path}/beta", (naming.beta.format(name),)),
    ]


def _block_rules(layout: Layout, index: int) -> list[Rule]:
    naming = layout.naming
    names = {
        field: getattr(layout.block, field).format(i=index)
        for field in BlockNames.__dataclass_fields__
    }
    attention = f"transformer/attention_{index}"
    feed_forward = f"transformer/feed_forward_{index}"
    qkv = (names["query"], names["key"], names["value"])
    return [
        Rule(
            f"{attention}/qkv/kernel",
            tuple(naming.kernel.format(n) for n in qkv),
            naming.attention_kernel_codec,
        ),
        Rule(
            f"{attention}/qkv/bias",
            tuple(naming.bias.format(n) for n in qkv),
            naming.attention_bias_codec,
        ),
        *_dense(
            naming,
            names["attention_output"],
            f"{attention}/output",
            naming.attention_kernel_codec,
            COPY,
        ),
        *_norm(naming, names["attention_norm"], f"{attention}/layer_norm"),
        *_dense(
            naming,
            names["intermediate"],
            f"{feed_forward}/intermediate",
            naming.kernel_codec,
            COPY,
        ),
        *_dense(
            naming, names["output"], f"{feed_forward}/output", naming.kernel_codec, COPY
        ),
        *_norm(naming, names["output_norm"], f"{feed_forward}/layer_norm"),
    ]


def encoder_rules(layout: Layout, encoder: Encoder) -> list[Rule]:
    """The rules mapping every variable of ``encoder`` to ``layout``'s names.

    Optional parts (segment table, projection, pooler) get rules exactly when
    both the encoder and the layout have them; an encoder part the layout
    lacks is then reported by ``load_into`` / ``export_tensors``.

    Raises:
        ValueError: the encoder's structure (sharing, pre-LN, factorization)
            cannot be expressed in the layout.
    """
    _check_fits(layout, encoder)
    naming = layout.naming
    rules = [
        Rule(
            "embeddings/token_embedding/embeddings",
            (naming.table.format(layout.word_embeddings),),
        ),
        Rule(
            "embeddings/position_embeddings",
            (naming.table.format(layout.position_embeddings),),
            layout.position_codec,
        ),
        *_norm(naming, layout.embedding_norm, "embeddings/layer_norm"),
    ]
    if encoder.type_vocabulary_size > 0 and layout.segment_embeddings:
        rules.append(
            Rule(
                "embeddings/segment_embedding/embeddings",
                (naming.table.format(layout.segment_embeddings),),
            )
        )
    if encoder.embeddings.factorized and layout.projection:
        rules += _dense(
            naming,
            layout.projection,
            "embeddings/projection",
            naming.kernel_codec,
            COPY,
        )
    for index in range(encoder.num_groups):
        rules += _block_rules(layout, index)
    if encoder.use_pooler and layout.pooler:
        rules += _dense(naming, layout.pooler, "pooler", naming.kernel_codec, COPY)
    return rules


def infer_architecture(encoder: Encoder, supported: Collection[str] = ()) -> str:
    """The architecture to write ``encoder`` as when none is asked for.

    The one the encoder was read as (``encoder.architecture``) when it is in
    ``supported``: the shapes alone cannot tell an ELECTRA with
    E == H (ELECTRA-base/large) or a RoBERTa from BERT. Otherwise the most
    specific structural fit: shared blocks -> ALBERT; no segment ids and no
    pooler -> DistilBERT; a factorized embedding -> ELECTRA; else BERT.
    """
    if encoder.architecture in supported:
        return encoder.architecture
    if encoder.num_groups < encoder.num_layers:
        return "albert"
    if encoder.type_vocabulary_size == 0 and not encoder.use_pooler:
        return "distilbert"
    if encoder.embeddings.factorized:
        return "electra"
    return "bert"


_GELU_NAMES = {"gelu_exact": "gelu", "gelu_new": "gelu_approximate"}


def warn_about_fixed_hyperparameters(
    encoder: Encoder,
    target: str,
    activations: Collection[str],
    layer_norm_epsilon: float,
) -> None:
    """Warns when ``target`` computes another function than ``encoder``.

    Formats whose code hard-codes the activation or the LayerNorm epsilon
    (keras-hub backbones, Google's TF1 ``modeling.py``) still take the exact
    weights, but the model they build drifts from the encoder; a warning says
    so rather than failing, since the drift is small (1e-3 to 5e-2).

    Args:
        encoder: the encoder being written.
        target: what is written, for the message (e.g. "keras-hub's BertBackbone").
        activations: the ``Encoder`` activation names the target computes.
        layer_norm_epsilon: the epsilon the target computes with.
    """
    activation = _GELU_NAMES.get(encoder.hidden_activation, encoder.hidden_activation)
    if activation not in activations:
        warnings.warn(
            f"{target} computes {' or '.join(map(repr, activations))} but the "
            f"encoder uses {encoder.hidden_activation!r}: the weights transfer "
            "exactly, the outputs will differ slightly.",
            stacklevel=3,
        )
    if encoder.layer_norm_epsilon != layer_norm_epsilon:
        warnings.warn(
            f"{target} always uses LayerNorm epsilon {layer_norm_epsilon} but the "
            f"encoder uses {encoder.layer_norm_epsilon}: the weights transfer "
            "exactly, the outputs will differ.",
            stacklevel=3,
        )
