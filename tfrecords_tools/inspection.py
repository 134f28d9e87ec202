"""Decoding written shards and measuring them: mask rate, 80/10/10, labels, lengths.

Used by ``tfrecords-tools inspect`` and by the statistical tests.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from kerasbert.data.records_format import iter_records


def read_features(
    paths: Sequence[str | os.PathLike], limit: int | None = None
) -> dict[str, np.ndarray]:
    """Stacked features of the records in ``paths`` (CRC-checked).

    Returns:
        name -> array ``[N, length]`` (int64 or float32).

    Raises:
        ValueError: a corrupt record (the message names the file), or records
            whose features differ in names or lengths.
    """
    from tensorflow.core.example import example_pb2

    columns: dict[str, list] = {}
    count = 0
    for path in paths:
        for payload in iter_records(path):
            if limit is not None and count >= limit:
                break
            example = example_pb2.Example.FromString(payload)
            feature = example.features.feature
            if columns and set(feature) != set(columns):
                raise ValueError(f"{path}: record {count} has other feature names")
            for name, value in feature.items():
                kind = value.WhichOneof("kind")
                columns.setdefault(name, []).append(list(getattr(value, kind).value))
            count += 1
    result = {}
    for name, rows in columns.items():
        if len({len(r) for r in rows}) != 1:
            raise ValueError(f"feature {name!r} has varying lengths")
        result[name] = np.asarray(rows)
    return result


def summarize(features: dict[str, np.ndarray], mask_id: int | None = None) -> dict:
    """Statistics of stacked features (see ``read_features``).

    Args:
        features: stacked arrays.
        mask_id: id of ``[MASK]``; inferred as the most frequent input id at
            masked positions when not given.

    Returns:
        ``examples``, ``length`` (mean/min/max, histogram by 16-token bins),
        and when present ``mask_rate`` (predictions per non-special token,
        special tokens = ``[CLS]``/``[SEP]`` counted as ``segments + 2``),
        ``mask_split`` (fractions replaced by ``[MASK]`` / random / kept) and
        ``label_balance`` (fraction of label 1).
    """
    lengths = features["input_mask"].sum(axis=1)
    bins = np.arange(0, features["input_mask"].shape[1] + 16, 16)
    histogram, _ = np.histogram(lengths, bins=bins)
    summary: dict = {
        "examples": int(lengths.size),
        "length": {
            "mean": float(lengths.mean()),
            "min": int(lengths.min()),
            "max": int(lengths.max()),
            "histogram": {
                f"{lo}-{hi - 1}": int(n)
                for lo, hi, n in zip(bins[:-1], bins[1:], histogram, strict=True)
            },
        },
    }
    if "masked_lm_weights" in features:
        real = features["masked_lm_weights"] > 0
        segments = 1 + (features["segment_ids"].max(axis=1) > 0)
        content = lengths - segments - 1
        summary["mask_rate"] = float(real.sum() / content.sum())
        rows = np.nonzero(real)[0]
        inputs = features["input_ids"][rows, features["masked_lm_positions"][real]]
        targets = features["masked_lm_ids"][real]
        if mask_id is None:
            mask_id = int(np.bincount(inputs).argmax())
        masked = inputs == mask_id
        kept = ~masked & (inputs == targets)
        summary["mask_split"] = {
            "mask": float(masked.mean()),
            "random": float((~masked & ~kept).mean()),
            "kept": float(kept.mean()),
        }
    if "next_sentence_labels" in features:
        summary["label_balance"] = float(features["next_sentence_labels"].mean())
    return summary


def format_example(
    features: dict[str, np.ndarray], row: int, vocabulary: list[str] | None = None
) -> str:
    """A readable rendering of example ``row``: tokens (or ids) and targets."""

    def show(ids: np.ndarray) -> str:
        if vocabulary is None:
            return " ".join(map(str, ids.tolist()))
        return " ".join(vocabulary[i] for i in ids.tolist())

    length = int(features["input_mask"][row].sum())
    lines = [f"example {row}", f"  input: {show(features['input_ids'][row, :length])}"]
    lines.append(
        "  segment_ids: " + "".join(map(str, features["segment_ids"][row, :length]))
    )
    if "masked_lm_weights" in features:
        real = features["masked_lm_weights"][row] > 0
        positions = features["masked_lm_positions"][row][real]
        lines.append(f"  masked positions: {positions.tolist()}")
        lines.append(f"  masked targets: {show(features['masked_lm_ids'][row][real])}")
    if "next_sentence_labels" in features:
        lines.append(f"  label: {int(features['next_sentence_labels'][row, 0])}")
    return "\n".join(lines)
