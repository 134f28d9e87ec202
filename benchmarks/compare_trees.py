"""Encoder forward and MLM train-step speed of two source trees, interleaved.

For refactors that must not slow anything down: the same measurement runs on
a baseline checkout (``--baseline DIR``, e.g. ``git worktree add /tmp/base
HEAD~1``) and on this tree, alternating subprocesses (baseline, this, baseline,
...), each importing kerasbert from its own tree. Every subprocess builds the
model with the same seed and times ``--steps`` calls after two warm-up calls;
the result is the median per tree and the median of per-pair ratios
(this / baseline: above 1 is faster).

    python -m benchmarks.compare_trees --baseline /tmp/base --pairs 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.common import (
    library_versions,
    machine_info,
    markdown_table,
    write_results,
)

REPO = Path(__file__).resolve().parents[1]

#: One measurement, run in a subprocess whose ``sys.path`` starts at a tree.
_MEASURE = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import keras, numpy as np, tensorflow as tf
from benchmarks.common import median, time_call
from benchmarks.train_step import kerasbert_step, random_features
from kerasbert import Encoder
case, batch, length, steps = sys.argv[1], *map(int, sys.argv[2:5])
keras.utils.set_random_seed(0)
features = random_features(batch, length, min(20, length // 2))
if case == "forward":
    encoder = Encoder.from_preset("minilm_l6_h384")
    step = tf.function(lambda x: encoder(x, training=False)["sequence_output"])
    inputs = {k: features[k] for k in ("input_ids", "input_mask", "segment_ids")}
    run = lambda: step(inputs).numpy()
else:
    run = kerasbert_step(features, xla=False, steps=1)
print(json.dumps({"seconds": median(time_call(run, steps, warmup=2))}))
"""


def measure(tree: Path, case: str, args: argparse.Namespace) -> float:
    """Median seconds per call of ``case`` with kerasbert imported from ``tree``."""
    command = [sys.executable, "-c", _MEASURE, case]
    command += [str(args.batch), str(args.length), str(args.steps)]
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    process = subprocess.run(
        command, cwd=tree, env=environment, capture_output=True, text=True
    )
    if process.returncode != 0:
        raise RuntimeError(f"{case} in {tree} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])["seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="baseline tree")
    parser.add_argument("--cases", nargs="+", default=["forward", "train_step"])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--name", default="compare_trees")
    args = parser.parse_args(argv)
    rows, cases = [], {}
    for case in args.cases:
        baseline, current = [], []
        for _ in range(args.pairs):
            baseline.append(measure(args.baseline.resolve(), case, args))
            current.append(measure(REPO, case, args))
        ratios = [b / c for b, c in zip(baseline, current, strict=True)]
        cases[case] = {"baseline_s": baseline, "current_s": current, "ratios": ratios}
        rows.append(
            [
                case,
                f"{statistics.median(baseline):.3f}",
                f"{statistics.median(current):.3f}",
                f"{statistics.median(ratios):.3f}",
            ]
        )
        print(rows[-1], flush=True)
    header = ["case", "baseline s/call", "this tree s/call", "speed ratio (median)"]
    markdown = (
        "# Speed of this tree vs a baseline tree (interleaved subprocesses)\n\n"
        f"`python -m benchmarks.compare_trees {' '.join(argv or sys.argv[1:])}`\n\n"
        "forward: MiniLM-L6-H384, fp32, batch x seq as configured; train_step:"
        " BERT-mini MLM (RoBERTa-style) Trainer step with AdamW, 20 predictions.\n"
        "Ratio = baseline / this per pair: above 1 means this tree is faster.\n\n"
        + markdown_table(header, rows)
        + f"\n\nMachine: {machine_info()}, load average at the end "
        f"{os.getloadavg()}.\n"
    )
    payload = {
        "benchmark": "compare_trees",
        "config": {k: str(v) for k, v in vars(args).items()},
        "cases": cases,
        "machine": machine_info(),
        "versions": library_versions(["tensorflow", "keras"]),
    }
    write_results(args.name, payload, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
