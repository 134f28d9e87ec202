"""Builds a pretrainer of a named kind from an encoder configuration."""

from __future__ import annotations

from typing import Any

import keras

from kerasbert.models.encoder import Encoder
from kerasbert.pretraining.electra import ElectraPretrainer
from kerasbert.pretraining.masked_lm import MaskedLMPretrainer
from kerasbert.pretraining_options import PRETRAINER_KINDS, SENTENCE_TASK_OF_KIND


def build_pretrainer(
    kind: str,
    encoder: dict[str, Any],
    mask_token_id: int | None = None,
    **electra_options: Any,
) -> keras.Model:
    """A freshly initialised pretrainer.

    Args:
        kind: ``"bert"`` (MLM + NSP), ``"albert"`` (MLM + SOP), ``"roberta"``
            (MLM only) or ``"electra"`` (generator + discriminator).
        encoder: ``Encoder`` keyword arguments (for ELECTRA: the
            discriminator's).
        mask_token_id: id of ``[MASK]``; required for ELECTRA.
        electra_options: ``generator_fraction``, ``rtd_weight``,
            ``mask_token_rate`` for ELECTRA.
    """
    if kind not in PRETRAINER_KINDS:
        raise ValueError(f"kind must be one of {PRETRAINER_KINDS}, got {kind!r}.")
    if kind == "electra":
        if mask_token_id is None:
            raise ValueError("ELECTRA needs mask_token_id.")
        return ElectraPretrainer(encoder, mask_token_id, **electra_options)
    if electra_options:
        raise ValueError(f"{sorted(electra_options)} only apply to ELECTRA.")
    sentence_task = SENTENCE_TASK_OF_KIND[kind]
    if sentence_task is None and "use_pooler" not in encoder:
        encoder = {**encoder, "use_pooler": False}
    return MaskedLMPretrainer(Encoder(**encoder), sentence_task=sentence_task)
