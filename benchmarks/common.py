"""Helpers every benchmark shares: timing statistics, machine facts, result files."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from kerasbert.atomic_files import write_json_atomically, write_text_atomically

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def time_call(
    function: Callable[[], object], repeats: int, warmup: int = 2
) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``function``, after ``warmup``."""
    for _ in range(warmup):
        function()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return timings


def median(values: list[float]) -> float:
    return statistics.median(values)


def median_round_ratio(numerators: list[float], denominators: list[float]) -> float:
    """Median over rounds of ``numerators[i] / denominators[i]``.

    Each round measures both sides back to back, so its ratio compares them
    under the same machine load; the median is robust to the load drifting
    between rounds (shared hosts), unlike a ratio of two medians.
    """
    return median([n / d for n, d in zip(numerators, denominators, strict=True)])


def machine_info() -> dict[str, object]:
    """CPU model, core count, memory and OS of the machine running the benchmark."""
    cpu = platform.processor()
    try:
        lines = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout
        for line in lines.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def library_versions(names: list[str]) -> dict[str, str]:
    """Installed versions of ``names`` ("absent" for missing packages)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def write_results(
    name: str, payload: dict, markdown: str, directory: Path = RESULTS_DIR
) -> None:
    """Atomically writes ``NAME.json`` and ``NAME.md`` under ``directory``."""
    write_json_atomically(directory / f"{name}.json", payload)
    write_text_atomically(directory / f"{name}.md", markdown)


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
