"""The quickstart's training half: corpus -> vocab -> TFRecords -> ALBERT -> export.

Each stage is a function of a ``QuickstartConfig`` and the work directory, and
writes its result there atomically (the record builder and the trainer resume
when rerun on the same directory), so the stages also run one by one:

==========================  ===============================================
stage                       writes (under the work directory)
==========================  ===============================================
``prepare_corpus``          ``corpus/train.txt``, ``corpus/valid.txt``
``train_vocabulary``        ``vocab.txt`` (WordPiece)
``build_records``           ``records/train``, ``records/valid`` (MLM+SOP)
``pretrain``                ``pretrain/`` (checkpoints, TensorBoard logs,
                            ``history.png``, ``summary.json``, models)
``evaluate``                held-out MLM/SOP accuracy vs a unigram baseline
``export``                  ``models/fill_mask/1``, ``models/embedding/1``
==========================  ===============================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasbert.atomic_files import atomic_write
from kerasbert_cli.quickstart.corpus import harvest_documents

#: Every ``VALID_EVERY``-th document is held out for evaluation.
VALID_EVERY = 20
FILL_MASK_MODEL = "fill_mask"
EMBEDDING_MODEL = "embedding"


@dataclass(frozen=True)
class QuickstartConfig:
    """Sizes of the quickstart run (defaults: about 8 minutes on 2 CPU cores).

    Attributes:
        corpus: text files (one sentence per line, blank line between
            documents); empty: the standard library's docstrings.
        max_documents: cap on documents read (``None``: all).
        vocab_size: WordPiece vocabulary size.
        sequence_length: tokens per pretraining example and served text.
        max_predictions: masked positions per example.
        dupe_factor: passes over the training text with different masks.
        num_layers, hidden_size, embedding_size, num_heads: the ALBERT (one
            shared parameter group, factorized embedding).
        batch_size, steps, learning_rate: the pretraining run.
        max_train_minutes: stop pretraining (with a checkpoint) after this
            much training time even before ``steps``, so the whole run stays
            within about 10 minutes on a slow or busy machine.
        seed: seed of masking, shuffling and initialisation.
        workers: record-builder processes.
        progress: show progress bars.
    """

    corpus: tuple[str, ...] = ()
    max_documents: int | None = None
    vocab_size: int = 4000
    sequence_length: int = 64
    max_predictions: int = 10
    dupe_factor: int = 3
    num_layers: int = 4
    hidden_size: int = 128
    embedding_size: int = 96
    num_heads: int = 2
    batch_size: int = 32
    steps: int = 1500
    learning_rate: float = 1e-3
    max_train_minutes: float = 6.0
    seed: int = 0
    workers: int = 2
    progress: bool = True

    def encoder_config(self, vocabulary_size: int) -> dict[str, Any]:
        """``Encoder`` keyword arguments of the tiny ALBERT."""
        return {
            "vocabulary_size": vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_size": self.hidden_size,
            "intermediate_size": 4 * self.hidden_size,
            "embedding_size": self.embedding_size,
            "num_groups": 1,
            "max_sequence_length": self.sequence_length,
            # A few minutes of training is far from overfitting, and dropout
            # slows learning (E=64, lr 2e-3: training MLM accuracy 0.073 without
            # dropout vs 0.053 with 0.1 after 600 steps).
            "dropout_rate": 0.0,
            "attention_dropout_rate": 0.0,
        }


def _read_documents(paths: Sequence[str]) -> Iterator[list[str]]:
    """Blank-line separated documents of sentences, from user text files."""
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"corpus file not found: {path}")
        document: list[str] = []
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    document.append(line)
                elif document:
                    yield document
                    document = []
        if document:
            yield document


def _write_documents(path: Path, documents: list[list[str]]) -> None:
    """One sentence per line, a blank line after each document; atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join("\n".join(sentences) + "\n\n" for sentences in documents)
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8"))


def prepare_corpus(config: QuickstartConfig, work: Path) -> dict[str, Any]:
    """Writes the training and held-out text; returns their sizes.

    Raises:
        FileNotFoundError: a ``corpus`` file is missing.
        ValueError: too little text for a training and a held-out split.
    """
    source = _read_documents(config.corpus) if config.corpus else harvest_documents()
    train: list[list[str]] = []
    valid: list[list[str]] = []
    for index, document in enumerate(source):
        if config.max_documents is not None and index >= config.max_documents:
            break
        (valid if index % VALID_EVERY == VALID_EVERY - 1 else train).append(document)
    if not valid or len(train) < 2:
        raise ValueError(
            f"the corpus has {len(train) + len(valid)} documents; the quickstart "
            f"needs at least {VALID_EVERY} (blank lines separate documents)"
        )
    paths = {
        "train": work / "corpus" / "train.txt",
        "valid": work / "corpus" / "valid.txt",
    }
    _write_documents(paths["train"], train)
    _write_documents(paths["valid"], valid)
    return {
        "source": list(config.corpus) or "Python standard library docstrings",
        "train_documents": len(train),
        "valid_documents": len(valid),
        "train_words": sum(len(s.split()) for d in train for s in d),
        **{f"{split}_path": str(path) for split, path in paths.items()},
    }


