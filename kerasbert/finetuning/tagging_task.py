"""Token tagging (NER, chunking) on CoNLL-style files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kerasbert.finetuning.entity_metrics import detect_scheme, entity_scores
from kerasbert.finetuning.readers import TaggedSentence, read_conll
from kerasbert.finetuning.task_base import (
    IGNORED_LABEL,
    FineTuneSettings,
    Prepared,
    predict_logits,
    stack_batches,
)
from kerasbert.finetuning.text_inputs import pack_words
from kerasbert.finetuning.text_model import TextTaskModel
from kerasbert.models import TokenClassifier
from kerasbert.models.encoder import Encoder

_TOKENIZE_BATCH = 512


def word_targets(
    positions: np.ndarray, word_labels: Sequence[Sequence[int]], length: int
) -> np.ndarray:
    """Per-token labels: a word's label on its first piece, -100 elsewhere.

    Args:
        positions: int ``[N, S - 2]`` first-piece positions (-1: none).
        word_labels: label ids of each sentence's words.
        length: S.

    Returns:
        int32 ``[N, S]``.
    """
    targets = np.full((len(positions), length), IGNORED_LABEL, np.int32)
    for row, (where, labels) in enumerate(zip(positions, word_labels, strict=True)):
        count = min(len(labels), len(where))
        kept = where[:count] >= 0
        targets[row, where[:count][kept]] = np.asarray(labels[:count])[kept]
    return targets


class TagTask:
    """Words -> one tag each; scored as entities (precision/recall/F1)."""

    name = "tag"
    primary_metric = "f1"

    def __init__(self, settings: FineTuneSettings):
        self.settings = settings
        self.labels: list[str] = []
        self.scheme = settings.scheme

    def read(self, path: Path, limit: int | None) -> list[TaggedSentence]:
        sentences = read_conll(path)
        return sentences if limit is None else sentences[:limit]

    def fit_labels(self, train: Sequence[TaggedSentence]) -> None:
        tags = sorted({tag for sentence in train for tag in sentence.tags})
        # "O" first, then by entity type and prefix, for readable outputs.
        self.labels = sorted(tags, key=lambda tag: (tag != "O", tag[2:], tag))
        if self.scheme == "auto":
            self.scheme = detect_scheme([s.tags for s in train])

    def prepare(self, sentences: Sequence[TaggedSentence], tokenizer: Any) -> Prepared:
        index = {tag: i for i, tag in enumerate(self.labels)}
        unknown = sorted({t for s in sentences for t in s.tags} - set(index))
        if unknown:
            raise ValueError(
                f"Tags {unknown[:5]} do not occur in the training data "
                f"(known: {self.labels})."
            )
        length = self.settings.max_seq_length

        def pack(batch: Sequence[TaggedSentence]) -> dict:
            words = tf.ragged.constant([list(s.words) for s in batch], tf.string)
            features, positions = pack_words(tokenizer, words, length)
            return {**features, "word_positions": positions}

        packed = stack_batches(sentences, _TOKENIZE_BATCH, pack)
        positions = packed.pop("word_positions")
        labels = [[index[tag] for tag in s.tags] for s in sentences]
        return Prepared(
            packed,
            word_targets(positions, labels, length),
            {"word_positions": positions},
        )

    def build_model(self, encoder: Encoder) -> TokenClassifier:
        return TokenClassifier(
            encoder, num_classes=len(self.labels), dropout_rate=self.settings.dropout
        )

    def compile_arguments(self) -> dict[str, Any]:
        return {
            "loss": keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=IGNORED_LABEL
            )
        }

    def evaluate(
        self,
        model: TokenClassifier,
        sentences: Sequence[TaggedSentence],
        data: Prepared,
        batch: int,
    ) -> dict[str, float]:
        """Entity scores over the words that kept a token (as HF's run_ner).

        Words cut off by ``max_seq_length`` are left out of both the gold and
        the predicted sequences.
        """
        predicted_ids = predict_logits(model, data, batch).argmax(axis=-1)
        gold, predicted = [], []
        for sentence, where, ids in zip(
            sentences, data.extra["word_positions"], predicted_ids, strict=True
        ):
            count = min(len(sentence.tags), len(where))
            kept = [i for i in range(count) if where[i] >= 0]
            gold.append([sentence.tags[i] for i in kept])
            predicted.append([self.labels[ids[where[i]]] for i in kept])
        scores = entity_scores(gold, predicted, self.scheme)
        accuracy = np.mean(
            [
                g == p
                for gs, ps in zip(gold, predicted, strict=True)
                for g, p in zip(gs, ps, strict=True)
            ]
            or [0.0]
        )
        return {
            "precision": scores["precision"],
            "recall": scores["recall"],
            "f1": scores["f1"],
            "tag_accuracy": float(accuracy),
        }

    def text_model(self, model: TokenClassifier, tokenizer: Any) -> TextTaskModel:
        return TextTaskModel(
            model,
            tokenizer,
            "tag",
            sequence_length=self.settings.max_seq_length,
            labels=self.labels,
        )
