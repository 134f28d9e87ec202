"""SQuAD v1.1 / v2.0 JSON: questions, contexts and gold answers, checked."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasbert.finetuning.readers.text_files import read_utf8


@dataclass(frozen=True)
class Answer:
    """One gold answer span: ``context[start:start + len(text)] == text``."""

    text: str
    start: int

    @property
    def end(self) -> int:
        """End character offset (exclusive)."""
        return self.start + len(self.text)


@dataclass(frozen=True)
class SquadExample:
    """One SQuAD question with its paragraph and gold answers.

    ``answers`` is empty for SQuAD v2.0 unanswerable questions
    (``is_impossible``); v2.0's ``plausible_answers`` are not kept.
    """

    id: str
    title: str
    question: str
    context: str
    answers: tuple[Answer, ...]
    is_impossible: bool


@dataclass(frozen=True)
class SquadReadStats:
    """What ``read_squad_with_stats`` had to repair or drop.

    Attributes:
        version: the file's ``version`` field ("" when absent).
        questions: examples returned.
        realigned_answers: answers whose ``answer_start`` did not point at
            their text and were moved to the nearest occurrence of the text.
        dropped_answers: answers dropped because their text (or an empty
            text) does not occur in the context at all.
        dropped_questions: answerable questions dropped because none of
            their answers could be placed.
    """

    version: str
    questions: int
    realigned_answers: int
    dropped_answers: int
    dropped_questions: int


def align_answer(context: str, text: str, start: int) -> int | None:
    """The start offset of ``text`` in ``context`` nearest to ``start``.

    Returns ``start`` itself when it is right, the closest occurrence (the
    earlier one on a tie) when it is not (offsets counted in bytes or UTF-16
    units, or off by a few characters), and None when ``text`` is empty or does
    not occur in ``context``.
    """
    if not text:
        return None
    if context[start : start + len(text)] == text and start >= 0:
        return start
    best = None
    position = context.find(text)
    while position >= 0:
        if best is None or abs(position - start) < abs(best - start):
            best = position
        position = context.find(text, position + 1)
    return best


def _field(record: Any, key: str, where: str, path: Path, kind: type) -> Any:
    """``record[key]`` checked to be of ``kind``; ValueError naming the spot."""
    if not isinstance(record, dict) or key not in record:
        raise ValueError(f"{path}: {where}: missing {key!r}.")
    value = record[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ValueError(
            f"{path}: {where}.{key}: expected {kind.__name__}, got "
            f"{type(value).__name__}."
        )
    return value


@dataclass
class _SquadCounts:
    """Mutable repair counters while parsing."""

    realigned: int = 0
    dropped_answers: int = 0
    dropped_questions: int = 0


def _parse_answers(
    qa: dict, context: str, where: str, path: Path, counts: _SquadCounts
) -> tuple[Answer, ...]:
    """The checked (and where needed realigned) answers of one question."""
    answers = []
    if "answers" not in qa:  # prediction-only files
        return ()
    for number, raw in enumerate(_field(qa, "answers", where, path, list)):
        answer_where = f"{where}.answers[{number}]"
        text = _field(raw, "text", answer_where, path, str)
        start = _field(raw, "answer_start", answer_where, path, int)
        aligned = align_answer(context, text, start)
        if aligned is None:
            counts.dropped_answers += 1
            continue
        counts.realigned += aligned != start
        answers.append(Answer(text, aligned))
    return tuple(answers)


def _parse_question(
    qa: Any, context: str, title: str, where: str, path: Path, counts: _SquadCounts
) -> SquadExample | None:
    """One question as an example; None when all its answers had to go."""
    impossible = bool(qa.get("is_impossible", False)) if isinstance(qa, dict) else False
    question_id = _field(qa, "id", where, path, str)
    question = _field(qa, "question", where, path, str)
    if impossible:
        answers: tuple[Answer, ...] = ()
    else:
        answers = _parse_answers(qa, context, where, path, counts)
        if qa.get("answers") and not answers:
            counts.dropped_questions += 1
            return None
    return SquadExample(question_id, title, question, context, answers, impossible)


def read_squad_with_stats(
    path: str | Path,
) -> tuple[list[SquadExample], SquadReadStats]:
    """Reads SQuAD v1.1 / v2.0 JSON and reports what had to be repaired.

    Layout: ``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id",
    "question", "answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}``.
    Each answer is checked against its context; a wrong ``answer_start`` is
    moved to the nearest occurrence of the text (``align_answer``), an answer
    whose text is not in the context is dropped, and an answerable question
    left without answers is dropped, all counted in the stats. (Hugging
    Face's ``run_qa`` keeps such examples; dropping them keeps training
    labels honest.) Questions with no answers in the file and no
    ``is_impossible`` (prediction-only files) are kept with ``answers=()``.

    Raises:
        ValueError: not JSON, not the SQuAD layout (the message gives the JSON
            path of the bad record), duplicate question ids, not UTF-8.
    """
    path = Path(path)
    try:
        document = json.loads(read_utf8(path))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: line {error.lineno}: {error.msg}.") from None
    articles = _field(document, "data", "top level", path, list)
    counts = _SquadCounts()
    examples: list[SquadExample] = []
    for article_number, article in enumerate(articles):
        where = f"data[{article_number}]"
        title = article.get("title", "") if isinstance(article, dict) else ""
        paragraphs = _field(article, "paragraphs", where, path, list)
        for paragraph_number, paragraph in enumerate(paragraphs):
            paragraph_where = f"{where}.paragraphs[{paragraph_number}]"
            context = _field(paragraph, "context", paragraph_where, path, str)
            qas = _field(paragraph, "qas", paragraph_where, path, list)
            for qa_number, qa in enumerate(qas):
                example = _parse_question(
                    qa,
                    context,
                    str(title),
                    f"{paragraph_where}.qas[{qa_number}]",
                    path,
                    counts,
                )
                if example is not None:
                    examples.append(example)
    _check_unique_ids(path, examples)
    stats = SquadReadStats(
        version=str(document.get("version", "")),
        questions=len(examples),
        realigned_answers=counts.realigned,
        dropped_answers=counts.dropped_answers,
        dropped_questions=counts.dropped_questions,
    )
    return examples, stats


def _check_unique_ids(path: Path, examples: list[SquadExample]) -> None:
    """Predictions are keyed by question id, so ids must be unique."""
    seen: set[str] = set()
    for example in examples:
        if example.id in seen:
            raise ValueError(f"{path}: question id {example.id!r} occurs twice.")
        seen.add(example.id)


def read_squad(path: str | Path) -> list[SquadExample]:
    """Reads SQuAD v1.1 / v2.0 JSON into examples in file order.

    Same as ``read_squad_with_stats`` but issues one ``UserWarning`` summarizing
    realigned / dropped answers instead of returning the counts.
    """
    examples, stats = read_squad_with_stats(path)
    if stats.realigned_answers or stats.dropped_answers:
        warnings.warn(
            f"{path}: moved {stats.realigned_answers} answer(s) whose answer_start "
            f"did not match their text to the nearest occurrence; dropped "
            f"{stats.dropped_answers} answer(s) not found in their context and "
            f"{stats.dropped_questions} question(s) left without answers.",
            stacklevel=2,
        )
    return examples
