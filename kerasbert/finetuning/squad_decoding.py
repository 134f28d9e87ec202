"""SQuAD answer decoding: the n-best spans across a question's windows, as text.

For each window the ``n_best_size`` highest start and end logits are paired into
spans of at most ``max_answer_length`` tokens that lie inside the context and
start at a token scored in that window (see ``squad_windows``); spans from all
windows of a question compete on ``start + end`` logit, and the best becomes
the answer, cut from the original context through the token offsets. With
SQuAD v2.0 the "no answer" score (``[CLS]`` start + end, the minimum over
windows) wins when it beats the best span by more than ``null_score_threshold``.

Plain Python and numpy: no TensorFlow import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from kerasbert.finetuning.squad_windows import Window

__all__ = ["decode_answers"]


class _Candidate(NamedTuple):
    """A scored answer span; ``char_start == -1`` marks the null answer."""

    score: float
    start_logit: float
    end_logit: float
    char_start: int
    char_end: int


def _top_k(logits: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest of ``logits`` ``[L]``, best first.

    Ties keep position order (stable sort), like Python's ``sorted``.
    """
    return np.argsort(-logits, kind="stable")[:k]


def _window_candidates(
    window: Window,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    *,
    n_best_size: int,
    max_answer_length: int,
) -> list[_Candidate]:
    """Valid spans among the window's top start and end positions.

    Args:
        start_logits, end_logits: float ``[max_seq_length]`` for this window.

    Returns:
        Candidates in (start rank, end rank) order, for pairs where both ends
        are in the context, ``start <= end``, the span has at most
        ``max_answer_length`` tokens, and the start token has its max context
        in this window.
    """
    starts = _top_k(start_logits, n_best_size)[:, None]  # [k, 1]
    ends = _top_k(end_logits, n_best_size)[None, :]  # [1, k]
    in_context = window.context_mask
    valid = (
        in_context[starts]
        & window.max_context[starts]
        & in_context[ends]
        & (ends >= starts)
        & (ends - starts + 1 <= max_answer_length)
    )
    rows, cols = np.nonzero(valid)  # row-major: start rank, then end rank
    candidates = []
    for start, end in zip(starts[rows, 0], ends[0, cols], strict=True):
        start_logit = float(start_logits[start])
        end_logit = float(end_logits[end])
        candidates.append(
            _Candidate(
                score=start_logit + end_logit,
                start_logit=start_logit,
                end_logit=end_logit,
                char_start=int(window.token_offsets[start, 0]),
                char_end=int(window.token_offsets[end, 1]),
            )
        )
    return candidates


def _null_candidate(
    windows: Sequence[Window],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
) -> _Candidate:
    """The ``[CLS]`` answer with the lowest score over the example's windows.

    Args:
        start_logits, end_logits: float ``[len(windows), max_seq_length]``.
    """
    scores = start_logits[:, 0] + end_logits[:, 0]
    best = int(np.argmin(scores))
    return _Candidate(
        score=float(start_logits[best, 0]) + float(end_logits[best, 0]),
        start_logit=float(start_logits[best, 0]),
        end_logit=float(end_logits[best, 0]),
        char_start=-1,
        char_end=-1,
    )


def _softmax(scores: Sequence[float]) -> list[float]:
    """Softmax of a non-empty list of scores, computed stably."""
    values = np.asarray(scores, np.float64)
    exp = np.exp(values - values.max())
    return (exp / exp.sum()).tolist()


def _answer_text(candidate: _Candidate, context: str) -> str:
    """The candidate's text: its character span of ``context``, "" if null."""
    if candidate.char_start < 0:
        return ""
    return context[candidate.char_start : candidate.char_end]


def _nbest_entries(candidates: Sequence[_Candidate], context: str) -> list[dict]:
    """JSON-ready n-best entries with softmax probabilities over ``candidates``."""
    probabilities = _softmax([c.score for c in candidates]) if candidates else []
    entries = []
    for candidate, probability in zip(candidates, probabilities, strict=True):
        entries.append(
            {
                "text": _answer_text(candidate, context),
                "probability": probability,
                "start_logit": candidate.start_logit,
                "end_logit": candidate.end_logit,
                "score": candidate.score,
                "char_start": candidate.char_start,
                "char_end": candidate.char_end,
            }
        )
    return entries


