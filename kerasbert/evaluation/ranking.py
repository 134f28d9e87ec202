"""Pearson and Spearman correlation in NumPy (no SciPy dependency)."""

from __future__ import annotations

import numpy as np


def finite_vector(values: np.ndarray | list[float], name: str) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers (else ValueError)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return array


def average_ranks(values: np.ndarray | list[float]) -> np.ndarray:
    """1-based ranks of ``values`` ``[n]``; tied values share their mean rank.

    ``[10, 20, 20, 30]`` ranks as ``[1, 2.5, 2.5, 4]`` (SciPy's ``rankdata``
    "average" method), which is what makes Spearman's rho well defined with
    ties, as STS gold scores (multiples of 0.2) always have.
    """
    array = finite_vector(values, "values")
    order = np.argsort(array, kind="mergesort")
    sorted_values = array[order]
    # Start index of each run of equal values in sorted order.
    run_starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    run_ends = np.r_[run_starts[1:], array.size]
    mean_rank = (run_starts + run_ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(array.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, run_ends - run_starts)
    return ranks


def pearson(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> float:
    """Pearson's linear correlation of two equal-length vectors.

    Raises:
        ValueError: on length mismatch, fewer than 2 values, or a constant
            vector (the correlation is undefined).
    """
    x, y = finite_vector(x, "x"), finite_vector(y, "y")
    if x.size != y.size:
        raise ValueError(f"x and y differ in length: {x.size} != {y.size}.")
    if x.size < 2:
        raise ValueError("Correlation needs at least 2 values.")
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.dot(x, x) * np.dot(y, y))
    if denominator == 0.0:
        raise ValueError("Correlation is undefined for a constant vector.")
    return float(np.dot(x, y) / denominator)


def spearman(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the average ranks."""
    return pearson(average_ranks(x), average_ranks(y))