def train_vocabulary(config: QuickstartConfig, work: Path) -> Path:
    """Learns the WordPiece ``vocab.txt`` from the training text."""
    from tfrecords_tools.vocab import train_wordpiece

    path = work / "vocab.txt"
    train_wordpiece([work / "corpus" / "train.txt"], path, config.vocab_size)
    return path


def build_records(config: QuickstartConfig, work: Path) -> dict[str, int]:
    """MLM+SOP TFRecords of both splits (n-gram masking, as ALBERT).

    Returns:
        Examples per split.
    """
    from tfrecords_tools.builder import build
    from tfrecords_tools.settings import BuildConfig

    examples = {}
    for split, dupe_factor in (("train", config.dupe_factor), ("valid", 1)):
        build_config = BuildConfig(
            task="mlm-sop",
            seq_len=config.sequence_length,
            max_predictions=config.max_predictions,
            dupe_factor=dupe_factor,
            seed=config.seed + (split == "valid"),
        )
        manifest = build(
            [work / "corpus" / f"{split}.txt"],
            work / "vocab.txt",
            work / "records" / split,
            build_config,
            workers=config.workers,
            overwrite=True,
            progress=config.progress,
        )
        examples[split] = manifest["totals"]["examples"]
    if examples["valid"] < config.batch_size:
        raise ValueError(
            f"only {examples['valid']} held-out examples, fewer than a batch "
            f"({config.batch_size}); give a larger corpus"
        )
    return examples


def pretrain(config: QuickstartConfig, work: Path):
    """Pretrains the tiny ALBERT (MLM + SOP); resumes when rerun.

    Returns:
        ``(pretrainer, summary)``: the trained ``MaskedLMPretrainer`` and the
        trainer's run summary.
    """
    from kerasbert.data import pretraining_dataset, read_build, tuned_options
    from kerasbert.pretraining import build_pretrainer
    from kerasbert.training import Trainer, TrainerConfig

    records = read_build(work / "records" / "train")
    options = tuned_options()
    options.deterministic = True  # a resumed run replays the same batches
    dataset = pretraining_dataset(
        records.files,
        config.batch_size,
        records.lengths,
        seed=config.seed,
        repeat=True,
        options=options,
    )
    trainer = Trainer(
        lambda: build_pretrainer(
            "albert", config.encoder_config(records.vocabulary_size)
        ),
        TrainerConfig(
            total_steps=config.steps,
            learning_rate=config.learning_rate,
            warmup_steps=max(1, config.steps // 10),
            checkpoint_every=max(1, config.steps // 3),
            log_every=max(1, config.steps // 30),
            seed=config.seed,
            progress=config.progress,
            max_seconds=60.0 * config.max_train_minutes,
        ),
        str(work / "pretrain"),
    )
    summary = trainer.train(dataset)
    return trainer.model, summary


def evaluate(config: QuickstartConfig, work: Path, model) -> dict[str, float]:
    """Held-out MLM and SOP accuracy, next to the unigram baseline."""
    from kerasbert.pretraining.evaluation import (
        evaluate_pretrainer,
        read_in_order,
        unigram_baseline,
    )

    valid = read_in_order(work / "records" / "valid", config.batch_size)
    metrics = evaluate_pretrainer(model, valid)
    baseline, _ = unigram_baseline(
        read_in_order(work / "records" / "train", 256), valid
    )
    return {**metrics, "mlm_unigram_baseline": baseline}


def export(config: QuickstartConfig, work: Path, model) -> dict[str, dict]:
    """Exports a fill-mask and a sentence-embedding model for TF Serving.

    The pretrainer (a ``MaskedLanguageModel``) serves fill-mask as it is; the
    embedding model mean-pools its encoder. Each goes to ``models/NAME/VERSION``
    with raw-text signatures, warmup requests and the TF Serving kit.

    Returns:
        ``{model name: {"path", "version", "signatures"}}``.
    """
    from kerasbert.models import SentenceEncoder
    from kerasbert.tokenizers import load_tokenizer
    from serving.export import ExportOptions, export_for_serving

    tokenizer = load_tokenizer(work / "vocab.txt")
    embedding = SentenceEncoder(model.encoder, pooling="mean", normalize=True)
    options = ExportOptions(sequence_length=config.sequence_length, top_k=5)
    exported = {}
    for name, served in ((FILL_MASK_MODEL, model), (EMBEDDING_MODEL, embedding)):
        result = export_for_serving(served, tokenizer, work / "models" / name, options)
        exported[name] = {
            "path": str(result.path),
            "version": result.version,
            "signatures": result.signatures,
        }
    return exported


def config_dict(config: QuickstartConfig) -> dict[str, Any]:
    """The config as JSON-ready values (for the summary)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(config).items()
    }
