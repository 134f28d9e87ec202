"""Where an encoder forward spends its time, by op class, in fp32 and bf16.

Profiles the kerasbert encoder forward (batch 32 x seq 128 by default) with
TensorFlow's profiler in float32 and mixed_bfloat16, alternating precisions in
the same rounds, and splits the op time into two classes:

- ``matmul``: the projection and attention matmuls (``*MatMul*``, ``*Einsum*``
  kernels, including the bias and GELU that TF's remapper fuses into them);
- ``other``: everything else (LayerNorm, softmax, casts, residual adds, ...).

It reports each class's bf16 speed-up, its share of the bf16 op time, and
the costliest other ops. Op times are summed per op, so with TensorFlow
running two ops at once on two cores a class sum can exceed the wall time;
the split says where the time goes, ``encoder_forward`` says how fast.

    python -m benchmarks.forward_profile                 # MiniLM-L6 and BERT-base
    python -m benchmarks.forward_profile --configs minilm_l6_h384 --rounds 3
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import (  # noqa: E402
    library_versions,
    machine_info,
    markdown_table,
    time_call,
    write_results,
)
from benchmarks.encoder_forward import (  # noqa: E402
    PRECISIONS,
    kerasbert_runner,
    random_batch,
)
from kerasbert.models.presets import preset_config  # noqa: E402

# Profiler events on the compute threads that are bookkeeping, not ops.
NON_OP_EVENTS = frozenset(
    {
        "Record",
        "StartRegion",
        "StopRegion",
        "Process",
        "MemoryAllocation",
        "MemoryDeallocation",
        "ParallelFor",
        "ExecutorDoneCallback",
    }
)


def op_seconds_by_type(function) -> dict[str, float]:
    """Runs ``function`` once under the TF profiler; seconds per op type.

    Sums the durations of op events on TensorFlow's compute threads (the
    ``tf_Compute`` lines of the host plane), keyed by op type
    (``_MklNativeFusedMatMul``, ``Mul``, ...).
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            function()
        finally:
            tf.profiler.experimental.stop()
        (trace,) = Path(logdir).rglob("*.xplane.pb")
        space = xplane_pb2.XSpace.FromString(trace.read_bytes())
    seconds: dict[str, float] = collections.defaultdict(float)
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                op_type = plane.event_metadata[event.metadata_id].name.split(":")[-1]
                if op_type not in NON_OP_EVENTS:
                    seconds[op_type] += event.duration_ps * 1e-12
    return dict(seconds)


def is_matmul(op_type: str) -> bool:
    return "MatMul" in op_type or "Einsum" in op_type


def profile_config(config_name: str, args) -> dict:
    """Op-class seconds of fp32 and bf16 forwards, profiled in the same rounds."""
    config = preset_config(config_name, dropout_rate=0.0, attention_dropout_rate=0.0)
    inputs = random_batch(args.batch, args.length, config["vocabulary_size"])
    forwards = {
        precision: kerasbert_runner(config, policy, inputs, jit=False)
        for precision, policy in PRECISIONS.items()
    }
    for forward in forwards.values():
        forward()  # build and trace before profiling
    rounds = []
    for _ in range(args.rounds):
        measured = {}
        for precision, forward in forwards.items():
            seconds = op_seconds_by_type(forward)
            measured[precision] = {
                "wall": time_call(forward, repeats=1, warmup=1)[0],
                "matmul": sum(s for op, s in seconds.items() if is_matmul(op)),
                "other": sum(s for op, s in seconds.items() if not is_matmul(op)),
                "ops": seconds,
            }
        rounds.append(measured)
    return {"config": config_name, "rounds": rounds}


def summarize(result: dict) -> dict[str, float]:
    """Class seconds per precision, class speed-ups and bf16 shares.

    Class seconds are minima over rounds: on a shared host, CPU steal only
    ever adds time, so the fastest round is the best estimate of what an op
    costs (every round is kept in the JSON).
    """
    classes = {}
    for precision in PRECISIONS:
        per_round = [r[precision] for r in result["rounds"]]
        classes[precision] = {
            "wall": min(r["wall"] for r in per_round),
            "matmul": min(r["matmul"] for r in per_round),
            "other": min(r["other"] for r in per_round),
        }
    fp32, bf16 = classes["fp32"], classes["bf16"]
    bf16_ops = bf16["matmul"] + bf16["other"]
    summary = {f"{p}_{k}": v for p, c in classes.items() for k, v in c.items()}
    for name in ("matmul", "other"):
        summary[f"{name}_speedup"] = fp32[name] / bf16[name]
        summary[f"{name}_share_of_bf16"] = bf16[name] / bf16_ops
    summary["wall_speedup"] = fp32["wall"] / bf16["wall"]
    return summary


def other_op_rows(result: dict, top: int = 8) -> list[list[object]]:
    """The ``top`` non-matmul op types by bf16 time: fastest-round ms per precision."""
    fastest = {}
    for precision in PRECISIONS:
        op_types = {op for r in result["rounds"] for op in r[precision]["ops"]}
        fastest[precision] = {
            op: min(r[precision]["ops"].get(op, 0.0) for r in result["rounds"])
            for op in op_types
            if not is_matmul(op)
        }
    ranked = sorted(fastest["bf16"], key=fastest["bf16"].get, reverse=True)[:top]
    return [
        [
            result["config"],
            op,
            f"{fastest['fp32'].get(op, 0.0) * 1e3:.1f}",
            f"{fastest['bf16'][op] * 1e3:.1f}",
        ]
        for op in ranked
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["minilm_l6_h384", "bert_base"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--name", default="forward_profile", help="result file stem")
    args = parser.parse_args(argv)

    results, rows, op_rows = [], [], []
    for config_name in args.configs:
        result = profile_config(config_name, args)
        result["summary"] = summarize(result)
        results.append(result)
        keras.backend.clear_session()
        s = result["summary"]
        rows.append(
            [config_name]
            + [
                f"{s[f'fp32_{name}'] * 1e3:.0f} / {s[f'bf16_{name}'] * 1e3:.0f} "
                f"({s[f'{name}_speedup']:.2f}×, {s[f'{name}_share_of_bf16']:.0%})"
                for name in ("matmul", "other")
            ]
            + [f"{s['wall_speedup']:.2f}×"]
        )
        op_rows += other_op_rows(result)
        print(config_name, s, flush=True)
    header = [
        "config",
        "matmuls: ms fp32 / bf16 (speed-up, share of bf16)",
        "other ops: same",
        "bf16 / fp32, wall",
    ]
    machine = machine_info()
    versions = library_versions(["tensorflow", "keras"])
    markdown = (
        f"# Encoder forward profile: batch {args.batch} x seq {args.length}\n\n"
        f"Fastest of {args.rounds} rounds, each profiling one fp32 and one bf16 "
        "forward (TF profiler, op time on the compute threads). Matmuls "
        "include the bias and GELU that TF fuses into them; TF may run two ops "
        "at once, so op sums can exceed the wall time. Machine: "
        f"{machine['cpu']}, {machine['cores']} cores. Versions: {versions}.\n\n"
        + markdown_table(header, rows)
        + "\nThe costliest other ops in bf16 (fastest round):\n\n"
        + markdown_table(["config", "op", "fp32 ms", "bf16 ms"], op_rows)
    )
    payload = {
        "benchmark": "forward_profile",
        "settings": vars(args),
        "machine": machine,
        "versions": versions,
        "results": results,
    }
    write_results(args.name, payload, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
