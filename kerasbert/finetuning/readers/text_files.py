"""What all fine-tuning readers share: UTF-8 decoding with a useful error."""

from __future__ import annotations

from pathlib import Path


def read_utf8(path: Path) -> str:
    """Returns the whole file decoded as UTF-8 (a leading BOM is dropped).

    Raises:
        ValueError: the file is not valid UTF-8; the message gives the line of
            the first bad byte, which is what one needs to fix the file.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}: line {line} is not valid UTF-8 ({error.reason} at byte "
            f"{error.start}); re-encode the file as UTF-8."
        ) from None
