"""Fine-tuning benchmark, SQuAD for the peers: HF fast-tokenizer windows, n-best."""

from __future__ import annotations

import collections
import math
import time

from benchmarks.finetune_data import read_squad_examples


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


def squad_data(spec: dict, tokenizer) -> tuple[dict, list[dict], dict, float]:
    """(train windows, dev examples, dev windows, tokenize seconds)."""
    train_examples = read_squad_examples(spec["train"])
    dev_examples = read_squad_examples(spec["validation"])
    start = time.perf_counter()
    train = squad_windows(tokenizer, train_examples, spec, train=True)
    dev = squad_windows(tokenizer, dev_examples, spec, train=False)
    return train, dev_examples, dev, time.perf_counter() - start
