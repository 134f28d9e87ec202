"""Build settings and per-task defaults (the feature layout is the records format's)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kerasbert.data.records_format import (
    PAIR_TASKS,
    feature_lengths,
    writes_masks,
)
from tfrecords_tools.masking import MASKING_STRATEGIES, MaskingConfig

_DEFAULT_STRATEGY = {
    "mlm-nsp": "token",
    "mlm-sop": "ngram",
    "mlm": "token",
    "rtd": "token",
    "span": "span",
}


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines a build's output bytes (with input + vocab).

    Attributes:
        task: ``mlm-nsp`` (BERT), ``mlm-sop`` (ALBERT), ``mlm`` (RoBERTa, static
            masks), ``rtd`` (ELECTRA: inputs only unless ``premask``), ``span``
            (SpanBERT geometric spans).
        seq_len: fixed sequence length of every example.
        max_predictions: fixed length of the ``masked_lm_*`` features.
        masked_lm_prob: fraction of tokens to predict.
        dupe_factor: rounds over the input with different masks; ``None`` means
            5 for tasks that write masks and 1 otherwise.
        short_seq_prob: probability of a shorter target length.
        masking: masking strategy (``None``: the task's default: ``token`` for
            BERT/RoBERTa/ELECTRA, ``ngram`` for ALBERT, ``span`` for SpanBERT).
        max_ngram: longest n-gram for ``ngram`` masking.
        span_p: geometric parameter for ``span`` masking.
        max_span: longest span for ``span`` masking.
        premask: ``rtd`` only: also write ``masked_lm_*`` features.
        lowercase: WordPiece: lowercase and strip accents before lookup.
        seed: the seed every random draw derives from.
        chunk_bytes: input bytes per chunk (= per output shard).
        max_line_bytes: longer input lines are skipped and counted.
        one_document_per_line: each line is a document (sentences split on
            ``. ! ?``) instead of blank-line separated documents.
    """

    task: str = "mlm-nsp"
    seq_len: int = 128
    max_predictions: int = 20
    masked_lm_prob: float = 0.15
    dupe_factor: int | None = None
    short_seq_prob: float = 0.1
    masking: str | None = None
    max_ngram: int = 3
    span_p: float = 0.2
    max_span: int = 10
    premask: bool = False
    lowercase: bool = True
    seed: int = 12345
    chunk_bytes: int = 1 << 20
    max_line_bytes: int = 1 << 20
    one_document_per_line: bool = False

    def resolved(self) -> BuildConfig:
        """A copy with defaults filled in and every value validated.

        Raises:
            ValueError: an unknown task/strategy or an out-of-range value.
        """
        self.feature_lengths()  # validates the task and the lengths
        masking = self.masking or _DEFAULT_STRATEGY[self.task]
        if masking not in MASKING_STRATEGIES:
            raise ValueError(
                f"masking must be one of {MASKING_STRATEGIES}, got {masking!r}"
            )
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ValueError("short_seq_prob must be in [0, 1]")
        config = dataclasses.replace(self, masking=masking)
        dupe = self.dupe_factor
        if dupe is None:
            dupe = 5 if config.writes_masks else 1
        if dupe < 1:
            raise ValueError(f"dupe_factor must be >= 1, got {dupe}")
        config = dataclasses.replace(config, dupe_factor=dupe)
        config.masking_config()  # validates the masking values
        return config

    @property
    def writes_masks(self) -> bool:
        return writes_masks(self.task, self.premask)

    @property
    def pairs(self) -> bool:
        """True for the two-segment sentence-pair tasks."""
        return self.task in PAIR_TASKS

    def masking_config(self) -> MaskingConfig:
        return MaskingConfig(
            masked_lm_prob=self.masked_lm_prob,
            max_predictions=self.max_predictions,
            strategy=self.masking or _DEFAULT_STRATEGY[self.task],
            max_ngram=self.max_ngram,
            span_p=self.span_p,
            max_span=self.max_span,
        )

    def feature_lengths(self) -> dict[str, tuple[str, int]]:
        """Feature name -> (``"int64"`` | ``"float32"``, fixed length).

        Raises:
            ValueError: see ``kerasbert.data.records_format.feature_lengths``.
        """
        return feature_lengths(
            self.task, self.seq_len, self.max_predictions, self.premask
        )
