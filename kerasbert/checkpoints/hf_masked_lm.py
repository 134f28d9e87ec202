"""Hugging Face masked-LM checkpoints into a ``MaskedLanguageModel``.

``load_hf`` keeps only the encoder of a task checkpoint; ``load_hf_masked_lm``
also loads the pretraining heads: the MLM transform, its LayerNorm and the
output bias into ``MaskedLMHead``, and BERT's next-sentence / ALBERT's
sentence-order classifier when the checkpoint has one. ``save_hf_masked_lm``
writes them back.

``MaskedLMHead`` ties its output matrix to the token embedding, as every
supported architecture does by default. A checkpoint that still stores the
decoder matrix (older ``transformers`` versions did) is accepted only when
that matrix equals the word embeddings, and likewise a stored decoder bias
must equal the output bias; anything else is refused, never half-loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerasbert.checkpoints.files import read_json
from kerasbert.checkpoints.hf_architectures import (
    hf_architecture,
    kerasbert_activation,
)
from kerasbert.checkpoints.huggingface import (
    hf_files,
    load_hf,
    read_hf_tensors,
    split_base_model,
    write_hf_files,
)
from kerasbert.checkpoints.layouts import HF_NAMING, encoder_rules
from kerasbert.checkpoints.mapping import (
    TRANSPOSE,
    Rule,
    export_tensors,
    load_into,
)
from kerasbert.models.encoder import Encoder
from kerasbert.models.masked_lm import MaskedLanguageModel


@dataclass(frozen=True)
class HFMaskedLMHead:
    """Where one ``model_type``'s pretraining heads live (full tensor names).

    Attributes:
        transform: the dense layer before the LayerNorm (H -> E).
        layer_norm: the head's LayerNorm.
        output_bias: the per-token output bias ``[vocab]``.
        tied_weight: the stored decoder matrix, tied to the word embeddings.
        model_class: the ``transformers`` class of an MLM-only checkpoint.
        tied_bias: a stored decoder bias tied to ``output_bias``, if any.
        activation: the Hugging Face activation the head hard-codes, when it
            ignores ``hidden_act`` (it must then match the encoder's).
        sentence_head: the 2-way classifier on the pooled output, if any.
        sentence_task: ``MaskedLanguageModel``'s name for that classifier.
        pretraining_class: the ``transformers`` class with both heads.
    """

    transform: str
    layer_norm: str
    output_bias: str
    tied_weight: str
    model_class: str
    tied_bias: str | None = None
    activation: str | None = None
    sentence_head: str | None = None
    sentence_task: str | None = None
    pretraining_class: str | None = None


HF_MASKED_LM_HEADS: dict[str, HFMaskedLMHead] = {
    "bert": HFMaskedLMHead(
        transform="cls.predictions.transform.dense",
        layer_norm="cls.predictions.transform.LayerNorm",
        output_bias="cls.predictions.bias",
        tied_weight="cls.predictions.decoder.weight",
        model_class="BertForMaskedLM",
        tied_bias="cls.predictions.decoder.bias",
        sentence_head="cls.seq_relationship",
        sentence_task="nsp",
        pretraining_class="BertForPreTraining",
    ),
    "albert": HFMaskedLMHead(
        transform="predictions.dense",
        layer_norm="predictions.LayerNorm",
        output_bias="predictions.bias",
        tied_weight="predictions.decoder.weight",
        model_class="AlbertForMaskedLM",
        tied_bias="predictions.decoder.bias",
        sentence_head="sop_classifier.classifier",
        sentence_task="sop",
        pretraining_class="AlbertForPreTraining",
    ),
    # ElectraForMaskedLM: the generator.
    "electra": HFMaskedLMHead(
        transform="generator_predictions.dense",
        layer_norm="generator_predictions.LayerNorm",
        output_bias="generator_lm_head.bias",
        tied_weight="generator_lm_head.weight",
        model_class="ElectraForMaskedLM",
        activation="gelu",
    ),
    "roberta": HFMaskedLMHead(
        transform="lm_head.dense",
        layer_norm="lm_head.layer_norm",
        output_bias="lm_head.bias",
        tied_weight="lm_head.decoder.weight",
        model_class="RobertaForMaskedLM",
        tied_bias="lm_head.decoder.bias",
        activation="gelu",
    ),
    "distilbert": HFMaskedLMHead(
        transform="vocab_transform",
        layer_norm="vocab_layer_norm",
        output_bias="vocab_projector.bias",
        tied_weight="vocab_projector.weight",
        model_class="DistilBertForMaskedLM",
    ),
}


def hf_masked_lm_head(model_type: str) -> HFMaskedLMHead:
    """The registry entry for ``model_type`` (``ValueError`` listing known ones)."""
    if model_type not in HF_MASKED_LM_HEADS:
        raise ValueError(
            f"No masked-LM head known for model_type {model_type!r}; "
            f"supported: {sorted(HF_MASKED_LM_HEADS)}"
        )
    return HF_MASKED_LM_HEADS[model_type]


def head_rules(head: HFMaskedLMHead, sentence_task: str | None) -> list[Rule]:
    """Rules for the ``mlm_head`` (and ``sentence_head``) variables."""
    rules = [
        Rule(
            "mlm_head/transform/kernel",
            (HF_NAMING.kernel.format(head.transform),),
            TRANSPOSE,
        ),
        Rule("mlm_head/transform/bias", (HF_NAMING.bias.format(head.transform),)),
        Rule("mlm_head/layer_norm/gamma", (HF_NAMING.gamma.format(head.layer_norm),)),
        Rule("mlm_head/layer_norm/beta", (HF_NAMING.beta.format(head.layer_norm),)),
        Rule("mlm_head/output_bias", (head.output_bias,)),
    ]
    if sentence_task:
        rules += [
            Rule(
                "sentence_head/kernel",
                (HF_NAMING.kernel.format(head.sentence_head),),
                TRANSPOSE,
            ),
            Rule("sentence_head/bias", (HF_NAMING.bias.format(head.sentence_head),)),
        ]
    return rules


def _check_ties(
    head: HFMaskedLMHead,
    heads: dict[str, np.ndarray],
    word_embeddings: np.ndarray,
) -> None:
    """Refuses stored decoder tensors that differ from what the head ties to."""
    untied = []
    weight = heads.get(head.tied_weight)
    if weight is not None and not np.array_equal(weight, word_embeddings):
        untied.append(f"{head.tied_weight} differs from the word embeddings")
    bias = heads.get(head.tied_bias) if head.tied_bias else None
    output_bias = heads.get(head.output_bias)  # when absent, load_into says so
    if (
        bias is not None
        and output_bias is not None
        and not np.array_equal(bias, output_bias)
    ):
        untied.append(f"{head.tied_bias} differs from {head.output_bias}")
    if untied:
        raise ValueError(
            "The masked-LM head is untied, which MaskedLMHead cannot hold: "
            + "; ".join(untied)
        )


def _check_activation(head: HFMaskedLMHead, encoder: Encoder) -> None:
    if head.activation is None:
        return
    wanted = kerasbert_activation(head.activation)
    if encoder.hidden_activation != wanted:
        raise ValueError(
            f"The checkpoint's masked-LM head always uses {head.activation!r}, "
            f"but the encoder (and so MaskedLMHead) uses "
            f"{encoder.hidden_activation!r}."
        )


def load_hf_masked_lm(path: str | os.PathLike, **overrides: Any) -> MaskedLanguageModel:
    """Builds a ``MaskedLanguageModel`` from a Hugging Face pretraining checkpoint.

    Accepts ``BertForPreTraining`` / ``BertForMaskedLM``,
    ``AlbertForPreTraining`` / ``AlbertForMaskedLM``, ``ElectraForMaskedLM``
    (the generator), ``RobertaForMaskedLM`` and ``DistilBertForMaskedLM``
    checkpoints. The sentence head (NSP for BERT, SOP for ALBERT) is added
    exactly when the checkpoint has it.

    The encoder is built and checked by ``load_hf``; then every variable of
    the full model is set in one all-or-nothing step (the encoder's again,
    with the same values), so the heads get the same validation.

    Args:
        path: a Hugging Face model directory.
        **overrides: ``Encoder`` arguments to change, e.g. ``dropout_rate=0.0``.

    Returns:
        The model; inputs are the encoder's plus ``masked_lm_positions``,
        outputs ``mlm_logits`` ``[batch, predictions, vocab]`` (and
        ``sentence_logits`` ``[batch, 2]``).

    Raises:
        ValueError: no head for the ``model_type``, head tensors missing or
            left over (listed), an untied decoder, or a head activation the
            encoder does not share.
    """
    config = read_json(Path(path) / "config.json")
    model_type = config.get("model_type", "bert")
    architecture = hf_architecture(model_type)
    head = hf_masked_lm_head(model_type)
    base, heads = split_base_model(read_hf_tensors(path), architecture.prefix)
    encoder = load_hf(path, **overrides)
    _check_activation(head, encoder)
    layout = architecture.layout(config)
    word_embeddings = base[layout.naming.table.format(layout.word_embeddings)]
    _check_ties(head, heads, word_embeddings)

    has_sentence_head = bool(
        head.sentence_head and HF_NAMING.kernel.format(head.sentence_head) in heads
    )
    sentence_task = head.sentence_task if has_sentence_head else None
    model = MaskedLanguageModel(encoder, sentence_task=sentence_task)
    tied = {head.tied_weight, head.tied_bias}
    load_into(
        model,
        {**base, **heads},
        encoder_rules(layout, encoder) + head_rules(head, sentence_task),
        # load_hf has already accounted for every base-model tensor.
        ignore=lambda name: name in base or name in tied,
        source=f"Hugging Face masked-LM checkpoint in {path}",
    )
    return model


def _head_tensors(
    model: MaskedLanguageModel, head: HFMaskedLMHead
) -> dict[str, np.ndarray]:
    """The head tensors of ``model`` in Hugging Face's names, ties included.

    The tied decoder tensors are written too (equal to what they tie to), so
    loaders that do not tie weights read the same model.
    """
    head_paths = {rule.path for rule in head_rules(head, model.sentence_task)}
    tensors = export_tensors(
        model,
        head_rules(head, model.sentence_task),
        # The encoder's variables are written by hf_files.
        droppable=lambda path, array: path not in head_paths,
        target="a Hugging Face masked-LM head",
    )
    embeddings = model.encoder.token_embedding.embeddings
    tensors[head.tied_weight] = keras.ops.convert_to_numpy(embeddings)
    if head.tied_bias:
        tensors[head.tied_bias] = tensors[head.output_bias].copy()
    return tensors


def save_hf_masked_lm(
    model: MaskedLanguageModel, path: str | os.PathLike, model_type: str | None = None
) -> Path:
    """Writes a ``MaskedLanguageModel`` as a Hugging Face pretraining checkpoint.

    The inverse of ``load_hf_masked_lm``: ``*ForMaskedLM`` without a sentence
    head, ``BertForPreTraining`` / ``AlbertForPreTraining`` with NSP / SOP, so
    ``transformers`` loads the heads instead of initialising them randomly.

    Args:
        model: the model to write.
        path: the output directory (files are replaced atomically).
        model_type: as in ``save_hf``; by default the one the encoder was read
            as, else inferred from its structure.

    Raises:
        ValueError: the encoder does not fit ``model_type``, the sentence task
            is not the one Hugging Face's model of that type has, or the head
            activation is fixed to another one than the encoder's.
    """
    encoder = model.encoder
    config, base = hf_files(encoder, model_type)
    model_type = config["model_type"]
    head = hf_masked_lm_head(model_type)
    if model.sentence_task not in (None, head.sentence_task):
        raise ValueError(
            f"Hugging Face's {model_type} has no {model.sentence_task!r} head."
        )
    _check_activation(head, encoder)
    prefix = hf_architecture(model_type).prefix
    config["architectures"] = [
        head.pretraining_class if model.sentence_task else head.model_class
    ]
    tensors = {prefix + name: tensor for name, tensor in base.items()}
    return write_hf_files(path, config, {**tensors, **_head_tensors(model, head)})
