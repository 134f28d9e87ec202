"""Assigning named arrays to a model's variables, all or nothing."""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np


def assign_by_path(model: keras.Model, arrays: Mapping[str, np.ndarray]) -> None:
    """Sets every variable of ``model`` from ``arrays``, keyed by variable path.

    Everything is checked before anything is written, so a mismatch never
    leaves a half-loaded model.

    Args:
        model: a built model; its ``variable.path`` strings are the keys
            (e.g. ``"embeddings/token_embedding/embeddings"``).
        arrays: ``{variable path: array}``.

    Raises:
        ValueError: listing variables without an array, arrays without a
            variable, and shape mismatches.
    """
    variables = {variable.path: variable for variable in model.weights}
    missing = sorted(set(variables) - set(arrays))
    unexpected = sorted(set(arrays) - set(variables))
    wrong_shapes = sorted(
        f"{path}: model {tuple(variables[path].shape)} vs checkpoint {np.shape(array)}"
        for path, array in arrays.items()
        if path in variables and tuple(variables[path].shape) != np.shape(array)
    )
    problems = []
    if missing:
        problems.append(f"no value for {len(missing)} variables: {missing}")
    if unexpected:
        problems.append(f"{len(unexpected)} values match no variable: {unexpected}")
    if wrong_shapes:
        problems.append(f"shape mismatches: {wrong_shapes}")
    if problems:
        raise ValueError("Cannot load the checkpoint; " + "; ".join(problems))
    for path, array in arrays.items():
        variables[path].assign(np.asarray(array, dtype=variables[path].dtype))
