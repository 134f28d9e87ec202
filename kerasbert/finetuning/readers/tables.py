"""Text tables for classification and regression: TSV, CSV and JSON Lines.

Tables (classification / regression):

* ``.tsv``: tab-separated, read with ``csv.QUOTE_NONE``. GLUE files (SST-2) and
  the STS Benchmark contain unbalanced ``"`` characters that default CSV quoting
  would treat as the start of a quoted field, silently merging rows.
* ``.csv``: standard comma-separated CSV with ``"`` quoting.
* ``.jsonl`` / ``.json``: JSON Lines (one object per line); a ``.json`` file that
  holds one JSON array of objects is accepted too.

Any other layout can be read with an explicit ``delimiter``; ``header=False``
reads header-less files whose columns are 0-based indices (the STS Benchmark:
``read_table(path, 5, 4, 6, delimiter="\\t", header=False)``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasbert.finetuning.readers.text_files import read_utf8

Column = str | int
"""A column: a header name, or a 0-based index (``int`` or a digit string)."""

_INTEGER = re.compile(r"[+-]?\d+")
_JSON_SUFFIXES = (".jsonl", ".json")
_DELIMITERS = {".tsv": "\t", ".csv": ","}


def _is_blank(fields: Sequence[str]) -> bool:
    """True for a row with no non-whitespace content (skipped by the readers)."""
    return not any(field.strip() for field in fields)


@dataclass(frozen=True)
class TextTable:
    """Texts (and optional second texts and labels) read from a table.

    Attributes:
        texts: the first (or only) text of each row, stripped of surrounding
            whitespace (GLUE SST-2 ends every sentence with a space).
        pairs: the second text of each row for sentence-pair tasks, else None.
        labels: the label of each row as the raw string in the file (stripped),
            else None (unlabelled data for prediction). Map them to ids with
            ``discover_labels`` or parse them as floats for regression.
    """

    texts: list[str]
    pairs: list[str] | None
    labels: list[str] | None

    def __post_init__(self) -> None:
        for name in ("pairs", "labels"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.texts):
                raise ValueError(
                    f"TextTable.{name} has {len(values)} rows, texts has "
                    f"{len(self.texts)}."
                )

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class _Roles:
    """The requested columns by role; ``None`` means the role is absent."""

    text: Column
    label: Column | None
    pair: Column | None

    def items(self) -> list[tuple[str, Column]]:
        """(role, column) for the roles that were requested."""
        roles = [("text", self.text), ("label", self.label), ("pair", self.pair)]
        return [(role, column) for role, column in roles if column is not None]


def read_table(
    path: str | Path,
    text_column: Column,
    label_column: Column | None,
    pair_column: Column | None = None,
    *,
    delimiter: str | None = None,
    header: bool = True,
) -> TextTable:
    """Reads a classification / regression table.

    Args:
        path: the file. Its extension picks the format unless ``delimiter`` is
            given: ``.tsv`` (tabs, no quoting), ``.csv`` (commas, ``"`` quoting),
            ``.jsonl`` / ``.json`` (JSON Lines).
        text_column: column of the (first) text: a header name, a JSON key, or
            a 0-based index (``int``; with ``header=False`` also a digit string
            such as ``"5"``, as a command-line flag gives it).
        label_column: column of the label, or None for unlabelled data.
        pair_column: column of the second text of sentence-pair tasks.
        delimiter: field separator, overriding the extension (e.g. ``"\\t"`` for
            the STS Benchmark's tab-separated ``.csv`` files). A tab delimiter
            always reads without quoting (``csv.QUOTE_NONE``), any other with
            standard ``"`` quoting. With a delimiter the file is never read
            as JSON, whatever its extension.
        header: whether the first line of a delimited file names the columns.
            Ignored for JSON.

    Returns:
        The rows in file order; blank lines are skipped.

    Raises:
        ValueError: unknown format, missing column (the message lists the
            available columns), a row with the wrong number of fields, an empty
            file, or a file that is not UTF-8. Messages name file and line.
    """
    path = Path(path)
    roles = _Roles(text_column, label_column, pair_column)
    suffix = path.suffix.lower()
    if delimiter is None and suffix in _JSON_SUFFIXES:
        rows = _read_json_records(path, roles)
    else:
        delimiter = delimiter if delimiter is not None else _DELIMITERS.get(suffix)
        if delimiter is None:
            raise ValueError(
                f"{path}: cannot tell the format from the extension {suffix!r}; "
                "use .tsv, .csv, .jsonl or .json, or pass a delimiter."
            )
        rows = _read_delimited(path, roles, delimiter, header)
    if not rows:
        raise ValueError(f"{path}: the file has no data rows.")
    return TextTable(
        texts=[row["text"] for row in rows],
        pairs=[row["pair"] for row in rows] if pair_column is not None else None,
        labels=[row["label"] for row in rows] if label_column is not None else None,
    )


def _delimited_rows(
    path: Path, text: str, delimiter: str
) -> Iterator[tuple[int, list[str]]]:
    """Yields (first line number, fields) of each non-blank delimited row."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting
    )
    line = 1
    try:
        for fields in reader:
            if not _is_blank(fields):
                yield line, fields
            line = reader.line_num + 1
    except csv.Error as error:
        raise ValueError(f"{path}: line {reader.line_num}: {error}") from None


def _column_index(
    path: Path, role: str, column: Column, names: list[str] | None, width: int
) -> int:
    """Resolves one requested column to a field index.

    ``names`` is the header (None for header-less files); ``width`` the number
    of fields of the header or of the first row, used to reject indices that
    can never exist.
    """
    if isinstance(column, str) and names is None:
        if not column.isdigit():
            raise ValueError(
                f"{path}: {role} column {column!r} is a name, but the file is read "
                "without a header; give a 0-based column index instead."
            )
        column = int(column)
    if isinstance(column, int):
        if not 0 <= column < width:
            raise ValueError(
                f"{path}: {role} column index {column} is out of range; the first "
                f"row has {width} fields (indices 0 to {width - 1})."
            )
        return column
    if column not in names:
        raise ValueError(
            f"{path}: line 1: no {role} column {column!r}; the header has "
            f"{names}.{_delimiter_hint(names)}"
        )
    if names.count(column) > 1:
        raise ValueError(f"{path}: line 1: the header has {column!r} twice.")
    return names.index(column)


def _delimiter_hint(names: list[str]) -> str:
    """A hint for the common mistake of reading a TSV as CSV or vice versa."""
    if len(names) == 1 and "\t" in names[0]:
        hint = " The header contains tabs: pass delimiter='\\t'"
    elif len(names) == 1 and "," in names[0]:
        hint = " The header contains commas: pass delimiter=','"
    else:
        return ""
    return hint + " (and header=False with column indices if it is a data row)."


def _read_delimited(
    path: Path, roles: _Roles, delimiter: str, header: bool
) -> list[dict[str, str]]:
    """Reads a delimited file into one {role: value} dict per row."""
    rows = _delimited_rows(path, read_utf8(path), delimiter)
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{path}: the file is empty.")
    names = [name.strip() for name in first[1]] if header else None
    width = len(first[1])
    indices = {
        role: _column_index(path, role, column, names, width)
        for role, column in roles.items()
    }
    data_rows = rows if header else _prepend(first, rows)
    result = []
    for line, fields in data_rows:
        _check_width(path, line, fields, indices, names)
        result.append(
            {
                role: _table_value(path, f"line {line}", role, fields[index])
                for role, index in indices.items()
            }
        )
    return result


def _prepend(
    first: tuple[int, list[str]], rest: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    """Puts the already-read first row back in front of the others."""
    yield first
    yield from rest


def _check_width(
    path: Path,
    line: int,
    fields: list[str],
    indices: dict[str, int],
    names: list[str] | None,
) -> None:
    """Rejects rows that cannot hold the requested columns.

    With a header every row must have exactly the header's field count: a
    different count nearly always means a stray delimiter that shifted the
    columns. Header-less files may have extra trailing fields (the STS
    Benchmark has 2 optional licence notes on some lines).
    """
    if names is not None and len(fields) != len(names):
        raise ValueError(
            f"{path}: line {line} has {len(fields)} fields, but the header has "
            f"{len(names)}. A stray delimiter or quote character in the text?"
        )
    needed = max(indices.values()) + 1
    if len(fields) < needed:
        raise ValueError(
            f"{path}: line {line} has {len(fields)} fields; the requested columns "
            f"need at least {needed}."
        )


def _table_value(path: Path, where: str, role: str, raw: Any) -> str:
    """Converts one cell to the stored string; labels must not be empty.

    ``where`` locates the row for error messages ("line 5", "item 3").
    """
    if isinstance(raw, (dict, list)) or raw is None:
        raise ValueError(
            f"{path}: {where}: the {role} value {raw!r} is not a string or number."
        )
    value = str(raw).strip()
    if role == "label" and not value:
        raise ValueError(f"{path}: {where}: the label is empty.")
    return value


def _json_value_hooks() -> dict[str, Callable[[str], str]]:
    """json.loads hooks that keep numbers as the text written in the file."""
    return {"parse_int": str, "parse_float": str, "parse_constant": str}


def _json_objects(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    """Yields (location, value) of each record: JSON Lines or one JSON array."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text, **_json_value_hooks())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: line {error.lineno}: {error.msg}.") from None
        for number, item in enumerate(items):
            yield f"item {number}", item
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line, **_json_value_hooks())
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}: line {number}: not valid JSON ({error.msg}, column "
                f"{error.colno}); JSON Lines needs one object per line."
            ) from None


def _read_json_records(path: Path, roles: _Roles) -> list[dict[str, str]]:
    """Reads JSON Lines (or a JSON array) into one {role: value} dict per row.

    Numbers are kept as written (``5.000`` stays ``"5.000"``); booleans become
    ``"true"`` / ``"false"``.
    """
    for role, column in roles.items():
        if not isinstance(column, str):
            raise ValueError(
                f"{path}: JSON records have named keys; the {role} column must be "
                f"a key name, not {column!r}."
            )
    result = []
    for where, record in _json_objects(path, read_utf8(path)):
        if not isinstance(record, dict):
            raise ValueError(f"{path}: {where}: expected a JSON object.")
        row = {}
        for role, key in roles.items():
            if key not in record:
                raise ValueError(
                    f"{path}: {where}: no {role} key {key!r}; the record has "
                    f"{sorted(record)}."
                )
            value = record[key]
            if isinstance(value, bool):
                value = "true" if value else "false"
            row[role] = _table_value(path, where, role, value)
        result.append(row)
    return result


def discover_labels(raw_labels: Iterable[str]) -> list[str]:
    """The distinct labels in a stable, human-friendly order.

    When every label is an integer (``"0"``, ``"2"``, ``"10"``) they sort as
    numbers, so label ``"k"`` gets id ``k`` for the usual 0-based label sets;
    otherwise they sort as strings. Empty input gives an empty list.
    """
    labels = set(raw_labels)
    if labels and all(_INTEGER.fullmatch(label.strip()) for label in labels):
        return sorted(labels, key=lambda label: (int(label), label))
    return sorted(labels)
