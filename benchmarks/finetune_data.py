"""Fine-tuning benchmark data: the shared files read, subsets written, scores.

Every system reads the same prepared files; HF and keras-hub runs are scored
here (kerasbert scores itself in ``kerasbert finetune``).
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SYSTEMS = ("kerasbert", "hf", "keras-hub")
TASKS = ("sst2", "stsb", "squad")
#: Metrics reported per task; classification/regression as fractions, SQuAD in %.
TASK_METRICS = {
    "sst2": ("accuracy",),
    "stsb": ("pearson", "spearman"),
    "squad": ("exact_match", "f1"),
}
#: The kerasbert subcommand of each task.
KERASBERT_TASKS = {"sst2": "classify", "stsb": "regress", "squad": "squad"}
VERSIONS = (
    "tensorflow",
    "keras",
    "keras-hub",
    "torch",
    "transformers",
    "tokenizers",
    "kerasbert",
)
#: Steps excluded (tracing, warm caches) from the steady per-step time.
WARM_STEPS = 2


def read_tsv_rows(path: str | os.PathLike) -> list[list[str]]:
    """Rows of a tab-separated file read without any quote handling."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def write_tsv(path: Path, header: Sequence[str], rows: list[Sequence]) -> str:
    """Writes a headed TSV without quoting (as GLUE's); returns its path.

    Fields are written verbatim (a ``"`` stays a ``"``): kerasbert reads
    ``.tsv`` with ``csv.QUOTE_NONE``, as the workers here do.
    """
    lines = []
    for row in [header, *rows]:
        fields = [str(field) for field in row]
        if any(ch in field for field in fields for ch in "\t\r\n"):
            raise ValueError(f"{path}: a field holds a tab or newline: {fields}")
        lines.append("\t".join(fields))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def read_prepared_tsv(path: str | os.PathLike) -> dict[str, list[str]]:
    """Columns of a TSV written by :func:`write_tsv`, by header name."""
    rows = read_tsv_rows(path)
    return {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}


def sample_rows(rows: list, size: int, seed: int = 0) -> list:
    """``size`` rows drawn at random (all of them, in order, for ``size <= 0``)."""
    if size <= 0 or size >= len(rows):
        return rows
    return random.Random(seed).sample(rows, size)


def prepare_sst2(args, directory: Path) -> dict[str, str]:
    """SST-2 subsets as ``sentence<TAB>label`` TSVs (trailing spaces stripped)."""
    files = {}
    for split, source, size in (
        ("train", args.sst2_train, args.sst2_train_size),
        ("validation", args.sst2_dev, args.sst2_dev_size),
    ):
        rows = [(row[0].strip(), row[1]) for row in read_tsv_rows(source)[1:]]
        files[split] = write_tsv(
            directory / f"sst2_{split}.tsv",
            ("sentence", "label"),
            sample_rows(rows, size),
        )
    return files


def prepare_stsb(args, directory: Path) -> dict[str, str]:
    """STS-B as ``sentence1<TAB>sentence2<TAB>score`` TSVs.

    The original files have no header, unbalanced quotes (so they are read
    with no quoting) and 7 or 9 fields: score is field 4, the pair fields 5-6.
    """
    files = {}
    for split, source, size in (
        ("train", args.stsb_train, args.stsb_train_size),
        ("validation", args.stsb_dev, args.stsb_dev_size),
    ):
        rows = [(row[5], row[6], row[4]) for row in read_tsv_rows(source)]
        files[split] = write_tsv(
            directory / f"stsb_{split}.tsv",
            ("sentence1", "sentence2", "score"),
            sample_rows(rows, size),
        )
    return files


def squad_subset(source: str | os.PathLike, questions: int) -> dict:
    """The first ``questions`` questions of a SQuAD file, in its own layout."""
    with open(source, encoding="utf-8") as f:
        dataset = json.load(f)
    if questions <= 0:
        return dataset
    data, left = [], questions
    for article in dataset["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            if left <= 0:
                break
            qas = paragraph["qas"][:left]
            left -= len(qas)
            paragraphs.append({"context": paragraph["context"], "qas": qas})
        if paragraphs:
            data.append({"title": article["title"], "paragraphs": paragraphs})
        if left <= 0:
            break
    return {"version": dataset.get("version", "1.1"), "data": data}


def prepare_squad(args, directory: Path) -> dict[str, str]:
    files = {}
    for split, source, size in (
        ("train", args.squad_train, args.squad_train_examples),
        ("validation", args.squad_dev, args.squad_dev_examples),
    ):
        path = directory / f"squad_{split}.json"
        path.write_text(json.dumps(squad_subset(source, size)), encoding="utf-8")
        files[split] = str(path)
    return files


PREPARERS = {"sst2": prepare_sst2, "stsb": prepare_stsb, "squad": prepare_squad}


def read_squad_examples(path: str | os.PathLike) -> list[dict]:
    """Flat SQuAD examples: id, question, context and the first answer."""
    with open(path, encoding="utf-8") as f:
        dataset = json.load(f)
    examples = []
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = qa["answers"]
                examples.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"].lstrip(),
                        "context": paragraph["context"],
                        "answer_text": answers[0]["text"],
                        "answer_start": answers[0]["answer_start"],
                    }
                )
    return examples


def squad_scores(path: str | os.PathLike, predictions: dict[str, str]) -> dict:
    """EM and F1 (percent) of a peer's answers to the dev questions at ``path``.

    Scored by ``kerasbert.finetuning.squad_metrics`` (the official v1.1
    normalization, best over gold answers), the code that scores ``kerasbert
    finetune``'s own predictions, so the three systems are graded alike.
    """
    from kerasbert.finetuning.readers import read_squad
    from kerasbert.finetuning.squad_metrics import squad_scores as official_scores

    scores = official_scores(read_squad(path), predictions)
    return {"exact_match": scores["exact_match"], "f1": scores["f1"]}


def classification_scores(labels, logits) -> dict[str, float]:
    import numpy as np

    predicted = np.argmax(np.asarray(logits), axis=-1)
    return {"accuracy": float(np.mean(predicted == np.asarray(labels)))}


def regression_scores(labels, predictions) -> dict[str, float]:
    import numpy as np
    from scipy import stats

    predictions = np.asarray(predictions, dtype="float64").reshape(-1)
    labels = np.asarray(labels, dtype="float64")
    return {
        "pearson": float(stats.pearsonr(labels, predictions)[0]),
        "spearman": float(stats.spearmanr(labels, predictions)[0]),
    }
