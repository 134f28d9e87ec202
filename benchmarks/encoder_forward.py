"""Encoder forward throughput: kerasbert vs keras-hub (and HF torch), same run.

Measures sequences/s of a forward pass (batch 32 x seq 128 by default) for the
MiniLM-L6-H384 and BERT-base architectures, in float32 and mixed_bfloat16, plus
achieved GFLOP/s against a measured matmul peak. Models are timed in
interleaved rounds (kerasbert, keras-hub, HF, kerasbert, ...) so drift on a
shared machine hits all of them alike; medians are reported.

    python -m benchmarks.encoder_forward                 # full run
    python -m benchmarks.encoder_forward --configs minilm_l6_h384 --repeats 5
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import (  # noqa: E402
    library_versions,
    machine_info,
    markdown_table,
    median,
    time_call,
    write_results,
)
from kerasbert import Encoder  # noqa: E402
from kerasbert.models.presets import preset_config  # noqa: E402

PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16"}


def forward_flops(config: dict, batch: int, length: int) -> float:
    """Multiply-add FLOPs (x2) of one encoder forward pass, pooler excluded."""
    hidden, inner, layers = (
        config["hidden_size"],
        config["intermediate_size"],
        config["num_layers"],
    )
    tokens = batch * length
    projections = 2 * tokens * (4 * hidden * hidden + 2 * hidden * inner)
    attention = 2 * 2 * batch * length * length * hidden
    return float(layers * (projections + attention))


def matmul_peak_gflops(
    dtype: tf.DType, sizes=(1024, 2048, 4096), repeats: int = 7
) -> float:
    """Best GFLOP/s over square matmuls of several sizes: the practical ceiling."""
    best = 0.0
    for size in sizes:
        a = tf.cast(tf.random.normal((size, size)), dtype)
        matmul = tf.function(lambda x: tf.matmul(x, x))
        seconds = min(time_call(lambda: matmul(a).numpy(), repeats))  # noqa: B023
        best = max(best, 2 * size**3 / seconds / 1e9)
    return best


def random_batch(
    batch: int, length: int, vocabulary_size: int
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "input_ids": rng.integers(
            1000, vocabulary_size, (batch, length), dtype=np.int32
        ),
        "input_mask": np.ones((batch, length), np.int32),
        "segment_ids": np.zeros((batch, length), np.int32),
    }


def kerasbert_runner(config: dict, policy: str, inputs: dict, jit: bool):
    model = Encoder(**config, dtype=policy)
    forward = tf.function(
        lambda x: model(x, training=False)["sequence_output"], jit_compile=jit
    )
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    return lambda: forward(tensors).numpy()


def keras_hub_runner(config: dict, policy: str, inputs: dict, jit: bool):
    import keras_hub

    model = keras_hub.models.BertBackbone(
        vocabulary_size=config["vocabulary_size"],
        num_layers=config["num_layers"],
        num_heads=config["num_heads"],
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        dtype=policy,
    )
    tensors = {
        "token_ids": tf.constant(inputs["input_ids"]),
        "segment_ids": tf.constant(inputs["segment_ids"]),
        "padding_mask": tf.constant(inputs["input_mask"]),
    }
    forward = tf.function(
        lambda x: model(x, training=False)["sequence_output"], jit_compile=jit
    )
    return lambda: forward(tensors).numpy()


def hf_torch_runner(config: dict, policy: str, inputs: dict, jit: bool):
    """HF transformers BertModel on torch CPU, or None when not installed."""
    try:
        import torch
        import transformers
    except ImportError:
        return None
    hf_config = transformers.BertConfig(
        vocab_size=config["vocabulary_size"],
        hidden_size=config["hidden_size"],
        num_hidden_layers=config["num_layers"],
        num_attention_heads=config["num_heads"],
        intermediate_size=config["intermediate_size"],
    )
    model = transformers.BertModel(hf_config).eval()
    tensors = {
        "input_ids": torch.from_numpy(inputs["input_ids"]).long(),
        "attention_mask": torch.from_numpy(inputs["input_mask"]).long(),
        "token_type_ids": torch.from_numpy(inputs["segment_ids"]).long(),
    }
    low_precision = policy != "float32"

    def run():
        with (
            torch.inference_mode(),
            torch.autocast("cpu", torch.bfloat16, enabled=low_precision),
        ):
            return model(**tensors).last_hidden_state.float().numpy()

    return run


RUNNERS = {
    "kerasbert": kerasbert_runner,
    "keras-hub": keras_hub_runner,
    "hf-torch": hf_torch_runner,
}


def benchmark_case(config_name: str, precision: str, args) -> dict:
    config = preset_config(config_name, dropout=0.0, attention_dropout=0.0)
    inputs = random_batch(args.batch, args.length, config["vocabulary_size"])
    runners = {}
    for name in args.peers:
        runner = RUNNERS[name](config, PRECISIONS[precision], inputs, args.xla)
        if runner is not None:
            runner()  # build and trace before timing
            runners[name] = runner
    timings = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, runner in runners.items():
            timings[name] += time_call(
                runner, repeats=1, warmup=0 if timings[name] else 1
            )
    flops = forward_flops(config, args.batch, args.length)
    return {
        "config": config_name,
        "precision": precision,
        "xla": args.xla,
        "seconds": timings,
        "sequences_per_second": {n: args.batch / median(t) for n, t in timings.items()},
        "gflops_per_second": {n: flops / median(t) / 1e9 for n, t in timings.items()},
    }


def summarize(
    cases: list[dict], peaks: dict[str, float]
) -> tuple[list[list[object]], dict]:
    rows, fp32_speed = [], {}
    for case in cases:
        speeds = case["sequences_per_second"]
        ours = speeds["kerasbert"]
        if case["precision"] == "fp32":
            fp32_speed[case["config"]] = ours
        peak = peaks[case["precision"]]
        case["ratio_vs_keras_hub"] = (
            ours / speeds["keras-hub"] if "keras-hub" in speeds else None
        )
        case["bf16_speedup_vs_own_fp32"] = (
            ours / fp32_speed[case["config"]]
            if case["precision"] == "bf16" and case["config"] in fp32_speed
            else None
        )
        rows.append(
            [
                case["config"],
                case["precision"],
                f"{ours:.1f}",
                f"{speeds.get('keras-hub', float('nan')):.1f}",
                f"{speeds.get('hf-torch', float('nan')):.1f}",
                f"{case['ratio_vs_keras_hub']:.2f}"
                if case["ratio_vs_keras_hub"]
                else "-",
                f"{case['bf16_speedup_vs_own_fp32']:.2f}"
                if case["bf16_speedup_vs_own_fp32"]
                else "-",
                f"{case['gflops_per_second']['kerasbert']:.0f} / {peak:.0f}",
            ]
        )
    return rows, fp32_speed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["minilm_l6_h384", "bert_base"])
    parser.add_argument(
        "--precisions", nargs="+", choices=sorted(PRECISIONS), default=["fp32", "bf16"]
    )
    parser.add_argument(
        "--peers", nargs="+", choices=sorted(RUNNERS), default=list(RUNNERS)
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--xla", action="store_true", help="jit_compile the forward passes"
    )
    parser.add_argument("--name", default="encoder_forward", help="result file stem")
    args = parser.parse_args(argv)
    if "kerasbert" not in args.peers:
        args.peers = ["kerasbert", *args.peers]

    peaks = {
        "fp32": matmul_peak_gflops(tf.float32),
        "bf16": matmul_peak_gflops(tf.bfloat16),
    }
    cases = []
    for config_name in args.configs:
        for precision in args.precisions:
            case = benchmark_case(config_name, precision, args)
            print(
                config_name,
                precision,
                {k: round(v, 1) for k, v in case["sequences_per_second"].items()},
                flush=True,
            )
            cases.append(case)
            keras.backend.clear_session()
    rows, _ = summarize(cases, peaks)
    header = [
        "config",
        "precision",
        "kerasbert seq/s",
        "keras-hub seq/s",
        "HF torch seq/s",
        "kerasbert / keras-hub",
        "bf16 / own fp32",
        "kerasbert GFLOP/s / matmul peak",
    ]
    machine = machine_info()
    versions = library_versions(
        ["tensorflow", "keras", "keras-hub", "torch", "transformers"]
    )
    markdown = (
        f"# Encoder forward: batch {args.batch} x seq {args.length}, XLA={args.xla}\n\n"
        f"Medians of {args.repeats} interleaved rounds. Machine: {machine['cpu']}, "
        f"{machine['cores']} cores. Versions: {versions}.\n\n"
        + markdown_table(header, rows)
    )
    payload = {
        "benchmark": "encoder_forward",
        "settings": vars(args),
        "matmul_peak_gflops": peaks,
        "machine": machine,
        "versions": versions,
        "cases": cases,
    }
    write_results(args.name, payload, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
