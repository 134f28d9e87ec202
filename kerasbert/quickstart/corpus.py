"""An English corpus available on every Python install: the stdlib's docstrings.

The quickstart must run with nothing to fetch, so it harvests prose from the
docstrings of the standard library's own source files. Files are parsed with
``ast`` (never imported: some stdlib modules have side effects on import) in
sorted order, so the corpus is identical for a given Python version.

Output follows the BERT pretraining-text convention: one sentence per line,
a blank line between documents (one document per docstring).
"""

from __future__ import annotations

import ast
import os
import re
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Test suites and IDLE/tkinter demos hold little prose; skipping them keeps the
# corpus English-heavy and its harvest fast.
_SKIPPED_DIRECTORIES = {
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "site-packages",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_MIN_WORDS = 4


def stdlib_sources(root: Path | None = None) -> list[Path]:
    """The standard library's ``.py`` files, sorted, minus tests and demos."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    return sorted(
        path
        for path in root.rglob("*.py")
        if not _SKIPPED_DIRECTORIES.intersection(path.relative_to(root).parts)
    )


def _docstrings(source: str) -> Iterator[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ):
            docstring = ast.get_docstring(node)
            if docstring:
                yield docstring


def docstring_sentences(docstring: str) -> list[str]:
    """Prose sentences of one docstring; code samples and short fragments dropped.

    Paragraphs are joined into lines, doctest (``>>>``) and indented blocks are
    removed, and the text is split after sentence-ending punctuation.
    """
    paragraphs, current = [], []
    for line in docstring.splitlines():
        if (
            not line.strip()
            or line.startswith((" ", "\t"))
            or line.lstrip().startswith(">>>")
        ):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(line.strip())
    if current:
        paragraphs.append(" ".join(current))
    sentences = []
    for paragraph in paragraphs:
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            if len(sentence.split()) >= _MIN_WORDS and sentence[0].isalpha():
                sentences.append(sentence)
    return sentences


def harvest_documents(
    max_documents: int | None = None, root: Path | None = None
) -> Iterator[list[str]]:
    """Yields documents (lists of sentences) from stdlib docstrings, in order."""
    produced = 0
    for path in stdlib_sources(root):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for docstring in _docstrings(source):
            sentences = docstring_sentences(docstring)
            if len(sentences) >= 2:
                yield sentences
                produced += 1
                if max_documents is not None and produced >= max_documents:
                    return


def write_corpus(
    path: str | os.PathLike, max_documents: int | None = None
) -> dict[str, int]:
    """Writes the harvested corpus to ``path`` atomically.

    Returns:
        ``{"documents": ..., "sentences": ..., "words": ...}``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {"documents": 0, "sentences": 0, "words": 0}
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
    ) as handle:
        for sentences in harvest_documents(max_documents):
            handle.write("\n".join(sentences) + "\n\n")
            counts["documents"] += 1
            counts["sentences"] += len(sentences)
            counts["words"] += sum(len(s.split()) for s in sentences)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)
    return counts
