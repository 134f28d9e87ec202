"""Fine-tuning benchmark, what the HF and keras-hub workers share."""

from __future__ import annotations

import math
import statistics

from benchmarks.finetune_data import WARM_STEPS, read_prepared_tsv


def schedule_steps(examples: int, spec: dict) -> tuple[int, int]:
    """(total, warmup) optimizer steps: ceil(examples / batch) x epochs.

    Warmup is ``round(ratio * total)``, as ``kerasbert finetune`` rounds it.
    """
    total = math.ceil(examples / spec["batch_size"]) * spec["epochs"]
    return total, round(spec["warmup_ratio"] * total)


def steady_step_seconds(step_seconds: list[float]) -> float | None:
    """Median step time after the first ``WARM_STEPS`` (all, if that few)."""
    if not step_seconds:
        return None
    steady = step_seconds[WARM_STEPS:] or step_seconds
    return statistics.median(steady)


def worker_metrics(
    spec: dict,
    final: dict,
    train_examples: int,
    train_seconds: float,
    tokenize_seconds: float,
    eval_seconds: float,
    step_seconds: list[float],
    notes: str = "",
) -> dict:
    """The metrics.json of a peer run, in the shape ``kerasbert finetune`` writes."""
    return {
        "task": spec["task"],
        "final": final,
        "best": final,
        "history": [final],
        "train_examples": train_examples,
        "train_seconds": train_seconds,
        "train_examples_per_second": train_examples * spec["epochs"] / train_seconds,
        "tokenize_seconds": tokenize_seconds,
        "eval_seconds": eval_seconds,
        "step_seconds": step_seconds,
        "steady_step_seconds": steady_step_seconds(step_seconds),
        "notes": notes,
        "settings": spec,
    }


def sentence_inputs(spec: dict, split: str) -> tuple[list[str], list[str] | None, list]:
    """(first texts, second texts or None, labels) of a prepared sentence TSV."""
    columns = read_prepared_tsv(spec[split])
    if spec["task"] == "sst2":
        return columns["sentence"], None, [int(v) for v in columns["label"]]
    return (
        columns["sentence1"],
        columns["sentence2"],
        [float(v) for v in columns["score"]],
    )
