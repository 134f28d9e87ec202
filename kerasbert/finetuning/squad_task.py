"""Extractive question answering on SQuAD v1.1 / v2.0 files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kerasbert.finetuning.readers import SquadExample, read_squad
from kerasbert.finetuning.squad_decoding import decode_answers
from kerasbert.finetuning.squad_metrics import squad_scores, write_predictions
from kerasbert.finetuning.squad_windows import Window, answer_positions, make_windows
from kerasbert.finetuning.task_base import (
    FineTuneSettings,
    Prepared,
    in_batches,
    predict_logits,
)
from kerasbert.finetuning.text_model import TextTaskModel
from kerasbert.models import SpanQuestionAnswerer
from kerasbert.models.encoder import Encoder

_TOKENIZE_BATCH = 256


def _token_lists(ragged: tf.RaggedTensor) -> list[list[int]]:
    return [row.tolist() for row in ragged.numpy()]


def tokenize_examples(
    examples: Sequence[SquadExample], tokenizer: Any
) -> tuple[list[list[int]], dict[str, tuple[list[int], list[tuple[int, int]]]]]:
    """Question ids per example, and (ids, offsets) per distinct context.

    Contexts are shared by many questions in SQuAD, so each is tokenized once.
    """
    questions: list[list[int]] = []
    for batch in in_batches([e.question for e in examples], _TOKENIZE_BATCH):
        questions += _token_lists(tokenizer.tokenize(tf.constant(batch)))
    contexts: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}
    distinct = list(dict.fromkeys(e.context for e in examples))
    for batch in in_batches(distinct, _TOKENIZE_BATCH):
        ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(batch))
        for context, row, row_starts, row_ends in zip(
            batch, ids.numpy(), starts.numpy(), ends.numpy(), strict=True
        ):
            contexts[context] = (
                row.tolist(),
                list(zip(row_starts.tolist(), row_ends.tolist(), strict=True)),
            )
    return questions, contexts


class SquadTask:
    """(question, context) -> the answer span; scored by EM/F1 (percent)."""

    name = "squad"
    primary_metric = "f1"

    def __init__(self, settings: FineTuneSettings):
        self.settings = settings
        self.labels: list[str] = []
        self.predictions: dict[str, str] = {}
        self.n_best: dict[str, list[dict]] = {}

    def read(self, path: Path, limit: int | None) -> list[SquadExample]:
        examples = read_squad(path)
        return examples if limit is None else examples[:limit]

    def fit_labels(self, train: Sequence[SquadExample]) -> None:
        self.labels = []

    def _windows(
        self, examples: Sequence[SquadExample], tokenizer: Any
    ) -> list[list[Window]]:
        questions, contexts = tokenize_examples(examples, tokenizer)
        settings = self.settings
        return [
            make_windows(
                question,
                *contexts[example.context],
                max_seq_length=settings.max_seq_length,
                doc_stride=settings.doc_stride,
                max_query_length=settings.max_query_length,
                cls_id=tokenizer.cls_id,
                sep_id=tokenizer.sep_id,
                pad_id=tokenizer.pad_id,
            )
            for example, question in zip(examples, questions, strict=True)
        ]

    def prepare(self, examples: Sequence[SquadExample], tokenizer: Any) -> Prepared:
        """Every window of every example, labelled with its first answer.

        Windows that do not hold the whole answer (and unanswerable questions)
        point at [CLS], position 0, as in Hugging Face's ``run_qa``.
        """
        per_example = self._windows(examples, tokenizer)
        windows = [window for group in per_example for window in group]
        positions = []
        for example, group in zip(examples, per_example, strict=True):
            answer = None if example.is_impossible else example.answers[0]
            for window in group:
                positions.append(
                    (0, 0)
                    if answer is None
                    else answer_positions(window, answer.start, answer.end)
                )
        starts, ends = np.asarray(positions, np.int32).reshape(-1, 2).T
        inputs = {
            name: np.stack([getattr(window, name) for window in windows])
            for name in ("input_ids", "input_mask", "segment_ids")
        }
        return Prepared(
            inputs,
            {"start_logits": starts, "end_logits": ends},
            {"windows": per_example},
        )

    def build_model(self, encoder: Encoder) -> SpanQuestionAnswerer:
        return SpanQuestionAnswerer(encoder, dropout_rate=self.settings.dropout)

    def compile_arguments(self) -> dict[str, Any]:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return {
            "loss": {"start_logits": loss, "end_logits": loss},
            "loss_weights": {"start_logits": 0.5, "end_logits": 0.5},
        }

    def evaluate(
        self,
        model: SpanQuestionAnswerer,
        examples: Sequence[SquadExample],
        data: Prepared,
        batch: int,
    ) -> dict[str, float]:
        outputs = predict_logits(model, data, batch)
        settings = self.settings
        self.predictions, self.n_best, null_odds = decode_answers(
            [
                (example.id, windows)
                for example, windows in zip(
                    examples, data.extra["windows"], strict=True
                )
            ],
            outputs["start_logits"],
            outputs["end_logits"],
            {example.id: example.context for example in examples},
            n_best_size=settings.n_best_size,
            max_answer_length=settings.max_answer_length,
            version_2=settings.version_2,
            null_score_diff_threshold=settings.null_score_threshold,
        )
        scores = squad_scores(
            examples, self.predictions, null_odds if settings.version_2 else None
        )
        return {name: float(value) for name, value in scores.items()}

    def write_predictions(self, directory: Path) -> Path:
        """``predictions.json`` of the last evaluation (the official format)."""
        return write_predictions(directory / "predictions.json", self.predictions)

    def text_model(self, model: SpanQuestionAnswerer, tokenizer: Any) -> TextTaskModel:
        return TextTaskModel(
            model,
            tokenizer,
            "squad",
            sequence_length=self.settings.max_seq_length,
            max_query_length=self.settings.max_query_length,
            max_answer_length=self.settings.max_answer_length,
        )
