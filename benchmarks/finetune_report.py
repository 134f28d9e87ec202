"""Fine-tuning benchmark summary: means, medians, ratios, Markdown tables."""

from __future__ import annotations

import collections
import statistics
from collections.abc import Sequence

from benchmarks.common import (
    markdown_table,
    median,
)
from benchmarks.finetune_data import TASK_METRICS


def mean_or_none(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def median_or_none(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return median(values) if values else None


def group_ratios(records: list[dict], numerator: str, denominator: str) -> list:
    """Per-group ratios of training examples/s (same round, task and seed)."""
    speeds = collections.defaultdict(dict)
    for record in records:
        speed = record["summary"]["train_examples_per_second"]
        if speed:
            speeds[record["group"]][record["system"]] = speed
    return [
        group[numerator] / group[denominator]
        for group in speeds.values()
        if numerator in group and denominator in group
    ]


def task_summary(records: list[dict], task: str, systems: Sequence[str]) -> dict:
    """Per system: mean-of-seeds scores, points vs HF, median speed, ratios."""
    records = [r for r in records if r["task"] == task]
    scale = 1.0 if task == "squad" else 100.0
    summary = {}
    for system in systems:
        own = [r for r in records if r["system"] == system]
        scores = {}
        for metric in TASK_METRICS[task]:
            per_seed = collections.defaultdict(list)
            for record in own:
                per_seed[record["seed"]].append(record["summary"]["scores"][metric])
            seed_means = [mean_or_none(v) for v in per_seed.values()]
            scores[metric] = mean_or_none(seed_means)
        summary[system] = {
            "scores": scores,
            "runs": len(own),
            "failed_runs": sum(1 for r in own if "metrics" not in r),
            "train_examples_per_second": median_or_none(
                [r["summary"]["train_examples_per_second"] for r in own]
            ),
            "steady_step_seconds": median_or_none(
                [r["summary"]["steady_step_seconds"] for r in own]
            ),
            "tokenize_share": median_or_none(
                [r["summary"]["tokenize_share"] for r in own]
            ),
            "wall_seconds": median_or_none(
                [r["wall_seconds"] for r in own if "metrics" in r]
            ),
        }
    for system in systems:
        hf = summary.get("hf", {}).get("scores", {})
        summary[system]["points_vs_hf"] = {
            metric: scale * (value - hf[metric])
            if value is not None and hf.get(metric) is not None
            else None
            for metric, value in summary[system]["scores"].items()
        }
    summary["ratios"] = {
        f"kerasbert/{peer}": median_or_none(group_ratios(records, "kerasbert", peer))
        for peer in systems
        if peer != "kerasbert" and "kerasbert" in systems
    }
    return summary


def fmt(value: float | None, digits: int = 2, scale: float = 1.0) -> str:
    return "-" if value is None else f"{scale * value:.{digits}f}"


def task_table(task: str, summary: dict, systems: Sequence[str]) -> str:
    scale = 1.0 if task == "squad" else 100.0
    metrics = TASK_METRICS[task]
    header = ["system"]
    header += [f"{m} ({'%' if task == 'squad' else 'x100'})" for m in metrics]
    header += [f"{m} vs HF (points)" for m in metrics]
    header += ["train ex/s (median)", "steady s/step", "tokenize share", "wall s"]
    header += ["runs (failed)"]
    rows = []
    for system in systems:
        entry = summary[system]
        rows.append(
            [
                system
                + (" (own head)" if task == "squad" and system == "keras-hub" else "")
            ]
            + [fmt(entry["scores"][m], scale=scale) for m in metrics]
            + [fmt(entry["points_vs_hf"][m]) for m in metrics]
            + [
                fmt(entry["train_examples_per_second"], 1),
                fmt(entry["steady_step_seconds"], 3),
                fmt(entry["tokenize_share"], 1, 100.0) + "%"
                if entry["tokenize_share"] is not None
                else "-",
                fmt(entry["wall_seconds"], 0),
                f"{entry['runs']} ({entry['failed_runs']})",
            ]
        )
    ratios = ", ".join(
        f"{name} {fmt(value)}" for name, value in summary["ratios"].items()
    )
    if not ratios:
        return markdown_table(header, rows)
    return (
        markdown_table(header, rows)
        + f"\nTraining speed ratios (median of per-group ratios): {ratios}.\n"
    )


def render_markdown(payload: dict) -> str:
    config = payload["config"]
    machine = payload["machine"]
    lines = [
        "# Fine-tuning all-MiniLM-L6-v2: kerasbert vs HF transformers vs keras-hub\n",
        f"`{payload['command']}`\n",
        f"AdamW lr {config['learning_rate']}, weight decay {config['weight_decay']} "
        f"(not on biases/LayerNorm), eps {config['adam_epsilon']}, gradient norm "
        f"clipped at {config['max_grad_norm']}, warmup ratio "
        f"{config['warmup_ratio']} then linear decay to 0, batch "
        f"{config['batch_size']}, {config['epochs']} epoch(s), dropout 0.1, fp32; "
        f"seq {config['max_seq_length']} "
        f"(SST-2, STS-B), {config['squad_max_seq_length']} (SQuAD, stride "
        f"{config['doc_stride']}, query {config['max_query_length']}, answer "
        f"{config['max_answer_length']}, n-best {config['n_best']}). Seeds "
        f"{config['seeds']}, {config['rounds']} round(s); scores are means over seeds, "
        "speeds medians over runs (training examples/s: inputs, SQuAD windows, "
        "x epochs over the training loop's seconds, TensorFlow tracing "
        "included), ratios medians of per-group ratios; each run is its own "
        "subprocess. Data: "
        f"{payload['data']}.\n",
        'keras-hub on SQuAD: a Dense(2) on `sequence_output` ("own head"), fed the '
        "windows of HF's fast tokenizer; keras-hub's tokenize share on SST-2/STS-B "
        "is a separate pass of its preprocessor (inside `fit` it overlaps training). "
        "keras-hub's BERT uses the tanh GELU (HF and kerasbert: erf).\n",
    ]
    for task, summary in payload["summary"].items():
        lines.append(f"## {task}\n")
        lines.append(task_table(task, summary, config["systems"]))
    lines.append(
        f"Machine: {machine['cpu']}, {machine['cores']} cores, load averages "
        f"{payload['load_average']}. Versions: {payload['versions']}.\n"
    )
    return "\n".join(lines)
