"""Small, learnable fine-tuning datasets and a tiny checkpoint, made in tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

from kerasbert import Encoder
from kerasbert.checkpoints.huggingface import save_hf

NAMES = ["john", "mary", "ann", "paul", "kim", "lee"]
CITIES = ["paris", "london", "rome", "oslo", "lima", "cairo"]
FILLER = ["the", "a", "film", "plot", "is", "was", "very", "quite", "and", "it"]
VOCABULARY = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    *NAMES,
    *CITIES,
    *FILLER,
    "good",
    "bad",
    "lives",
    "in",
    "where",
    "does",
    "live",
    ".",
    "?",
    "##s",
]


def write_checkpoint(directory: Path, seed: int = 0) -> Path:
    """A tiny random BERT as a Hugging Face directory with its vocab.txt."""
    import keras

    keras.utils.set_random_seed(seed)
    encoder = Encoder(
        vocabulary_size=len(VOCABULARY),
        num_layers=2,
        num_heads=2,
        hidden_size=32,
        intermediate_size=64,
        max_sequence_length=64,
    )
    save_hf(encoder, directory)
    (directory / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    return directory


def sentiment_rows(count: int, seed: int) -> list[tuple[str, str]]:
    """(sentence, label): label "pos" iff the sentence says "good"."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = rng.choices(FILLER, k=rng.randint(3, 8))
        label = rng.choice(["pos", "neg"])
        words.insert(rng.randrange(len(words) + 1), "good" if label == "pos" else "bad")
        rows.append((" ".join(words), label))
    return rows


def write_tsv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    lines = ["\t".join(header)] + ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def similarity_rows(count: int, seed: int) -> list[tuple[str, str, float]]:
    """(a, b, score): score = 5 x the share of b's words that occur in a."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        first = rng.sample(FILLER, 4)
        shared = rng.randint(0, 4)
        second = first[:shared] + rng.sample(
            [w for w in NAMES + CITIES if w not in first], 4 - shared
        )
        rows.append((" ".join(first), " ".join(second), 5.0 * shared / 4))
    return rows


def squad_file(path: Path, count: int, seed: int) -> Path:
    """SQuAD v1.1 JSON: "where does NAME live ?" over one "NAME lives in CITY."
    fact among filler sentences, so contexts span several windows."""
    rng = random.Random(seed)
    paragraphs = []
    for index in range(count):
        name, city = rng.choice(NAMES).title(), rng.choice(CITIES).title()
        filler = [" ".join(rng.choices(FILLER, k=4)) + "." for _ in range(3)]
        fact = f"{name} lives in {city}."
        filler.insert(rng.randrange(4), fact)
        context = " ".join(filler)
        start = context.index(fact) + len(f"{name} lives in ")
        question = {
            "id": f"q{index}",
            "question": f"Where does {name} live?",
            "answers": [{"text": city, "answer_start": start}],
        }
        paragraphs.append({"context": context, "qas": [question]})
    data = [{"title": "t", "paragraphs": paragraphs}]
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


def conll_file(path: Path, count: int, seed: int) -> Path:
    """IOB2 CoNLL: names are PER, cities (after "in") LOC, the rest O."""
    rng = random.Random(seed)
    blocks = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(3, 7)):
            kind = rng.random()
            if kind < 0.25:
                lines.append(f"{rng.choice(NAMES)} NNP B-PER")
            elif kind < 0.45:
                lines += ["in IN O", f"{rng.choice(CITIES)} NNP B-LOC"]
            else:
                lines.append(f"{rng.choice(FILLER)} DT O")
        blocks.append("\n".join(lines))
    path.write_text("-DOCSTART- -X- O\n\n" + "\n\n".join(blocks) + "\n")
    return path
