"""Atomic file writes: a temp file in the target's directory, then ``os.replace``.

Readers never see a half-written file; a killed writer leaves only a
``.NAME.*.tmp`` file that the next build deletes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TEMP_SUFFIX = ".tmp"


@contextmanager
def atomic_write(target: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Yields a handle whose content replaces ``target`` only on clean exit."""
    target = Path(target)
    descriptor, temp = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
    )
    try:
        with os.fdopen(descriptor, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
