"""Fine-tuning metrics: classification, regression, SQuAD and entity-level F1."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from kerasbert.finetuning.entity_metrics import (
    detect_scheme,
    entity_scores,
    extract_entities,
)
from kerasbert.finetuning.metrics import (
    average_ranks,
    classification_metrics,
    confusion_matrix,
    regression_metrics,
)
from kerasbert.finetuning.readers import Answer, SquadExample, read_squad
from kerasbert.finetuning.squad_metrics import (
    best_threshold,
    exact_match,
    normalize_answer,
    squad_scores,
    token_f1,
    write_predictions,
)

SHARED_SQUAD = Path("/work/shared/data/squad/squad-v1.1-dev-a.json")


# --------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------


def test_binary_metrics_by_hand():
    # TP = 2, FN = 1, FP = 1, TN = 1.
    metrics = classification_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1], 2)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 1 / sqrt(36)
    assert metrics["matthews_correlation"] == pytest.approx(1 / 6)


def test_multiclass_metrics_by_hand():
    metrics = classification_metrics([0, 1, 2, 2], [0, 2, 2, 1], 3)
    assert metrics["accuracy"] == pytest.approx(0.5)
    # Per-class F1: class 0 -> 1, class 1 -> 0, class 2 -> 2*1/(2+2) = 0.5.
    assert metrics["f1"] == pytest.approx(0.5)
    # c = 2, s = 4, t = p = [1, 1, 2]: (8 - 6) / sqrt((16 - 6)(16 - 6)).
    assert metrics["matthews_correlation"] == pytest.approx(0.2)


def test_macro_f1_ignores_classes_never_seen():
    # Class 3 of 4 occurs nowhere: averaged over classes 0-2 only.
    seen = classification_metrics([0, 1, 2, 2], [0, 2, 2, 1], 4)
    assert seen["f1"] == pytest.approx(0.5)


def test_undefined_metrics_are_zero():
    constant = classification_metrics([1, 0, 1], [0, 0, 0], 2)
    assert constant["f1"] == 0.0
    assert constant["matthews_correlation"] == 0.0
    perfect = classification_metrics([1, 0, 1], [1, 0, 1], 2)
    assert perfect == {"accuracy": 1.0, "f1": 1.0, "matthews_correlation": 1.0}
    inverse = classification_metrics([1, 0, 1, 0], [0, 1, 0, 1], 2)
    assert inverse["matthews_correlation"] == pytest.approx(-1.0)


def test_confusion_matrix_rows_are_gold():
    matrix = confusion_matrix([0, 0, 1, 2], [1, 0, 1, 1], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [0, 1, 0]])


def test_classification_input_errors():
    with pytest.raises(ValueError, match="differ in length"):
        classification_metrics([0, 1], [0], 2)
    with pytest.raises(ValueError, match=r"outside \[0, 2\)"):
        classification_metrics([0, 2], [0, 1], 2)
    with pytest.raises(ValueError, match="integer class ids"):
        classification_metrics([0.5], [0], 2)
    with pytest.raises(ValueError, match="at least one example"):
        classification_metrics([], [], 2)


@pytest.mark.parametrize("num_classes", [2, 3, 5])
def test_classification_matches_sklearn(num_classes):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(num_classes)
    for size in (1, 7, 200):
        gold = rng.integers(0, num_classes, size)
        predicted = np.where(
            rng.random(size) < 0.6, gold, rng.integers(0, num_classes, size)
        )
        metrics = classification_metrics(gold, predicted, num_classes)
        average = "binary" if num_classes == 2 else "macro"
        expected_f1 = sklearn_metrics.f1_score(
            gold, predicted, average=average, zero_division=0
        )
        assert metrics["f1"] == pytest.approx(expected_f1)
        assert metrics["accuracy"] == pytest.approx(
            sklearn_metrics.accuracy_score(gold, predicted)
        )
        if len(set(gold)) > 1 or len(set(predicted)) > 1:
            assert metrics["matthews_correlation"] == pytest.approx(
                sklearn_metrics.matthews_corrcoef(gold, predicted)
            )


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------


def test_regression_metrics_by_hand():
    # Centered: [-1, 0, 1] and [-1, 1, 0]; r = 1 / sqrt(2 * 2).
    metrics = regression_metrics([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert metrics["pearson"] == pytest.approx(0.5)
    assert metrics["spearman"] == pytest.approx(0.5)
    assert metrics["mse"] == pytest.approx(2 / 3)


def test_spearman_uses_average_ranks_for_ties():
    np.testing.assert_array_equal(average_ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    np.testing.assert_array_equal(average_ranks([5, 5, 5]), [2, 2, 2])
    # Ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4]: 4.5 / sqrt(4.5 * 5).
    metrics = regression_metrics([1, 2, 2, 3], [1, 2, 3, 4])
    assert metrics["spearman"] == pytest.approx(4.5 / np.sqrt(22.5))
    # Any increasing transform keeps Spearman at 1.
    assert regression_metrics([1, 2, 3, 4], np.exp([1, 2, 3, 4]))[
        "spearman"
    ] == pytest.approx(1.0)


def test_regression_undefined_and_errors():
    constant = regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert constant["pearson"] == 0.0 and constant["spearman"] == 0.0
    assert constant["mse"] == pytest.approx(2 / 3)
    assert regression_metrics([1.0], [3.0]) == {
        "pearson": 0.0,
        "spearman": 0.0,
        "mse": 4.0,
    }
    with pytest.raises(ValueError, match="differ in length"):
        regression_metrics([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        regression_metrics([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least one"):
        regression_metrics([], [])


def test_regression_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    gold = np.round(rng.uniform(0, 5, 300), 1)  # many ties, like STS-B
    predicted = gold + rng.normal(0, 1.0, 300)
    predicted[:50] = np.round(predicted[:50])  # ties in predictions too
    metrics = regression_metrics(gold, predicted)
    assert metrics["pearson"] == pytest.approx(stats.pearsonr(gold, predicted)[0])
    assert metrics["spearman"] == pytest.approx(stats.spearmanr(gold, predicted)[0])
    assert metrics["mse"] == pytest.approx(np.mean((gold - predicted) ** 2))


# --------------------------------------------------------------------------
# SQuAD
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The  Quick, brown FOX!", "quick brown fox"),
        ("an apple a day", "apple day"),
        ("Theatre and anthem", "theatre and anthem"),  # whole words only
        ("U.S.A.", "usa"),
        ("well-known", "wellknown"),  # punctuation is deleted, not spaced
        ("  An\t\n  ", ""),
        ("the-end", "theend"),  # punctuation goes first, so "the" is glued
        ("A (the) b", "b"),
        ("Café Été", "café été"),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_exact_match_ignores_case_punctuation_articles_whitespace():
    assert exact_match("The Eiffel  Tower.", "eiffel tower") == 1.0
    assert exact_match("an Eiffel tower", "Eiffel Tower!") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_token_f1_counts_repeated_tokens_once_per_match():
    # ["cat", "cat", "sat"] vs ["cat", "sat", "on", "mat"]: 2 shared tokens.
    precision, recall = 2 / 3, 2 / 4
    expected = 2 * precision * recall / (precision + recall)
    assert token_f1("the cat cat sat", "cat sat on the mat") == pytest.approx(expected)
    assert token_f1("cat cat", "cat cat") == 1.0
    assert token_f1("dog", "cat") == 0.0


def test_token_f1_empty_rule():
    assert token_f1("", "") == 1.0
    assert token_f1("the", "") == 1.0  # both normalize to nothing
    assert token_f1("Paris", "") == 0.0
    assert token_f1("", "Paris") == 0.0


def example(qid: str, *answers: str, impossible: bool = False) -> SquadExample:
    context = " ".join(answers) or "context"
    spans, offset = [], 0
    for text in answers:
        spans.append(Answer(text, offset))
        offset += len(text) + 1
    return SquadExample(qid, "t", "?", context, tuple(spans), impossible)


def test_squad_scores_v11():
    examples = [
        example("a", "Denver Broncos", "The Broncos"),  # right for one gold only
        example("b", "Santa Clara, California"),
        example("c", "blue"),  # no prediction
    ]
    predictions = {"a": "broncos", "b": "Santa Clara", "extra": "ignored"}
    scores = squad_scores(examples, predictions)
    # a: EM 1 via "The Broncos"; b: EM 0, F1 = 2 (2/2)(2/3) / (1 + 2/3) = 0.8.
    assert scores["exact_match"] == pytest.approx(100 * 1 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.8 + 0) / 3)
    assert (scores["total"], scores["missing"]) == (3, 1)
    assert "has_answer_f1" not in scores


def test_squad_scores_v2_has_and_no_answer():
    examples = [
        example("a", "Paris"),
        example("b", impossible=True),
        example("c", impossible=True),
        example("d", "red car"),
    ]
    predictions = {"a": "Paris", "b": "", "c": "Rome", "d": "a car"}
    scores = squad_scores(examples, predictions)
    assert scores["exact_match"] == pytest.approx(50.0)
    # F1: a 1, b 1, c 0, d = 2 (1/1)(1/2) / (3/2) = 2/3.
    assert scores["f1"] == pytest.approx(100 * (2 + 2 / 3) / 4)
    assert scores["has_answer_exact_match"] == pytest.approx(50.0)
    assert scores["has_answer_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert scores["no_answer_exact_match"] == pytest.approx(50.0)
    assert scores["no_answer_f1"] == pytest.approx(50.0)
    assert (scores["has_answer_total"], scores["no_answer_total"]) == (2, 2)


def test_gold_answers_that_normalize_to_nothing():
    # SQuAD v1.1 dev has a gold answer ".". On v1.1 data every gold counts
    # (evaluate-v1.1.py), so the prediction "." matches it ...
    v1 = [example("a", "elimination of French power", ".")]
    assert squad_scores(v1, {"a": "."})["exact_match"] == 100.0
    # ... while on v2.0 data such golds are ignored (evaluate-v2.0.py).
    v2 = [*v1, example("b", impossible=True)]
    scores = squad_scores(v2, {"a": ".", "b": ""})
    assert scores["has_answer_exact_match"] == 0.0
    assert scores["no_answer_exact_match"] == 100.0


def test_squad_scores_no_answer_threshold_and_best_threshold():
    examples = [
        example("a", "Paris"),
        example("b", impossible=True),
        example("c", "Rome"),
    ]
    predictions = {"a": "Paris", "b": "Lyon", "c": "Milan"}
    probabilities = {"a": 0.1, "b": 0.9, "c": 0.5}
    scores = squad_scores(examples, predictions, probabilities, 0.6)
    # b is above the threshold, so it becomes "no answer" (right); c stays wrong.
    assert scores["exact_match"] == pytest.approx(100 * 2 / 3)
    # Sweep: all "no answer" -> 1 (b); answer a -> 2; answer c -> 2; b -> 1.
    assert scores["best_exact_match"] == pytest.approx(100 * 2 / 3)
    assert scores["best_exact_match_threshold"] == pytest.approx(0.1)
    assert scores["best_f1_threshold"] == pytest.approx(0.1)
    # With the default threshold 1.0 nothing is switched.
    assert squad_scores(examples, predictions, probabilities)[
        "exact_match"
    ] == pytest.approx(100 / 3)
    with pytest.raises(ValueError, match="lacks 1 predicted"):
        squad_scores(examples, predictions, {"a": 0.1, "b": 0.2})


def test_best_threshold_keeps_tied_probabilities_together():
    # Both questions have probability 0.5; answering only the first would be
    # best but no threshold can separate them.
    assert best_threshold([1.0, 0.0], [True, False], [0.5, 0.5]) == (50.0, 0.0)
    assert best_threshold([1.0, 0.0], [True, False], [0.4, 0.5]) == (100.0, 0.4)
    assert best_threshold([], [], []) == (0.0, 0.0)


def test_squad_scores_needs_examples():
    with pytest.raises(ValueError, match="at least one"):
        squad_scores([], {})


def test_write_predictions_atomically(tmp_path):
    path = tmp_path / "out" / "predictions.json"
    path.parent.mkdir()
    path.write_text("old", "utf-8")
    written = write_predictions(path, {"q1": "Z\u00fcrich", "q2": ""})
    assert written == path
    assert json.loads(path.read_text("utf-8")) == {"q1": "Z\u00fcrich", "q2": ""}
    assert sorted(p.name for p in path.parent.iterdir()) == ["predictions.json"]


@pytest.mark.skipif(not SHARED_SQUAD.is_file(), reason="no shared SQuAD dev file")
def test_gold_predictions_score_100_on_real_dev():
    examples = read_squad(SHARED_SQUAD)
    predictions = {ex.id: ex.answers[-1].text for ex in examples}
    scores = squad_scores(examples, predictions)
    assert scores["exact_match"] == pytest.approx(100.0)
    assert scores["f1"] == pytest.approx(100.0)
    assert (scores["total"], scores["missing"]) == (5_397, 0)


# --------------------------------------------------------------------------
# Entities
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "scheme", "entities"),
    [
        # IOB1: B- only separates adjacent chunks of the same type.
        (["I-PER", "I-PER", "B-PER"], "IOB1", [("PER", 0, 2), ("PER", 2, 3)]),
        (
            ["I-PER", "I-LOC", "O", "I-ORG"],
            "IOB1",
            [("PER", 0, 1), ("LOC", 1, 2), ("ORG", 3, 4)],
        ),
        # IOB2: an entity opened with I- is tolerated.
        (["O", "I-PER"], "IOB2", [("PER", 1, 2)]),
        (["B-PER", "I-PER", "O", "B-LOC"], "IOB2", [("PER", 0, 2), ("LOC", 3, 4)]),
        (["B-PER", "B-PER"], "IOB2", [("PER", 0, 1), ("PER", 1, 2)]),
        # A type change inside a chunk splits it.
        (["B-PER", "I-LOC", "I-LOC"], "IOB2", [("PER", 0, 1), ("LOC", 1, 3)]),
        # Entity at the end of the sequence.
        (["O", "O", "B-MISC", "I-MISC"], "IOB2", [("MISC", 2, 4)]),
        (["B-ORG-CORP", "I-ORG-CORP"], "IOB2", [("ORG-CORP", 0, 2)]),
        # IOBES.
        (["B-LOC", "E-LOC", "S-PER"], "IOBES", [("LOC", 0, 2), ("PER", 2, 3)]),
        (["B-LOC", "I-LOC", "E-LOC", "E-LOC"], "IOBES", [("LOC", 0, 3), ("LOC", 3, 4)]),
        (["S-PER", "I-PER"], "IOBES", [("PER", 0, 1), ("PER", 1, 2)]),
        (["E-PER", "O", "B-ORG"], "IOBES", [("PER", 0, 1), ("ORG", 2, 3)]),
        (["B-LOC", "S-LOC"], "IOBES", [("LOC", 0, 1), ("LOC", 1, 2)]),
        ([], "IOB2", []),
        (["O", "O"], "IOBES", []),
    ],
)
def test_extract_entities(tags, scheme, entities):
    assert extract_entities(tags, scheme) == entities


def test_extract_entities_rejects_tags_outside_the_scheme():
    with pytest.raises(ValueError, match=r"'E-PER' at position 1 .* IOB2"):
        extract_entities(["B-PER", "E-PER"], "iob2")
    for bad in ("PER", "O-PER", "B-", "-PER", "X-PER"):
        with pytest.raises(ValueError, match=f"'{bad}' at position 0"):
            extract_entities([bad], "IOBES")
    with pytest.raises(ValueError, match="Unknown tag scheme"):
        extract_entities(["O"], "BILOU")


def encode(spans: list[tuple[str, int, int]], length: int, scheme: str) -> list[str]:
    """Writes well-formed tags for non-overlapping spans in ``scheme``."""
    tags = ["O"] * length
    previous_end, previous_type = -1, None
    for entity_type, start, end in spans:
        for position in range(start, end):
            tags[position] = f"I-{entity_type}"
        if scheme == "IOB2":
            tags[start] = f"B-{entity_type}"
        elif scheme == "IOB1":
            if previous_end == start and previous_type == entity_type:
                tags[start] = f"B-{entity_type}"
        elif end - start == 1:
            tags[start] = f"S-{entity_type}"
        else:
            tags[start], tags[end - 1] = f"B-{entity_type}", f"E-{entity_type}"
        previous_end, previous_type = end, entity_type
    return tags


def random_spans(rng: random.Random, length: int) -> list[tuple[str, int, int]]:
    spans, position = [], 0
    while position < length:
        position += rng.choice([0, 0, 1, 2])  # often adjacent entities
        end = min(length, position + rng.randint(1, 3))
        if position < end:
            spans.append((rng.choice(["PER", "LOC"]), position, end))
        position = end
    return spans


@pytest.mark.parametrize("scheme", ["IOB1", "IOB2", "IOBES"])
def test_well_formed_encodings_round_trip(scheme):
    rng = random.Random(scheme)
    for _ in range(300):
        length = rng.randint(0, 12)
        spans = random_spans(rng, length)
        tags = encode(spans, length, scheme)
        assert extract_entities(tags, scheme) == spans, tags


def test_detect_scheme():
    assert detect_scheme([["B-PER", "E-PER"], ["O"]]) == "IOBES"
    assert detect_scheme([["B-PER", "I-PER", "O"], ["B-LOC"]]) == "IOB2"
    assert detect_scheme([["O", "I-PER"], ["B-LOC"]]) == "IOB1"
    # Per sentence, an I- at a sentence start opens a chunk ...
    assert detect_scheme([["B-PER", "I-PER"], ["I-PER"]]) == "IOB1"
    # ... while one flat list would read it as a continuation.
    assert detect_scheme(["B-PER", "I-PER", "I-PER"]) == "IOB2"
    assert detect_scheme([["O", "O"], []]) == "IOB2"
    with pytest.raises(ValueError, match="'X-PER'"):
        detect_scheme([["X-PER"]])


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"], ["O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-PER"], ["I-LOC"]]
    scores = entity_scores(gold, predicted, "IOB2")
    # Gold: PER, LOC, ORG. Predicted: PER, ORG(0,3), ORG, PER(1,1), LOC(2,0).
    assert (scores["num_gold"], scores["num_predicted"], scores["num_correct"]) == (
        3,
        5,
        2,
    )
    assert scores["precision"] == pytest.approx(2 / 5)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * (2 / 5) * (2 / 3) / (2 / 5 + 2 / 3))
    assert scores["per_type"] == {
        "LOC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "ORG": {
            "precision": 0.5,
            "recall": 1.0,
            "f1": pytest.approx(2 / 3),
            "support": 1,
        },
        "PER": {
            "precision": 0.5,
            "recall": 1.0,
            "f1": pytest.approx(2 / 3),
            "support": 1,
        },
    }


def test_entity_scores_edge_cases():
    empty = entity_scores([["O"], []], [["O"], []], "IOB1")
    assert (empty["precision"], empty["recall"], empty["f1"]) == (0.0, 0.0, 0.0)
    assert empty["per_type"] == {}
    perfect = entity_scores([["S-X", "B-Y", "E-Y"]], [["S-X", "B-Y", "E-Y"]], "IOBES")
    assert perfect["f1"] == 1.0
    with pytest.raises(ValueError, match="2 gold sequences but 1"):
        entity_scores([["O"], ["O"]], [["O"]], "IOB2")
    with pytest.raises(ValueError, match="Sequence 1: 2 gold tags but 1"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]], "IOB2")


@pytest.mark.parametrize("scheme", ["IOB1", "IOB2", "IOBES"])
def test_entity_scores_match_seqeval(scheme):
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    prefixes = "BIOES" if scheme == "IOBES" else "BIO"
    rng = random.Random(7)

    def random_tags(length: int) -> list[str]:
        tags = []
        for _ in range(length):
            prefix = rng.choice(prefixes + "OO")
            tags.append("O" if prefix == "O" else f"{prefix}-{rng.choice('AB')}")
        return tags

    for _ in range(50):
        lengths = [rng.randint(0, 8) for _ in range(rng.randint(1, 6))]
        gold = [random_tags(length) for length in lengths]
        predicted = [random_tags(length) for length in lengths]
        scores = entity_scores(gold, predicted, scheme)
        for name in ("precision", "recall", "f1"):
            expected = getattr(seqeval_metrics, f"{name}_score")(gold, predicted)
            assert scores[name] == pytest.approx(expected), (name, gold, predicted)
