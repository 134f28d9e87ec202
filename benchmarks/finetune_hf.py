"""Fine-tuning benchmark worker: Hugging Face transformers on torch."""

from __future__ import annotations

import collections
import os
import random
import time

from benchmarks.finetune_data import (
    classification_scores,
    read_squad_examples,
    regression_scores,
    squad_scores,
)
from benchmarks.finetune_squad import squad_data, squad_predictions
from benchmarks.finetune_worker import schedule_steps, sentence_inputs, worker_metrics


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
        squad_scores(spec["validation"], predictions),
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
