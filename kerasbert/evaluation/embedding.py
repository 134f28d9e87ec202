"""Batched text -> embedding inference for sentence-embedding models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kerasbert.data.texts import encoder_inputs


class TextEmbedder:
    """Embeds lists of strings with a ``SentenceEncoder``-like model.

    Texts are processed in batches sorted by length, and each batch is cut
    to its longest row, so short sentences do not pay for ``sequence_length``
    of padding. The model runs in one ``tf.function`` traced for dynamic
    ``[batch, seq]`` shapes (no retracing per batch shape).

    Args:
        model: maps the encoder input dict to ``[batch, hidden]`` embeddings
            (e.g. ``kerasbert.SentenceEncoder``).
        tokenizer: the model's kerasbert tokenizer.
        input_names: the encoder's ``input_names``.
        sequence_length: maximum tokens per text, [CLS] and [SEP] included.
        batch_size: texts per forward pass.
        progress: show a tqdm bar.
    """

    def __init__(
        self,
        model: keras.Model,
        tokenizer: Any,
        input_names: Sequence[str],
        sequence_length: int = 128,
        batch_size: int = 64,
        progress: bool = False,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        self.model = model
        self.tokenizer = tokenizer
        self.input_names = tuple(input_names)
        self.sequence_length = sequence_length
        self.batch_size = batch_size
        self.progress = progress
        signature = {
            name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in self.input_names
        }
        self._forward = tf.function(
            lambda inputs: model(inputs, training=False), input_signature=[signature]
        )

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Returns float32 ``[len(texts), hidden]`` embeddings in input order."""
        if len(texts) == 0:
            raise ValueError("No texts to embed.")
        packed = encoder_inputs(
            self.tokenizer, list(texts), self.sequence_length, self.input_names
        )
        packed = {name: tensor.numpy() for name, tensor in packed.items()}
        lengths = packed["input_mask"].sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        chunks = []
        batches = range(0, len(texts), self.batch_size)
        for start in tqdm(batches, desc="embedding", disable=not self.progress):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            batch = {name: value[rows, :width] for name, value in packed.items()}
            chunks.append(np.asarray(self._forward(batch), np.float32))
        sorted_embeddings = np.concatenate(chunks)
        embeddings = np.empty_like(sorted_embeddings)
        embeddings[order] = sorted_embeddings
        return embeddings
