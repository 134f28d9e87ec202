"""Pretraining-data build speed and memory: kerasbert vs tf-models-official, same run.

Builds BERT mlm-nsp TFRecords (seq 128, max_predictions 20, masked_lm_prob
0.15, dupe 5, short_seq_prob 0.1, seed 12345, uncased) from the same
preprocessed corpus with the same vocab.txt using

* kerasbert's ``tfrecords-tools build`` (``--workers`` processes), and
* ``official.nlp.data.create_pretraining_data`` from tf-models-official (one
  process; installed with ``pip install --no-deps --target PEERDIR
  tf-models-official==2.20.0 tf-keras==2.21.0``),

alternating the two for ``--repeats`` rounds. Each run is a fresh subprocess;
wall time covers interpreter start to exit. Memory, sampled every 20 ms from
/proc: the peak of the summed RSS of the whole process tree (main + workers),
and the largest single process's peak (VmHWM).

The corpus (WikiText-2 style) is preprocessed into a temp dir: heading lines
``= ... =`` become blank lines (document breaks), whitespace-only lines are
dropped, so documents are article sections and lines paragraphs.

Optionally (``--fit-steps``) it also times a small ``model.fit`` on the built
records with default ``tf.data.Options`` vs ``kerasbert.data.tuned_options``.

``--runner beam`` instead compares the Beam pipeline (DirectRunner,
multi-process, 1 and 2 workers) with the local builder (1 and 2 processes) on
the corpus and a ``--scale``x copy (tf-models-official on the 1x corpus only),
and checks that Beam wrote the local builder's shards (``beam_benchmark``).

    python benchmarks/build_tfrecords.py --corpus ../shared/data/wikitext-2/train.txt \\
        --vocab VOCAB.txt --out /tmp/bench --peer-path /tmp/peer
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    library_versions,
    machine_info,
    markdown_table,
    median,
    write_results,
)

SETTINGS = {
    "seq_len": 128,
    "max_predictions": 20,
    "masked_lm_prob": 0.15,
    "dupe_factor": 5,
    "short_seq_prob": 0.1,
    "seed": 12345,
    "lowercase": True,
}
_HEADING = re.compile(r"^\s*=(.*)=\s*$")


def preprocess(corpus: Path, target: Path) -> dict[str, int]:
    """Headings -> blank lines (document breaks); blank lines dropped."""
    lines = paragraphs = 0
    with open(corpus, encoding="utf-8") as source, open(target, "w") as sink:
        for line in source:
            lines += 1
            if _HEADING.match(line):
                sink.write("\n")
            elif line.strip():
                sink.write(line.strip() + "\n")
                paragraphs += 1
    return {"input_lines": lines, "paragraphs": paragraphs}


def _tree_memory_kib(root: int) -> tuple[int, int, dict[int, int]]:
    """Summed VmRSS, the largest VmHWM (peak RSS), and each process's VmHWM,
    in KiB, of ``root``'s tree."""
    total, largest, stack, peaks = 0, 0, [root], {}
    while stack:
        pid = stack.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            peaks[pid] = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
            largest = max(largest, peaks[pid])
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack += map(int, (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, AttributeError):
            continue
    return total, largest, peaks


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Runs ``command``; wall seconds, peak tree RSS and max process RSS (MiB).

    Both memory figures are sampled from /proc every 20 ms: the peak of the
    summed RSS of the process tree, and the largest per-process high-water mark
    (VmHWM, exact for each process sampled while alive); also the main
    process's peak and the largest peak among its descendants (the workers).
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        tree_peak = largest = 0
        peaks: dict[int, int] = {}
        while process.poll() is None:
            tree, hwm, sampled = _tree_memory_kib(process.pid)
            tree_peak, largest = max(tree_peak, tree), max(largest, hwm)
            for pid, peak in sampled.items():
                peaks[pid] = max(peaks.get(pid, 0), peak)
            time.sleep(0.02)
        wall = time.perf_counter() - start
        if process.returncode:
            stderr.seek(0)
            raise RuntimeError(
                f"{command[:4]} failed:\n{stderr.read().decode()[-3000:]}"
            )
    workers = [peak for pid, peak in peaks.items() if pid != process.pid]
    return {
        "wall_s": wall,
        "tree_peak_rss_mib": tree_peak / 1024,
        "max_process_rss_mib": largest / 1024,
        "main_process_rss_mib": peaks.get(process.pid, 0) / 1024,
        "max_worker_rss_mib": max(workers, default=0) / 1024,
    }


def kerasbert_run(
    corpus: Path, vocab: Path, out: Path, workers: int, runner: str = "local"
) -> dict:
    """``tfrecords-tools build`` with ``workers`` processes (local) or Beam
    DirectRunner multi-process workers (``runner="beam"``)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-m", "tfrecords_tools.cli", "build", str(corpus),
        "--vocab", str(vocab), "-o", str(out), "--task", "mlm-nsp",
        "--seq-len", str(SETTINGS["seq_len"]),
        "--max-predictions", str(SETTINGS["max_predictions"]),
        "--masked-lm-prob", str(SETTINGS["masked_lm_prob"]),
        "--dupe-factor", str(SETTINGS["dupe_factor"]),
        "--short-seq-prob", str(SETTINGS["short_seq_prob"]),
        "--seed", str(SETTINGS["seed"]), "--workers", str(workers),
    ]  # fmt: skip
    if runner == "beam":
        command += [
            "--runner", "beam", "--", "--direct_running_mode=multi_processing",
            f"--direct_num_workers={workers}",
        ]  # fmt: skip
    result = run_measured(command, dict(os.environ))
    manifest = json.loads((out / "manifest.json").read_text())
    result["examples"] = manifest["totals"]["examples"]
    return result


def peer_run(corpus: Path, vocab: Path, out: Path, peer_path: Path) -> dict:
    from kerasbert.data.records_format import iter_records

    out.mkdir(parents=True, exist_ok=True)
    target = out / "peer.tfrecord"
    command = [
        sys.executable, "-m", "official.nlp.data.create_pretraining_data",
        f"--input_file={corpus}", f"--output_file={target}",
        f"--vocab_file={vocab}", "--do_lower_case=True",
        f"--max_seq_length={SETTINGS['seq_len']}",
        f"--max_predictions_per_seq={SETTINGS['max_predictions']}",
        f"--masked_lm_prob={SETTINGS['masked_lm_prob']}",
        f"--random_seed={SETTINGS['seed']}",
        f"--dupe_factor={SETTINGS['dupe_factor']}",
        f"--short_seq_prob={SETTINGS['short_seq_prob']}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(peer_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = run_measured(command, env)
    result["examples"] = sum(1 for _ in iter_records(target))
    target.unlink()
    return result


#: Memory figures of ``run_measured`` that each report shows.
LOCAL_MEMORY = ("tree_peak_rss_mib", "max_process_rss_mib")
BEAM_MEMORY = ("tree_peak_rss_mib", "main_process_rss_mib", "max_worker_rss_mib")


def summarize_runs(results: list[dict], memory_keys: tuple[str, ...]) -> dict:
    """Examples, and the median over repeats of wall time, examples/s and each
    memory figure in ``memory_keys`` (keys ``median_<figure>``)."""
    summary = {
        "examples": results[0]["examples"],
        "median_wall_s": median([r["wall_s"] for r in results]),
        "median_examples_per_s": median([r["examples"] / r["wall_s"] for r in results]),
    }
    for key in memory_keys:
        summary[f"median_{key}"] = median([r[key] for r in results])
    return summary


def summary_row(label: str, summary: dict, memory_keys: tuple[str, ...]) -> list:
    """A Markdown table row: label, examples, wall s, examples/s, memory MiB."""
    return [
        label,
        summary["examples"],
        f"{summary['median_wall_s']:.1f}",
        f"{summary['median_examples_per_s']:.0f}",
        *(f"{summary[f'median_{key}']:.0f}" for key in memory_keys),
    ]


def label_balance(out: Path) -> float:
    from tfrecords_tools.inspection import read_features, summarize

    files = sorted(out.glob("*.tfrecord"))
    return summarize(read_features(files))["label_balance"]


def fit_seconds(files: list[str], lengths: dict, options, steps: int) -> float:
    """Seconds of ``steps`` training steps of a tiny BERT after one warm-up epoch."""
    import keras

    from kerasbert import Encoder, MaskedLanguageModel
    from kerasbert.data import pretraining_dataset

    encoder = Encoder(
        vocabulary_size=30522, num_layers=2, num_heads=2, hidden_size=64,
        intermediate_size=128, max_sequence_length=128, dropout_rate=0.0,
        attention_dropout_rate=0.0,
    )  # fmt: skip
    model = MaskedLanguageModel(encoder, sentence_task="nsp")
    model.compile(
        optimizer="adam",
        loss={
            "mlm_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "sentence_logits": keras.losses.SparseCategoricalCrossentropy(
                from_logits=True
            ),
        },
        jit_compile=False,
    )

    def split(batch):
        inputs = {
            k: batch[k]
            for k in ("input_ids", "input_mask", "segment_ids", "masked_lm_positions")
        }
        targets = {
            "mlm_logits": batch["masked_lm_ids"],
            "sentence_logits": batch["next_sentence_labels"],
        }
        weights = {
            "mlm_logits": batch["masked_lm_weights"],
            "sentence_logits": None,
        }
        return inputs, targets, weights

    dataset = pretraining_dataset(
        files, 32, lengths, seed=0, repeat=True, options=options, verify=False
    ).map(split)
    model.fit(dataset, steps_per_epoch=5, epochs=1, verbose=0)  # warm-up, tracing
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - start


def measure_fit_options(out: Path, steps: int, repeats: int) -> dict:
    import tensorflow as tf

    from kerasbert.data import read_build, tuned_options

    records = read_build(out)
    files, lengths = records.files, records.lengths
    timings: dict[str, list[float]] = {"default": [], "tuned": []}
    for _ in range(repeats):
        timings["default"].append(fit_seconds(files, lengths, tf.data.Options(), steps))
        timings["tuned"].append(fit_seconds(files, lengths, tuned_options(), steps))
    return {
        "steps": steps,
        "batch": 32,
        "model": "Encoder 2 layers, hidden 64, MLM + NSP heads, seq 128",
        "tuned_options": "private_threadpool_size=cores, "
        "max_intra_op_parallelism=1, autotune on",
        "seconds": timings,
        "median_s": {k: median(v) for k, v in timings.items()},
        "tuned_speedup": median(timings["default"]) / median(timings["tuned"]),
    }


def scaled_corpus(corpus: Path, target: Path, copies: int) -> Path:
    """``copies`` copies of ``corpus``, a document break between them."""
    text = corpus.read_bytes()
    with open(target, "wb") as sink:
        for _ in range(copies):
            sink.write(text + b"\n")
    return target


def shard_hashes(out: Path) -> dict[str, str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {name: entry["sha256"] for name, entry in manifest["shards"].items()}


def beam_benchmark(args: argparse.Namespace) -> None:
    """The Beam runner (DirectRunner, 1 and 2 workers) beside the local builder.

    On the preprocessed corpus and on ``--scale`` copies of it: per round,
    the local builder with 1 and 2 processes, the Beam pipeline on the
    multi-process DirectRunner with 1 and 2 workers, and tf-models-official
    on the 1x corpus only (it holds every instance in memory). Reports
    examples/s, peak RSS of the main process and of the largest worker, the
    1 -> 2 worker scaling, and whether Beam wrote the local builder's shards.
    """
    load_before = os.getloadavg()
    configs = [("local", 1), ("local", 2), ("beam", 1), ("beam", 2)]
    runs: dict[str, list[dict]] = {}
    identical: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        base = Path(scratch) / "corpus-1x.txt"
        corpus_info = preprocess(args.corpus, base)
        corpora = {"1x": base}
        if args.scale > 1:
            target = Path(scratch) / f"corpus-{args.scale}x.txt"
            corpora[f"{args.scale}x"] = scaled_corpus(base, target, args.scale)
        for round_index in range(args.repeats):
            print(f"round {round_index + 1}/{args.repeats}", flush=True)
            for scale, corpus in corpora.items():
                for runner, workers in configs:
                    key = f"{scale} {runner} {workers}"
                    out = args.out / f"{runner}-{workers}"
                    result = kerasbert_run(corpus, args.vocab, out, workers, runner)
                    runs.setdefault(key, []).append(result)
                    print(key, result, flush=True)
                local = shard_hashes(args.out / "local-1")
                identical[scale] = all(
                    shard_hashes(args.out / name) == local
                    for name in ("local-2", "beam-1", "beam-2")
                )
                if scale == "1x" and not args.no_peer:
                    key = "1x tf-models-official 1"
                    result = peer_run(
                        corpus, args.vocab, args.out / "peer", args.peer_path
                    )
                    runs.setdefault(key, []).append(result)
                    print(key, result, flush=True)

    summary = {key: summarize_runs(r, BEAM_MEMORY) for key, r in runs.items()}
    scaling = {
        f"{scale} {runner}": summary[f"{scale} {runner} 2"]["median_examples_per_s"]
        / summary[f"{scale} {runner} 1"]["median_examples_per_s"]
        for scale in corpora
        for runner in ("local", "beam")
    }
    payload = {
        "benchmark": "build_tfrecords_beam",
        "corpus": str(args.corpus),
        "corpus_info": corpus_info,
        "scales": list(corpora),
        "vocab": str(args.vocab),
        "settings": {**SETTINGS, "task": "mlm-nsp", "chunk_mb": 1},
        "beam_options": "--direct_running_mode=multi_processing --direct_num_workers=N",
        "machine": machine_info(),
        "versions": library_versions(
            ["tensorflow", "tokenizers", "numpy", "apache-beam", "kerasbert"]
        ),
        "runs": runs,
        "summary": summary,
        "scaling_1_to_2_workers": scaling,
        "beam_shards_identical_to_local": identical,
        "load_average_1_5_15": {"start": load_before, "end": os.getloadavg()},
    }
    rows = [summary_row(key, s, BEAM_MEMORY) for key, s in summary.items()]
    markdown = (
        f"# {args.name or 'build_tfrecords_beam'}\n\n"
        f"BERT mlm-nsp TFRecords (seq 128, max_predictions 20, dupe 5, 1 MiB "
        f"chunks) from `{args.corpus}` and {args.scale} copies of it: the local "
        "builder (N processes) and the Beam pipeline on the DirectRunner "
        "(`--direct_running_mode=multi_processing --direct_num_workers=N`), "
        f"medians of {args.repeats} rounds, wall time from process start. "
        "Worker RSS: the largest peak among the main process's descendants "
        "(0: the work ran in the main process).\n\n"
        + markdown_table(
            [
                "corpus, builder, workers",
                "examples",
                "wall s",
                "examples/s",
                "peak RSS, process tree (MiB)",
                "peak RSS, main process (MiB)",
                "peak RSS, largest worker (MiB)",
            ],
            rows,
        )  # fmt: skip
        + "\nScaling, examples/s with 2 workers over 1: "
        + ", ".join(f"{k} {v:.2f}x" for k, v in scaling.items())
        + f".\nBeam shards identical to the local builder's: {identical}.\n\n"
        f"Machine: {payload['machine']['cpu']}, {payload['machine']['cores']} "
        f"cores. Versions: {payload['versions']}. Load average (1/5/15 min) at "
        f"start {load_before}, at end {payload['load_average_1_5_15']['end']}.\n"
    )
    write_results(args.name or "build_tfrecords_beam", payload, markdown)
    print(markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="raw text file")
    parser.add_argument("--vocab", type=Path, required=True, help="BERT vocab.txt")
    parser.add_argument("--out", type=Path, required=True, help="scratch directory")
    parser.add_argument(
        "--peer-path",
        type=Path,
        default=Path("/tmp/peer"),
        help="directory with tf-models-official installed",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--fit-steps",
        type=int,
        default=0,
        help="also time model.fit with default vs tuned options",
    )
    parser.add_argument(
        "--runner",
        choices=("local", "beam"),
        default="local",
        help="beam: the Beam pipeline (DirectRunner, 1 and 2 workers) beside "
        "the local builder (1 and 2 processes), on the corpus and --scale "
        "copies of it (needs apache-beam: the [beam] extra)",
    )
    parser.add_argument(
        "--scale", type=int, default=10, help="--runner beam: copies in the big corpus"
    )
    parser.add_argument(
        "--no-peer", action="store_true", help="--runner beam: skip tf-models-official"
    )
    parser.add_argument("--name", help="results file name (default: by runner)")
    args = parser.parse_args()
    for path in (args.corpus, args.vocab):
        if not path.is_file():
            parser.error(f"not a file: {path}")
    peer_needed = args.runner == "local" or not args.no_peer
    if peer_needed and not (args.peer_path / "official").is_dir():
        parser.error(f"tf-models-official not found under {args.peer_path}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.runner == "beam":
        beam_benchmark(args)
        return
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        corpus = Path(scratch) / "corpus.txt"
        corpus_info = preprocess(args.corpus, corpus)
        runs: dict[str, list[dict]] = {"kerasbert": [], "peer": []}
        for round_index in range(args.repeats):
            print(f"round {round_index + 1}/{args.repeats}", flush=True)
            runs["kerasbert"].append(
                kerasbert_run(corpus, args.vocab, args.out / "kerasbert", args.workers)
            )
            runs["peer"].append(
                peer_run(corpus, args.vocab, args.out / "peer", args.peer_path)
            )
            print({k: v[-1] for k, v in runs.items()}, flush=True)
    balance = label_balance(args.out / "kerasbert")

    summary = {name: summarize_runs(r, LOCAL_MEMORY) for name, r in runs.items()}
    ours, peer = summary["kerasbert"], summary["peer"]
    ratios = {
        "throughput_x": ours["median_examples_per_s"] / peer["median_examples_per_s"],
        "tree_rss_fraction": ours["median_tree_peak_rss_mib"]
        / peer["median_tree_peak_rss_mib"],
    }
    payload = {
        "benchmark": "build_tfrecords",
        "corpus": str(args.corpus),
        "corpus_info": corpus_info,
        "vocab": str(args.vocab),
        "settings": {**SETTINGS, "task": "mlm-nsp", "kerasbert_workers": args.workers},
        "machine": machine_info(),
        "versions": library_versions(
            ["tensorflow", "tokenizers", "numpy", "tf-models-official", "kerasbert"]
        )
        | {"tf-models-official": "2.20.0 (--target install)"},
        "runs": runs,
        "summary": summary,
        "ratios": ratios,
        "kerasbert_nsp_label_balance": balance,
        "load_average_1_5_15": {"start": load_before, "end": os.getloadavg()},
    }
    if args.fit_steps:
        payload["fit_options"] = measure_fit_options(
            args.out / "kerasbert", args.fit_steps, args.repeats
        )
    rows = [summary_row(name, s, LOCAL_MEMORY) for name, s in summary.items()]
    markdown = (
        "# build_tfrecords\n\n"
        f"BERT mlm-nsp TFRecords from `{args.corpus}` (headings -> document "
        f"breaks), vocab `{args.vocab.name}`, seq 128, max_predictions 20, "
        f"masked_lm_prob 0.15, dupe 5; kerasbert with {args.workers} processes, "
        "tf-models-official `create_pretraining_data` (1 process). Medians of "
        f"{args.repeats} alternating runs, wall time from process start.\n\n"
        + markdown_table(
            [
                "builder",
                "examples",
                "wall s",
                "examples/s",
                "peak RSS, process tree (MiB)",
                "peak RSS, largest process (MiB)",
            ],
            rows,
        )  # fmt: skip
        + f"\nThroughput: **{ratios['throughput_x']:.1f}x** the peer; peak memory "
        f"(process tree): **{ratios['tree_rss_fraction']:.2f}x** the peer's.\n"
        f"kerasbert NSP label balance (fraction random-next): {balance:.3f}.\n\n"
        f"Machine: {payload['machine']['cpu']}, {payload['machine']['cores']} "
        f"cores. Versions: {payload['versions']}.\n"
        f"Load average (1/5/15 min) at start {payload['load_average_1_5_15']['start']}"
        f", at end {payload['load_average_1_5_15']['end']}: the host is shared, so "
        "absolute times vary; the two builders alternate so both see it.\n"
    )
    if args.fit_steps:
        fit = payload["fit_options"]
        markdown += (
            f"\n## tf.data options for `model.fit` ({fit['model']}, batch 32, "
            f"{fit['steps']} steps)\n\n"
            + markdown_table(
                ["options", "median s", "runs"],
                [
                    [
                        k,
                        f"{fit['median_s'][k]:.2f}",
                        ", ".join(f"{t:.2f}" for t in fit["seconds"][k]),
                    ]
                    for k in ("default", "tuned")
                ],
            )  # fmt: skip
            + f"\nTuned ({fit['tuned_options']}) vs default: "
            f"{fit['tuned_speedup']:.2f}x.\n"
        )
    write_results(args.name or "build_tfrecords", payload, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
