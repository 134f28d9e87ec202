"""An English corpus available on every Python install: the stdlib's docstrings.

The quickstart must run with nothing to fetch, so it harvests prose from the
docstrings of the standard library's own source files. Files are parsed with
``ast`` (never imported: some stdlib modules have side effects on import) in
sorted order, so the corpus is identical for a given Python version.

``harvest_documents`` yields one document (a list of sentences) per docstring;
the quickstart writes them in the BERT pretraining-text convention (one
sentence per line, a blank line between documents).
"""

from __future__ import annotations

import ast
import re
import sysconfig
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


def harvest_documents(root: Path | None = None) -> Iterator[list[str]]:
    """Yields documents (lists of sentences) from stdlib docstrings, in order."""
    for path in stdlib_sources(root):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for docstring in _docstrings(source):
            sentences = docstring_sentences(docstring)
            if len(sentences) >= 2:
                yield sentences
