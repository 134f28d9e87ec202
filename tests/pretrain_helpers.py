"""A tiny record build and ``kerasbert pretrain`` runs, for the pretraining tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

WORDS = [f"w{i}" for i in range(60)]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MASK_ID = SPECIAL_TOKENS.index("[MASK]")
# bert_tiny's two blocks narrowed to width 32 (2 heads, feed-forward 64).
BERT_TINY_H32 = {
    "hidden_size": 32,
    "num_heads": 2,
    "intermediate_size": 64,
    "max_sequence_length": 32,
}


def make_tiny_build(directory: Path, task: str = "mlm-nsp") -> tuple[Path, Path]:
    """Writes a random 30-document corpus, its vocab and a record build.

    Returns:
        ``(build_directory, vocab_path)``; sequences of 32, 5 predictions.
    """
    from tfrecords_tools.builder import build
    from tfrecords_tools.settings import BuildConfig

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    documents = [
        "\n".join(
            " ".join(rng.choice(WORDS, size=rng.integers(4, 10))) for _ in range(6)
        )
        for _ in range(30)
    ]
    corpus = directory / "corpus.txt"
    corpus.write_text("\n\n".join(documents) + "\n")
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL_TOKENS + WORDS) + "\n")
    output = directory / task
    config = BuildConfig(task=task, seq_len=32, max_predictions=5)
    build([corpus], vocab, output, config, progress=False)
    return output, vocab


def pretrain_args(
    build: Path, vocab: Path, output: Path, steps: int, **encoder_overrides
) -> list[str]:
    """Flags of a tiny ``kerasbert pretrain`` run (global batch 8)."""
    encoder = {**BERT_TINY_H32, **encoder_overrides}
    return [
        "--data", str(build), "--vocab", str(vocab), "--output-dir", str(output),
        "--preset", "bert_tiny", "--encoder", json.dumps(encoder),
        "--batch-size", "8", "--steps", str(steps), "--learning-rate", "1e-3",
        "--checkpoint-every", "10", "--log-every", "5", "--no-progress",
    ]  # fmt: skip


def run_pretrain(
    args: list[str], env: dict[str, str] | None = None, prelude: str = ""
) -> subprocess.CompletedProcess:
    """Runs the pretrain command in a fresh Python process.

    ``prelude`` is Python run before the command (e.g. logical-device setup).
    """
    code = (
        f"import sys\n{prelude}\n"
        "from kerasbert_cli.commands.pretrain import main\nsys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def saved_weights(path: Path) -> list[np.ndarray]:
    """All weights of a saved ``pretrainer.keras``."""
    import keras

    import kerasbert.pretraining  # noqa: F401  (registers the classes)

    return keras.models.load_model(path).get_weights()


def max_weight_difference(first: Path, second: Path) -> float:
    a, b = saved_weights(first), saved_weights(second)
    assert len(a) == len(b)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))
