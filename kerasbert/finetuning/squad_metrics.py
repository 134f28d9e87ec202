"""SQuAD v1.1 / v2.0 evaluation with the official scripts' semantics.

Answers are normalized before comparison (lowercase; drop ASCII punctuation;
drop the articles "a", "an", "the" as whole words; collapse whitespace).
Exact match compares normalized strings, F1 the bags of normalized tokens;
each question takes the best score over its gold answers, and the totals are
averages times 100, as the official scripts print them.

Differences from the official scripts, all deliberate:

* A question without a prediction scores 0 and is counted in ``missing``
  (the v1.1 script does the same; the v2.0 script leaves such questions out
  of the average, which flatters incomplete prediction files).
* Token F1 always uses the v2.0 rule for empty normalized strings (1 when
  both are empty, else 0); the v1.1 script gives 0 there. This matters only
  for a prediction that normalizes to nothing against a gold answer that does
  too (SQuAD v1.1 dev has one gold answer ".").

Which gold answers count follows the script of the data's version: when some
question has no answer (v2.0 data), gold answers whose normalized text is
empty are ignored and a question left without any expects the empty answer,
as evaluate-v2.0.py does; otherwise (v1.1 data) every gold answer counts, as
evaluate-v1.1.py does.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kerasbert.atomic_files import write_json_atomically
from kerasbert.finetuning.readers import SquadExample

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """The official SQuAD normalization, applied in the official order.

    Lowercase, delete every ``string.punctuation`` character (so "U.S." gives
    "us" and "well-known" gives "wellknown"), replace the whole words a / an /
    the by a space, then collapse runs of whitespace to single spaces.
    """
    text = text.lower()
    text = "".join(char for char in text if char not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalized strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """F1 of the normalized token bags (multiset overlap).

    Repeated tokens count as often as they occur in both (``Counter``
    intersection). When either side normalizes to no tokens the score is 1.0
    if both do and 0.0 otherwise (the SQuAD v2.0 rule for no-answer).
    """
    predicted_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not predicted_tokens or not gold_tokens:
        return float(predicted_tokens == gold_tokens)
    overlap = sum((Counter(predicted_tokens) & Counter(gold_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_texts(example: SquadExample, version_2: bool = True) -> list[str]:
    """The gold strings a prediction is compared with.

    With ``version_2`` (evaluate-v2.0.py), answers whose normalized text is
    empty are skipped and a question left with none (an unanswerable one)
    expects the empty string. Without it (evaluate-v1.1.py) all answer texts
    count.
    """
    texts = [answer.text for answer in example.answers]
    if version_2:
        texts = [text for text in texts if normalize_answer(text)]
    return texts or [""]


@dataclass(frozen=True)
class _QuestionScore:
    """Best scores of one question over its gold answers."""

    exact: float
    f1: float
    has_answer: bool


def _question_score(
    example: SquadExample, prediction: str | None, version_2: bool
) -> _QuestionScore:
    """Scores one prediction; a missing one (None) scores 0."""
    has_answer = bool(example.answers)
    if prediction is None:
        return _QuestionScore(0.0, 0.0, has_answer)
    golds = gold_texts(example, version_2)
    return _QuestionScore(
        exact=max(exact_match(prediction, gold) for gold in golds),
        f1=max(token_f1(prediction, gold) for gold in golds),
        has_answer=has_answer,
    )


def _percent_mean(values: Sequence[float]) -> float:
    """Mean times 100; 0.0 for no values."""
    return 100.0 * sum(values) / len(values) if values else 0.0


def _with_threshold(
    score: _QuestionScore, probability: float, threshold: float, metric: str
) -> float:
    """A question's score when ``probability > threshold`` means "no answer"."""
    if probability > threshold:
        return float(not score.has_answer)
    return getattr(score, metric)


def best_threshold(
    scores: Sequence[float],
    has_answer: Sequence[bool],
    probabilities: Sequence[float],
) -> tuple[float, float]:
    """The no-answer threshold that maximizes the total score.

    At threshold ``t`` a question with no-answer probability ``p > t`` is
    answered with the empty string (scoring 1 exactly when it has no answer)
    and the others keep their score. As in the official v2.0 script, the
    search starts from threshold 0.0 with every question answered "no answer"
    and sweeps the probabilities upward, keeping the first best. Equal
    probabilities are taken together, since no threshold separates them.

    Returns:
        (best score in percent, its threshold).
    """
    if not scores:
        return 0.0, 0.0
    total = float(sum(not has for has in has_answer))
    best_total, best = total, 0.0
    order = sorted(range(len(scores)), key=lambda index: probabilities[index])
    for position, index in enumerate(order):
        total += scores[index] - float(not has_answer[index])
        is_group_end = (
            position + 1 == len(order)
            or probabilities[order[position + 1]] != probabilities[index]
        )
        if is_group_end and total > best_total:
            best_total, best = total, float(probabilities[index])
    return 100.0 * best_total / len(scores), best


