"""MLM train-step throughput: kerasbert's pretraining loop vs keras-hub, same run.

One step = forward, weighted masked-LM cross-entropy, backward, global-norm
clip and an AdamW update, on BERT-mini (L=4, H=256, vocab 30522), batch 32 x
seq 128, 20 predictions, random weights and inputs (nothing downloaded).

* kerasbert: ``kerasbert.training.Trainer.train_step`` on a RoBERTa-style
  (MLM-only) ``MaskedLMPretrainer`` — the code ``kerasbert pretrain`` runs
  (all-reduce, clipping and metric sums included). With XLA on, its
  forward/backward is ``jit_compile``d as in training.
* keras-hub: ``keras_hub.models.BertMaskedLM`` on a ``BertBackbone`` of the
  same size, in a hand-written ``tf.function`` step of the same math (the
  whole step jit-compiled when XLA is on).

Rounds interleave the two (kerasbert, keras-hub, kerasbert, ...) so drift on a
shared machine hits both alike; medians of per-round sequences/s are reported,
for float32 / mixed_bfloat16 and XLA off / on.

    python -m benchmarks.train_step
    python -m benchmarks.train_step --rounds 3 --precisions fp32 --xla off
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.common import (  # noqa: E402
    library_versions,
    machine_info,
    markdown_table,
    median,
    median_round_ratio,
    write_results,
)
from kerasbert.models.presets import preset_config  # noqa: E402
from kerasbert.pretraining import build_pretrainer  # noqa: E402
from kerasbert.training import Trainer, TrainerConfig  # noqa: E402
from kerasbert.training.distribution import distribute_global_batches  # noqa: E402

PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16"}
LEARNING_RATE = 1e-4


def random_features(batch: int, length: int, predictions: int) -> dict[str, np.ndarray]:
    """One global batch of MLM features with random ids and positions."""
    rng = np.random.default_rng(0)
    positions = np.sort(
        np.stack(
            [rng.choice(length, predictions, replace=False) for _ in range(batch)]
        ),
        axis=-1,
    ).astype(np.int32)
    return {
        "input_ids": rng.integers(1000, 30522, (batch, length), dtype=np.int32),
        "input_mask": np.ones((batch, length), np.int32),
        "segment_ids": np.zeros((batch, length), np.int32),
        "masked_lm_positions": positions,
        "masked_lm_ids": rng.integers(1000, 30522, (batch, predictions), np.int32),
        "masked_lm_weights": np.ones((batch, predictions), np.float32),
    }


def kerasbert_step(features: dict, xla: bool, steps: int):
    """A callable running ``steps`` kerasbert train steps; returns it after warmup."""
    encoder = preset_config("bert_mini")
    config = TrainerConfig(
        total_steps=10**6, learning_rate=LEARNING_RATE, jit_compile=xla, progress=False
    )
    trainer = Trainer(
        lambda: build_pretrainer("roberta", encoder),
        config,
        tempfile.mkdtemp(prefix="train_step_"),
    )
    dataset = tf.data.Dataset.from_tensors(features).repeat()
    iterator = iter(distribute_global_batches(trainer.strategy, dataset))

    def run() -> None:
        for _ in range(steps):
            _, loss, _ = trainer.train_step(iterator)
        float(loss)

    return run


def keras_hub_step(features: dict, xla: bool, steps: int):
    """The same step for ``keras_hub.models.BertMaskedLM``."""
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30522,
        num_layers=4,
        num_heads=4,
        hidden_dim=256,
        intermediate_dim=1024,
    )
    model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    optimizer = keras.optimizers.AdamW(learning_rate=LEARNING_RATE, weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    optimizer.build(model.trainable_variables)
    inputs = {
        "token_ids": tf.constant(features["input_ids"]),
        "padding_mask": tf.constant(features["input_mask"]),
        "segment_ids": tf.constant(features["segment_ids"]),
        "mask_positions": tf.constant(features["masked_lm_positions"]),
    }
    labels = tf.constant(features["masked_lm_ids"])
    weights = tf.constant(features["masked_lm_weights"])

    @tf.function(jit_compile=xla)
    def step():
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            logits = tf.cast(model(inputs, training=True), tf.float32)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            loss = tf.reduce_sum(losses * weights) / tf.reduce_sum(weights)
        grads = tape.gradient(loss, variables)
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        clipped, _ = tf.clip_by_global_norm(
            [tf.convert_to_tensor(g) for g, _ in pairs], 1.0
        )
        optimizer.apply(clipped, [v for _, v in pairs])
        return loss

    def run() -> None:
        for _ in range(steps):
            loss = step()
        float(loss)

    return run


def measure(
    args: argparse.Namespace, precision: str, xla: bool
) -> dict[str, list[float]]:
    """Sequences/s of both implementations, round by round, in one setting."""
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    features = random_features(args.batch_size, args.sequence_length, args.predictions)
    runners = {
        "kerasbert": kerasbert_step(features, xla, args.steps_per_round),
        "keras-hub": keras_hub_step(features, xla, args.steps_per_round),
    }
    for run in runners.values():  # compile + warm caches
        run()
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in tqdm(range(args.rounds), desc=f"{precision} xla={'on' if xla else 'off'}"):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            rates[name].append(args.batch_size * args.steps_per_round / seconds)
    keras.mixed_precision.set_global_policy("float32")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps-per-round", type=int, default=3)
    parser.add_argument(
        "--precisions", default="fp32,bf16", help="comma-separated subset of fp32,bf16"
    )
    parser.add_argument("--xla", default="off,on", help="comma-separated off,on")
    parser.add_argument("--name", default="train_step", help="results file name")
    args = parser.parse_args(argv)

    rows, results = [], []
    for precision in args.precisions.split(","):
        for xla in (flag == "on" for flag in args.xla.split(",")):
            rounds = measure(args, precision, xla)
            rates = {name: median(values) for name, values in rounds.items()}
            speedup = rates["kerasbert"] / rates["keras-hub"]
            round_speedup = median_round_ratio(rounds["kerasbert"], rounds["keras-hub"])
            results.append(
                {
                    "precision": precision,
                    "xla": xla,
                    "sequences_per_second": rates,
                    "round_sequences_per_second": rounds,
                    "speedup": speedup,
                    "median_round_speedup": round_speedup,
                }
            )
            rows.append(
                [
                    precision,
                    "on" if xla else "off",
                    f"{rates['kerasbert']:.1f}",
                    f"{rates['keras-hub']:.1f}",
                    f"{speedup:.2f}x",
                    f"{round_speedup:.2f}x",
                ]
            )
            print(rows[-1])
    config = {k: v for k, v in vars(args).items() if k != "name"}
    config["model"] = "BERT-mini (L=4, H=256, A=4, FFN=1024, vocab=30522)"
    config["step"] = "MLM forward+backward, global-norm clip 1.0, AdamW"
    payload = {
        "benchmark": "train_step",
        "config": config,
        "machine": machine_info(),
        "versions": library_versions(["tensorflow", "keras", "keras-hub", "numpy"]),
        "results": results,
    }
    markdown = (
        "# MLM train step: kerasbert vs keras-hub (sequences/s, median)\n\n"
        f"Config: {config['model']}, batch {args.batch_size} x seq "
        f"{args.sequence_length}, {args.predictions} predictions; {config['step']}; "
        f"{args.rounds} interleaved rounds of {args.steps_per_round} steps.\n"
        f"Machine: {payload['machine']['cpu']}, "
        f"{payload['machine']['cores']} cores.\n\n"
        + markdown_table(
            [
                "precision",
                "XLA",
                "kerasbert",
                "keras-hub",
                "speedup (medians)",
                "median of round ratios",
            ],
            rows,
        )
    )
    write_results(args.name, payload, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
