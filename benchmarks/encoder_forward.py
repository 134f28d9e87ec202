"""Encoder forward throughput: kerasbert vs keras-hub (and HF torch), same run.

Measures sequences/s of a forward pass (batch 32 x seq 128 by default) for the
MiniLM-L6-H384 and BERT-base architectures, in float32 and mixed_bfloat16, plus
achieved GFLOP/s against a measured matmul peak. Every implementation and
precision of a config is timed in the same interleaved rounds, so drift on a
shared machine hits all of them alike; speeds are medians, and the ratios are
medians of per-round ratios.

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
    median_round_ratio,
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


def benchmark_config(config_name: str, args) -> list[dict]:
    """Times every (implementation, precision) of one config in the same rounds.

    Each round runs every forward once, so drift in machine speed (shared
    hosts: CPU steal changes by the minute) hits all of them alike; the
    ratios are medians of per-round ratios, not ratios of medians taken at
    different times.
    """
    config = preset_config(config_name, dropout_rate=0.0, attention_dropout_rate=0.0)
    inputs = random_batch(args.batch, args.length, config["vocabulary_size"])
    runners = {}
    for precision in args.precisions:
        for name in args.peers:
            runner = RUNNERS[name](config, PRECISIONS[precision], inputs, args.xla)
            if runner is not None:
                runner()  # build and trace before timing
                runners[name, precision] = runner
    timings = {key: [] for key in runners}
    for _ in range(args.repeats):
        for key, runner in runners.items():
            timings[key] += time_call(
                runner, repeats=1, warmup=0 if timings[key] else 1
            )
    flops = forward_flops(config, args.batch, args.length)

    def round_ratio(numerator: tuple, denominator: tuple) -> float | None:
        if numerator not in timings or denominator not in timings:
            return None
        # Seconds, so the speed ratio is denominator time over numerator time.
        return median_round_ratio(timings[denominator], timings[numerator])

    cases = []
    for precision in args.precisions:
        seconds = {n: t for (n, p), t in timings.items() if p == precision}
        cases.append(
            {
                "config": config_name,
                "precision": precision,
                "xla": args.xla,
                "seconds": seconds,
                "sequences_per_second": {
                    n: args.batch / median(t) for n, t in seconds.items()
                },
                "gflops_per_second": {
                    n: flops / median(t) / 1e9 for n, t in seconds.items()
                },
                "ratio_vs_keras_hub": round_ratio(
                    ("kerasbert", precision), ("keras-hub", precision)
                ),
                "bf16_speedup_vs_own_fp32": round_ratio(
                    ("kerasbert", precision), ("kerasbert", "fp32")
                )
                if precision == "bf16"
                else None,
                # The same ratio for the peers: what bf16 gains on this machine
                # for an implementation other than kerasbert.
                "peer_bf16_speedups_vs_own_fp32": {
                    name: round_ratio((name, precision), (name, "fp32"))
                    for name in seconds
                    if name != "kerasbert"
                }
                if precision == "bf16"
                else {},
            }
        )
    return cases


def summary_rows(cases: list[dict], peaks: dict[str, float]) -> list[list[object]]:
    rows = []
    for case in cases:
        speeds = case["sequences_per_second"]
        versus_hub, over_fp32 = (
            case["ratio_vs_keras_hub"],
            case["bf16_speedup_vs_own_fp32"],
        )
        peers_over_fp32 = case["peer_bf16_speedups_vs_own_fp32"]
        rows.append(
            [
                case["config"],
                case["precision"],
                f"{speeds['kerasbert']:.1f}",
                f"{speeds.get('keras-hub', float('nan')):.1f}",
                f"{speeds.get('hf-torch', float('nan')):.1f}",
                f"{versus_hub:.2f}" if versus_hub else "-",
                f"{over_fp32:.2f}" if over_fp32 else "-",
                " / ".join(
                    f"{peers_over_fp32[name]:.2f}" if peers_over_fp32.get(name) else "-"
                    for name in ("keras-hub", "hf-torch")
                ),
                f"{case['gflops_per_second']['kerasbert']:.0f} / "
                f"{peaks[case['precision']]:.0f}",
            ]
        )
    return rows


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
        for case in benchmark_config(config_name, args):
            print(
                config_name,
                case["precision"],
                {k: round(v, 1) for k, v in case["sequences_per_second"].items()},
                flush=True,
            )
            cases.append(case)
        keras.backend.clear_session()
    rows = summary_rows(cases, peaks)
    header = [
        "config",
        "precision",
        "kerasbert seq/s",
        "keras-hub seq/s",
        "HF torch seq/s",
        "kerasbert / keras-hub",
        "bf16 / own fp32",
        "keras-hub / HF torch: bf16 / own fp32",
        "kerasbert GFLOP/s / matmul peak",
    ]
    machine = machine_info()
    versions = library_versions(
        ["tensorflow", "keras", "keras-hub", "torch", "transformers"]
    )
    markdown = (
        f"# Encoder forward: batch {args.batch} x seq {args.length}, XLA={args.xla}\n\n"
        f"Medians of {args.repeats} rounds; each round runs every implementation "
        "and precision of a config once, and the two ratio columns are medians "
        f"of per-round ratios. Machine: {machine['cpu']}, "
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
