"""Entity-level precision / recall / F1 for IOB1, IOB2 and IOBES tagging.

Entities are read with the chunk rules of the CoNLL shared-task script
``conlleval`` (which seqeval's default mode also follows), so scores match the
numbers papers report for CoNLL-2003 and tolerate ill-formed predictions the
same way:

* ``B-X`` and ``S-X`` always start a chunk; ``I-X`` / ``E-X`` start one after
  ``O``, after ``E-`` / ``S-``, or after a tag of another type. This is what
  makes IOB1 work (``I-PER I-PER B-PER`` is two entities) and tolerates an
  IOB2 prediction that opens an entity with ``I-``.
* A chunk ends before ``O``, ``B-``, ``S-`` or a change of type, after ``E-``
  and ``S-``, and at the end of the sequence.

The scheme only decides which tag prefixes are valid (IOB1 / IOB2: ``B I O``;
IOBES: ``B I O E S``), so typos in tag files are caught instead of being
scored as silently dropped entities.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SCHEMES: dict[str, frozenset[str]] = {
    "IOB1": frozenset("BIO"),
    "IOB2": frozenset("BIO"),
    "IOBES": frozenset("BIOES"),
}

Entity = tuple[str, int, int]
"""(type, start, end) with ``end`` exclusive."""


@dataclass(frozen=True)
class _Tag:
    """A parsed tag: prefix ("B", "I", "E", "S" or "O") and entity type."""

    prefix: str
    type: str

    @property
    def outside(self) -> bool:
        return self.prefix == "O"


_OUTSIDE = _Tag("O", "")


def _check_scheme(scheme: str) -> frozenset[str]:
    """The valid prefixes of ``scheme`` (case-insensitive name)."""
    prefixes = SCHEMES.get(scheme.upper())
    if prefixes is None:
        raise ValueError(
            f"Unknown tag scheme {scheme!r}; expected one of {list(SCHEMES)}."
        )
    return prefixes


def _parse_tag(tag: str, position: int, prefixes: frozenset[str], scheme: str) -> _Tag:
    """Splits ``"B-PER"`` into prefix and type, checking it fits the scheme.

    The type is everything after the first hyphen, so types may contain
    hyphens themselves (``B-ORG-CORP``).
    """
    if tag == "O":
        return _OUTSIDE
    prefix, hyphen, entity_type = tag.partition("-")
    if not hyphen or not entity_type or prefix == "O" or prefix not in prefixes:
        raise ValueError(
            f"Tag {tag!r} at position {position} is not valid in the {scheme.upper()} "
            f"scheme: expected 'O' or one of {sorted(prefixes - {'O'})} followed by "
            "'-TYPE'."
        )
    return _Tag(prefix, entity_type)


def _ends_chunk(previous: _Tag, current: _Tag) -> bool:
    """Whether a chunk that includes ``previous`` ends before ``current``."""
    if previous.outside:
        return False
    if previous.prefix in ("E", "S"):
        return True
    if current.outside or current.prefix in ("B", "S"):
        return True
    return previous.type != current.type


def _starts_chunk(previous: _Tag, current: _Tag) -> bool:
    """Whether ``current`` (after ``previous``) opens a new chunk."""
    if current.outside:
        return False
    if current.prefix in ("B", "S"):
        return True
    if previous.outside or previous.prefix in ("E", "S"):
        return True
    return previous.type != current.type


def _chunks(tags: Sequence[_Tag]) -> list[tuple[Entity, str]]:
    """Each chunk with the prefix of its first tag (used by detect_scheme)."""
    chunks = []
    start: int | None = None
    previous = _OUTSIDE
    for position, current in enumerate(tags):
        if start is not None and _ends_chunk(previous, current):
            chunks.append(((previous.type, start, position), tags[start].prefix))
            start = None
        if _starts_chunk(previous, current):
            start = position
        previous = current
    if start is not None:
        chunks.append(((previous.type, start, len(tags)), tags[start].prefix))
    return chunks


def _parse_all(tags: Sequence[str], scheme: str) -> list[_Tag]:
    """Parses and validates a whole tag sequence."""
    prefixes = _check_scheme(scheme)
    return [_parse_tag(tag, i, prefixes, scheme) for i, tag in enumerate(tags)]


def extract_entities(tags: Sequence[str], scheme: str) -> list[Entity]:
    """The entities of one tag sequence, as (type, start, end-exclusive).

    Args:
        tags: one tag per token, e.g. ``["B-PER", "I-PER", "O", "S-LOC"]``.
        scheme: ``"IOB1"``, ``"IOB2"`` or ``"IOBES"``.

    Raises:
        ValueError: unknown scheme, or a tag whose prefix the scheme does not
            have (the message names the tag and its position).
    """
    return [entity for entity, _ in _chunks(_parse_all(tags, scheme))]


def _as_sequences(tags: Iterable[str] | Iterable[Sequence[str]]) -> list[list[str]]:
    """A flat tag list as one sequence; a list of sequences as is."""
    items = list(tags)
    if all(isinstance(item, str) for item in items):
        return [items]  # type: ignore[list-item]
    return [list(item) for item in items]


def detect_scheme(all_tags: Iterable[str] | Iterable[Sequence[str]]) -> str:
    """Guesses the tag scheme of a data set.

    Args:
        all_tags: the tag sequences (one per sentence), or one flat list of
            tags. Passing sentences is more precise: an ``I-`` at the start of
            a sentence then counts as starting a chunk.

    Returns:
        ``"IOBES"`` when any ``E-`` or ``S-`` tag occurs; ``"IOB2"`` when every
        chunk starts with ``B-`` (also when there are no chunks); else
        ``"IOB1"``.

    Raises:
        ValueError: a tag that fits none of the schemes.
    """
    sequences = [_parse_all(tags, "IOBES") for tags in _as_sequences(all_tags)]
    if any(tag.prefix in ("E", "S") for tags in sequences for tag in tags):
        return "IOBES"
    first_prefixes = {prefix for tags in sequences for _, prefix in _chunks(tags)}
    return "IOB2" if first_prefixes <= {"B"} else "IOB1"


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    """Precision, recall and F1 from counts; 0.0 where undefined."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    total = precision + recall
    f1 = 2 * precision * recall / total if total else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _sequence_entities(
    sequences: Sequence[Sequence[str]], scheme: str
) -> set[tuple[int, str, int, int]]:
    """All entities of all sequences, keyed by sequence index."""
    return {
        (index, *entity)
        for index, tags in enumerate(sequences)
        for entity in extract_entities(tags, scheme)
    }


