"""What every fine-tuning task provides, and the settings they share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np

from kerasbert.finetuning.text_model import TextTaskModel
from kerasbert.models.encoder import Encoder
from kerasbert.models.task import EncoderTask

#: Label id that the losses skip (word pieces after a word's first, HF's -100).
IGNORED_LABEL = -100


@dataclass(frozen=True)
class FineTuneSettings:
    """Everything ``kerasbert finetune`` was asked to do (see its ``--help``)."""

    task: str
    model: Path
    train: Path
    validation: Path
    output: Path
    tokenizer: Path | None = None
    lowercase: bool | None = None
    text_column: str = "sentence"
    pair_column: str | None = None
    label_column: str = "label"
    delimiter: str | None = None
    header: bool = True
    max_seq_length: int = 128
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    n_best_size: int = 20
    null_score_threshold: float = 0.0
    version_2: bool = False
    scheme: str = "auto"
    pooling: str = "pooled"
    epochs: float = 3.0
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    layer_decay: float = 1.0
    dropout: float = 0.1
    eval_every: int | None = None
    metric: str | None = None
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    seed: int = 0
    mixed_precision: str = "float32"
    strategy: str = "default"
    tpu_address: str | None = None
    export: Path | None = None
    overwrite: bool = False
    progress: bool = True


@dataclass
class Prepared:
    """Model-ready arrays for a set of examples.

    Attributes:
        inputs: int32 ``{input_ids, input_mask, segment_ids}``, ``[N, S]`` each
            (N: model inputs; SQuAD windows outnumber examples).
        targets: what the loss compares with (``None`` when unlabelled).
        extra: whatever the task needs to evaluate (offsets, positions, ...).
    """

    inputs: dict[str, np.ndarray]
    targets: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.inputs["input_ids"])


class FineTuningTask(Protocol):
    """One kind of fine-tuning: data, head, loss, metrics, raw-text model."""

    name: str
    #: The validation metric that picks the best checkpoint (higher is better).
    primary_metric: str
    labels: list[str]

    def read(self, path: Path, limit: int | None) -> Sequence[Any]:
        """Examples in ``path`` (the first ``limit`` only, if given)."""

    def fit_labels(self, train_examples: Sequence[Any]) -> None:
        """Learns the label set from the training examples."""

    def prepare(self, examples: Sequence[Any], tokenizer: Any) -> Prepared:
        """Tokenizes and packs ``examples`` (with targets)."""

    def build_model(self, encoder: Encoder) -> EncoderTask:
        """The task model on ``encoder``, head freshly initialised."""

    def compile_arguments(self) -> dict[str, Any]:
        """``loss`` (and ``loss_weights``) for ``model.compile``."""

    def evaluate(
        self, model: EncoderTask, examples: Sequence[Any], data: Prepared, batch: int
    ) -> dict[str, float]:
        """Validation metrics of ``model``."""

    def text_model(self, model: EncoderTask, tokenizer: Any) -> TextTaskModel:
        """The raw-text model to save and serve."""


def in_batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def stack_batches(
    items: Sequence[Any], size: int, pack: Callable[[Sequence[Any]], dict]
) -> dict[str, np.ndarray]:
    """``pack`` applied to batches of ``items``, outputs concatenated (numpy)."""
    parts = [
        {name: np.asarray(value) for name, value in pack(batch).items()}
        for batch in in_batches(items, size)
    ]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def predict_logits(model: keras.Model, data: Prepared, batch: int) -> Any:
    """``model``'s outputs on ``data.inputs`` (numpy), without a progress bar."""
    return model.predict(data.inputs, batch_size=batch, verbose=0)