def squad_scores(
    examples: Sequence[SquadExample],
    predictions: Mapping[str, str],
    no_answer_probabilities: Mapping[str, float] | None = None,
    no_answer_threshold: float = 1.0,
) -> dict[str, float | int]:
    """Exact match and F1 (percent) of predicted answer strings.

    Args:
        examples: the gold questions (``read_squad``).
        predictions: question id -> predicted answer text; "" means "no
            answer". Ids not among ``examples`` are ignored.
        no_answer_probabilities: optional question id -> probability that the
            question has no answer (the official v2.0 ``--na-prob-file``).
            Where it exceeds ``no_answer_threshold`` the prediction counts as
            "no answer", and the best thresholds are searched and reported.
        no_answer_threshold: see above; the official default is 1.0.

    Returns:
        ``exact_match``, ``f1`` (0-100), ``total`` (questions), ``missing``
        (questions without a prediction, scored 0). When some question has no
        answer (SQuAD v2.0): ``has_answer_exact_match``, ``has_answer_f1``,
        ``has_answer_total`` and the ``no_answer_*`` counterparts. With
        probabilities: ``best_exact_match``, ``best_exact_match_threshold``,
        ``best_f1``, ``best_f1_threshold``.

    Raises:
        ValueError: no examples, or probabilities missing for predicted ids.
    """
    if not examples:
        raise ValueError("squad_scores needs at least one example.")
    version_2 = not all(example.answers for example in examples)
    scores = [_question_score(ex, predictions.get(ex.id), version_2) for ex in examples]
    probabilities = _probabilities(examples, predictions, no_answer_probabilities)
    exact = [
        _with_threshold(s, p, no_answer_threshold, "exact")
        for s, p in zip(scores, probabilities, strict=True)
    ]
    f1 = [
        _with_threshold(s, p, no_answer_threshold, "f1")
        for s, p in zip(scores, probabilities, strict=True)
    ]
    result: dict[str, float | int] = {
        "exact_match": _percent_mean(exact),
        "f1": _percent_mean(f1),
        "total": len(examples),
        "missing": sum(ex.id not in predictions for ex in examples),
    }
    if version_2:
        has_answer = [score.has_answer for score in scores]
        result.update(_split_scores(exact, f1, has_answer))
    if no_answer_probabilities is not None:
        result.update(_best_thresholds(scores, probabilities))
    return result


def _probabilities(
    examples: Sequence[SquadExample],
    predictions: Mapping[str, str],
    no_answer_probabilities: Mapping[str, float] | None,
) -> list[float]:
    """Each example's no-answer probability (0.0 when none are given)."""
    if no_answer_probabilities is None:
        return [0.0] * len(examples)
    lacking = [
        ex.id
        for ex in examples
        if ex.id in predictions and ex.id not in no_answer_probabilities
    ]
    if lacking:
        raise ValueError(
            f"no_answer_probabilities lacks {len(lacking)} predicted question "
            f"id(s), e.g. {lacking[0]!r}."
        )
    return [float(no_answer_probabilities.get(ex.id, 0.0)) for ex in examples]


def _split_scores(
    exact: list[float], f1: list[float], has_answer: list[bool]
) -> dict[str, float | int]:
    """Scores over answerable and unanswerable questions separately."""
    result: dict[str, float | int] = {}
    for prefix, wanted in (("has_answer", True), ("no_answer", False)):
        chosen = [index for index, has in enumerate(has_answer) if has == wanted]
        result[f"{prefix}_exact_match"] = _percent_mean([exact[i] for i in chosen])
        result[f"{prefix}_f1"] = _percent_mean([f1[i] for i in chosen])
        result[f"{prefix}_total"] = len(chosen)
    return result


def _best_thresholds(
    scores: list[_QuestionScore], probabilities: list[float]
) -> dict[str, float]:
    """``best_threshold`` for exact match and for F1."""
    has_answer = [score.has_answer for score in scores]
    best_exact, exact_threshold = best_threshold(
        [score.exact for score in scores], has_answer, probabilities
    )
    best_f1, f1_threshold = best_threshold(
        [score.f1 for score in scores], has_answer, probabilities
    )
    return {
        "best_exact_match": best_exact,
        "best_exact_match_threshold": exact_threshold,
        "best_f1": best_f1,
        "best_f1_threshold": f1_threshold,
    }


def write_predictions(path: str | Path, predictions: Mapping[str, str]) -> Path:
    """Writes ``{question id: answer text}`` JSON, the official scripts' input.

    Written atomically, so a crash never leaves a truncated file that an
    evaluation would silently score as mostly missing.
    """
    write_json_atomically(path, dict(predictions))
    return Path(path)
