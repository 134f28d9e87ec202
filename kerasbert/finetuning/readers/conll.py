"""CoNLL-style tagging files: a token per line, tag last, blank between sentences."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kerasbert.finetuning.readers.text_files import read_utf8


@dataclass(frozen=True)
class TaggedSentence:
    """A sentence of words and their tags (one tag per word)."""

    words: tuple[str, ...]
    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.words) != len(self.tags):
            raise ValueError(
                f"TaggedSentence has {len(self.words)} words but {len(self.tags)} tags."
            )

    def __len__(self) -> int:
        return len(self.words)


def read_conll(path: str | Path) -> list[TaggedSentence]:
    """Reads a CoNLL-style tagging file (CoNLL-2003 NER and similar).

    One token per line: the word is the first whitespace-separated column and
    the tag the last (CoNLL-2003 has POS and chunk columns in between). Blank
    lines separate sentences; ``-DOCSTART-`` lines are skipped (and also end a
    sentence). CRLF line ends and trailing blank lines are fine.

    Raises:
        ValueError: a non-blank line with fewer than 2 columns (naming the
            line), a file without sentences, or a file that is not UTF-8.
    """
    path = Path(path)
    sentences: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if words:
            sentences.append(TaggedSentence(tuple(words), tuple(tags)))
            words.clear()
            tags.clear()

    for number, line in enumerate(read_utf8(path).split("\n"), start=1):
        columns = line.split()
        if not columns or columns[0] == "-DOCSTART-":
            flush()
            continue
        if len(columns) < 2:
            raise ValueError(
                f"{path}: line {number}: expected a word and a tag separated by "
                f"whitespace, got {line.strip()!r}."
            )
        words.append(columns[0])
        tags.append(columns[-1])
    flush()
    if not sentences:
        raise ValueError(f"{path}: the file has no sentences.")
    return sentences
