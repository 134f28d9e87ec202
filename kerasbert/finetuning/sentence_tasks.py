"""Sequence classification and regression (GLUE-style) fine-tuning tasks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kerasbert.data.texts import pack_texts
from kerasbert.finetuning.metrics import classification_metrics, regression_metrics
from kerasbert.finetuning.readers import TextTable, discover_labels, read_table
from kerasbert.finetuning.task_base import (
    FineTuneSettings,
    Prepared,
    predict_logits,
    stack_batches,
)
from kerasbert.finetuning.text_model import TextTaskModel
from kerasbert.models import SequenceClassifier
from kerasbert.models.encoder import Encoder
from kerasbert.tokenizers import InputPacker

_TOKENIZE_BATCH = 1024


class _SequenceTask:
    """What classification and regression share: tables of (pairs of) texts."""

    name = ""

    def __init__(self, settings: FineTuneSettings):
        self.settings = settings
        self.labels: list[str] = []

    def read(self, path: Path, limit: int | None) -> TextTable:
        table = read_table(
            path,
            self.settings.text_column,
            self.settings.label_column,
            self.settings.pair_column,
            delimiter=self.settings.delimiter,
            header=self.settings.header,
        )
        if table.labels is None:
            raise ValueError(f"{path} has no label column.")
        if limit is None:
            return table
        return TextTable(
            table.texts[:limit],
            None if table.pairs is None else table.pairs[:limit],
            table.labels[:limit],
        )

    def _pack(self, table: TextTable, tokenizer: Any) -> dict[str, np.ndarray]:
        packer = InputPacker.for_tokenizer(tokenizer, self.settings.max_seq_length)
        rows = list(range(len(table)))

        def pack(batch: Sequence[int]) -> dict:
            texts = tf.constant([table.texts[i] for i in batch])
            pairs = (
                None
                if table.pairs is None
                else tf.constant([table.pairs[i] for i in batch])
            )
            return pack_texts(tokenizer, packer, texts, pairs)

        return stack_batches(rows, _TOKENIZE_BATCH, pack)

    def build_model(self, encoder: Encoder) -> SequenceClassifier:
        return SequenceClassifier(
            encoder,
            num_classes=max(len(self.labels), 1),
            dropout_rate=self.settings.dropout,
            pooling=self.settings.pooling,
        )

    def text_model(self, model: SequenceClassifier, tokenizer: Any) -> TextTaskModel:
        return TextTaskModel(
            model,
            tokenizer,
            self.name,
            sequence_length=self.settings.max_seq_length,
            labels=self.labels,
        )


class ClassifyTask(_SequenceTask):
    """Texts (or pairs) -> one of the labels found in the training file."""

    name = "classify"
    primary_metric = "accuracy"

    def fit_labels(self, train: TextTable) -> None:
        self.labels = discover_labels(train.labels)
        if len(self.labels) < 2:
            raise ValueError(
                f"Classification needs at least 2 labels; the training data has "
                f"{self.labels}."
            )

    def _label_ids(self, table: TextTable) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = sorted(set(table.labels) - set(index))
        if unknown:
            raise ValueError(
                f"Labels {unknown[:5]} do not occur in the training data "
                f"(known: {self.labels})."
            )
        return np.asarray([index[label] for label in table.labels], np.int32)

    def prepare(self, table: TextTable, tokenizer: Any) -> Prepared:
        return Prepared(self._pack(table, tokenizer), self._label_ids(table))

    def compile_arguments(self) -> dict[str, Any]:
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}

    def evaluate(
        self, model: SequenceClassifier, table: TextTable, data: Prepared, batch: int
    ) -> dict[str, float]:
        predicted = predict_logits(model, data, batch).argmax(axis=-1)
        return classification_metrics(data.targets, predicted, len(self.labels))


class RegressTask(_SequenceTask):
    """Texts (or pairs) -> a real-valued score (STS-B), mean squared error."""

    name = "regress"
    primary_metric = "pearson"

    def fit_labels(self, train: TextTable) -> None:
        self.labels = []

    @staticmethod
    def _scores(table: TextTable) -> np.ndarray:
        try:
            return np.asarray([float(label) for label in table.labels], np.float32)
        except ValueError as error:
            raise ValueError(f"Regression labels must be numbers: {error}") from None

    def prepare(self, table: TextTable, tokenizer: Any) -> Prepared:
        return Prepared(self._pack(table, tokenizer), self._scores(table)[:, None])

    def compile_arguments(self) -> dict[str, Any]:
        return {"loss": keras.losses.MeanSquaredError()}

    def evaluate(
        self, model: SequenceClassifier, table: TextTable, data: Prepared, batch: int
    ) -> dict[str, float]:
        predicted = predict_logits(model, data, batch)[:, 0]
        return regression_metrics(data.targets[:, 0], predicted)