def _check_aligned(
    gold_sequences: Sequence[Sequence[str]],
    predicted_sequences: Sequence[Sequence[str]],
) -> None:
    """Gold and predicted tags must pair up sequence by sequence, token by token."""
    if len(gold_sequences) != len(predicted_sequences):
        raise ValueError(
            f"{len(gold_sequences)} gold sequences but {len(predicted_sequences)} "
            "predicted."
        )
    for index, (gold, predicted) in enumerate(
        zip(gold_sequences, predicted_sequences, strict=True)
    ):
        if len(gold) != len(predicted):
            raise ValueError(
                f"Sequence {index}: {len(gold)} gold tags but {len(predicted)} "
                "predicted."
            )


def entity_scores(
    gold_sequences: Sequence[Sequence[str]],
    predicted_sequences: Sequence[Sequence[str]],
    scheme: str,
) -> dict:
    """Micro-averaged entity precision / recall / F1 and per-type scores.

    A predicted entity is correct only when a gold entity has the same type,
    start and end (exact span match, as conlleval).

    Returns:
        ``precision``, ``recall``, ``f1`` (fractions in [0, 1], 0.0 where
        undefined); ``num_gold``, ``num_predicted``, ``num_correct`` entity
        counts; ``per_type``: {type: {precision, recall, f1, support}} for every
        type seen in gold or predictions, ``support`` being the gold count.

    Raises:
        ValueError: sequences that do not align, or invalid tags.
    """
    _check_aligned(gold_sequences, predicted_sequences)
    gold = _sequence_entities(gold_sequences, scheme)
    predicted = _sequence_entities(predicted_sequences, scheme)
    correct = gold & predicted
    gold_by_type = Counter(entity[1] for entity in gold)
    predicted_by_type = Counter(entity[1] for entity in predicted)
    correct_by_type = Counter(entity[1] for entity in correct)
    per_type = {
        entity_type: {
            **_prf(
                correct_by_type[entity_type],
                predicted_by_type[entity_type],
                gold_by_type[entity_type],
            ),
            "support": gold_by_type[entity_type],
        }
        for entity_type in sorted(gold_by_type | predicted_by_type)
    }
    return {
        **_prf(len(correct), len(predicted), len(gold)),
        "num_gold": len(gold),
        "num_predicted": len(predicted),
        "num_correct": len(correct),
        "per_type": per_type,
    }
