"""The vocabulary beside a model, for the distill / mirror / evaluate-sts commands."""

from __future__ import annotations

import os


def default_vocabulary(model_path: str | os.PathLike, vocabulary: str | None) -> str:
    """``vocabulary``, or the ``vocab.txt`` next to / inside ``model_path``.

    Raises:
        FileNotFoundError: when no vocabulary was given or found.
    """
    if vocabulary is not None:
        return vocabulary
    model_path = os.fspath(model_path)
    directory = model_path if os.path.isdir(model_path) else os.path.dirname(model_path)
    candidate = os.path.join(directory, "vocab.txt")
    if os.path.exists(candidate):
        return candidate
    raise FileNotFoundError(
        f"No --vocab given and no vocab.txt next to {model_path!r}."
    )