def _decode_example(
    windows: Sequence[Window],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context: str,
    *,
    n_best_size: int,
    max_answer_length: int,
    version_2: bool,
    null_score_diff_threshold: float,
) -> tuple[str, list[dict], float | None]:
    """Prediction, n-best entries and (v2) null odds for one example.

    Args:
        start_logits, end_logits: float ``[len(windows), max_seq_length]``.
    """
    candidates: list[_Candidate] = []
    for window, start, end in zip(windows, start_logits, end_logits, strict=True):
        candidates += _window_candidates(
            window,
            start,
            end,
            n_best_size=n_best_size,
            max_answer_length=max_answer_length,
        )
    # Stable: equal scores keep window, start-rank, end-rank order.
    candidates.sort(key=lambda c: -c.score)
    best_non_null = candidates[0] if candidates else None

    if not version_2:
        nbest = candidates[:n_best_size]
        text = "" if best_non_null is None else _answer_text(best_non_null, context)
        return text, _nbest_entries(nbest, context), None

    null = _null_candidate(windows, start_logits, end_logits)
    nbest = sorted([*candidates, null], key=lambda c: -c.score)[:n_best_size]
    if null not in nbest:
        nbest.append(null)
    null_odds = (
        null.score - best_non_null.score if best_non_null is not None else math.inf
    )
    if best_non_null is None or null_odds > null_score_diff_threshold:
        text = ""
    else:
        text = _answer_text(best_non_null, context)
    return text, _nbest_entries(nbest, context), null_odds


def decode_answers(
    windows_per_example: Sequence[tuple[str, Sequence[Window]]],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    contexts: Mapping[str, str],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> tuple[dict[str, str], dict[str, list[dict]], dict[str, float]]:
    """Turns per-window start/end logits into answer strings (SQuAD v1.1 / v2.0).

    Per window, the ``n_best_size`` best start and end positions are paired;
    a pair is kept when both are context tokens, ``end >= start``, the span has
    at most ``max_answer_length`` tokens and the start token has its max context
    in that window. A span scores ``start_logit + end_logit`` and reads
    ``context[start token's start offset : end token's end offset]``.

    Args:
        windows_per_example: ``(example_id, windows)`` per example, in the order
            their windows' rows appear in the logits: example 0's windows are
            rows ``0 .. len(windows_0) - 1``, example 1's follow, and so on
            (the order ``make_windows`` output is concatenated in).
        start_logits, end_logits: float ``[num_windows, max_seq_length]``.
        contexts: example id -> context string the windows' offsets index.
        n_best_size: top positions per window, and length of each n-best list
            (plus the null answer in v2 when it did not make the cut).
        max_answer_length: longest answer, in tokens.
        version_2: SQuAD 2.0: the question may have no answer.
        null_score_diff_threshold: v2: predict "" when
            ``null_score - best_non_null_score`` exceeds it.

    Returns:
        ``(predictions, n_best, null_odds)``:
        predictions: id -> answer text ("" when there is no candidate, or in v2
            when the null answer wins).
        n_best: id -> entries sorted by score, each a dict with ``text``,
            ``probability`` (softmax over the list's scores), ``start_logit``,
            ``end_logit``, ``score``, ``char_start``, ``char_end`` (-1 for the
            null answer, whose text is ""). v2 lists always hold the null
            answer, scored as the minimum ``[CLS]`` start+end over the windows.
            A v1 example without candidates gets an empty list.
        null_odds: v2 only (empty for v1): id -> ``null_score -
            best_non_null_score`` (``inf`` without non-null candidates), the
            ``na_prob`` file of the official v2 evaluation script.

    Raises:
        ValueError: when the logits' rows do not match the windows, or an
            example has no windows.
    """
    start_logits = np.asarray(start_logits)
    end_logits = np.asarray(end_logits)
    num_windows = sum(len(windows) for _, windows in windows_per_example)
    if start_logits.shape != end_logits.shape or start_logits.ndim != 2:
        raise ValueError(
            "start_logits and end_logits must both be [num_windows, max_seq_length],"
            f" got {start_logits.shape} and {end_logits.shape}"
        )
    if start_logits.shape[0] != num_windows:
        raise ValueError(
            f"{start_logits.shape[0]} logit rows for {num_windows} windows"
        )

    predictions: dict[str, str] = {}
    n_best: dict[str, list[dict]] = {}
    null_odds: dict[str, float] = {}
    row = 0
    for example_id, windows in windows_per_example:
        if not windows:
            raise ValueError(f"example {example_id!r} has no windows")
        rows = slice(row, row + len(windows))
        row += len(windows)
        text, entries, odds = _decode_example(
            windows,
            start_logits[rows],
            end_logits[rows],
            contexts[example_id],
            n_best_size=n_best_size,
            max_answer_length=max_answer_length,
            version_2=version_2,
            null_score_diff_threshold=null_score_diff_threshold,
        )
        predictions[example_id] = text
        n_best[example_id] = entries
        if odds is not None:
            null_odds[example_id] = odds
    return predictions, n_best, null_odds
