"""Parallel, deterministic, resumable pretraining-data builds.

``build`` plans chunks (one scan of the input), then builds one shard per chunk
in worker processes (``spawn``: no TensorFlow, no fork hazards). Shard names and
bytes depend only on input + vocabulary + settings, never on the worker count.

``manifest.json`` in the output directory records the settings, vocabulary and
input hashes, and per shard its example count, size, sha256 and skip counts.
It is rewritten atomically after every finished shard, so a killed build
restarts with the shards that are complete and intact; leftover temporary
files of the killed run are deleted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from kerasbert.atomic_files import TEMP_SUFFIX, write_json_atomically
from kerasbert.data.records_format import FORMAT, MANIFEST
from tfrecords_tools.corpus import Chunk, ReadStats, plan_chunks
from tfrecords_tools.settings import BuildConfig
from tfrecords_tools.shard import build_shard, cached_tokenizer


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shard_name(prefix: str, index: int, total: int) -> str:
    return f"{prefix}-{index:05d}-of-{total:05d}.tfrecord"


_IDENTITY = ("format", "settings", "vocab_sha256", "input_sha256", "shards_total")


def _identity(manifest: dict) -> dict:
    """The part of a manifest that must match for a build to be resumed."""
    return {key: manifest.get(key) for key in _IDENTITY}


def _intact(directory: Path, name: str, entry: dict) -> bool:
    path = directory / name
    return (
        path.is_file()
        and path.stat().st_size == entry["bytes"]
        and file_sha256(path) == entry["sha256"]
    )


def _run_task(task: tuple[Chunk, str, BuildConfig, str]) -> tuple[str, dict]:
    chunk, vocab_path, config, target = task
    return os.path.basename(target), build_shard(chunk, vocab_path, config, target)


def _results(
    tasks: list[tuple[Chunk, str, BuildConfig, str]], workers: int
) -> Iterator[tuple[str, dict]]:
    """Shard results as they finish; in-process when one worker suffices."""
    workers = min(workers, len(tasks))
    if workers == 1:
        yield from map(_run_task, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        yield from pool.imap_unordered(_run_task, tasks)


def build(
    inputs: Iterable[str | os.PathLike],
    vocab: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: BuildConfig | None = None,
    workers: int = 1,
    prefix: str = "pretrain",
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Builds (or finishes) a sharded TFRecord pretraining set.

    Args:
        inputs: text files (see ``tfrecords_tools.corpus``).
        vocab: WordPiece ``vocab.txt`` or SentencePiece ``.model``.
        out_dir: output directory (created); holds the shards and
            ``manifest.json``.
        config: build settings (``None``: the defaults).
        workers: worker processes (output does not depend on it).
        prefix: shard file-name prefix.
        overwrite: discard an existing build made with other settings/inputs
            instead of refusing to touch it.
        progress: show a tqdm progress bar.

    Returns:
        The final manifest (also written to ``out_dir/manifest.json``).

    Raises:
        FileNotFoundError: missing input or vocabulary file.
        ValueError: invalid settings, a vocabulary without the special tokens,
            or ``out_dir`` holding a different build (without ``overwrite``).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    config = (config or BuildConfig()).resolved()
    vocab_path = os.fspath(vocab)
    tokenizer = cached_tokenizer(vocab_path, config.lowercase)  # fail fast
    plan = plan_chunks(list(inputs), config.chunk_bytes, config.one_document_per_line)
    if not plan.chunks:
        raise ValueError("the input files are empty")
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob(f".*{TEMP_SUFFIX}"):
        leftover.unlink()  # debris of a killed run: never a finished file

    total = len(plan.chunks)
    manifest = {
        "format": FORMAT,
        "settings": dataclasses.asdict(config),
        "features": config.feature_lengths(),
        "vocab_sha256": tokenizer.sha256,
        "vocab_size": tokenizer.vocabulary_size,
        "input_sha256": [item.sha256 for item in plan.inputs],
        "inputs": [dataclasses.asdict(item) for item in plan.inputs],
        "shards_total": total,
        "split_documents": plan.split_documents,
        "shards": {},
        "complete": False,
    }
    manifest_path = directory / MANIFEST
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if _identity(previous) == _identity(json.loads(json.dumps(manifest))):
            manifest["shards"] = {
                name: entry
                for name, entry in previous["shards"].items()
                if _intact(directory, name, entry)
            }
        elif overwrite:
            for name in previous.get("shards", {}):
                (directory / name).unlink(missing_ok=True)
        else:
            raise ValueError(
                f"{directory} holds a build with other settings, vocabulary or "
                "inputs; pass overwrite=True (--overwrite) or use another directory"
            )
    write_json_atomically(manifest_path, manifest, sort_keys=True)

    tasks = []
    for chunk in plan.chunks:
        name = shard_name(prefix, chunk.index, total)
        if name not in manifest["shards"]:
            tasks.append((chunk, vocab_path, config, os.fspath(directory / name)))
    bar = tqdm(
        total=total,
        initial=total - len(tasks),
        unit="shard",
        desc="build",
        disable=not progress,
    )
    with bar:
        for name, entry in _results(tasks, workers) if tasks else ():
            manifest["shards"][name] = entry
            write_json_atomically(manifest_path, manifest, sort_keys=True)
            bar.update(1)
            bar.set_postfix(examples=_total_examples(manifest))

    stats = ReadStats()
    for entry in manifest["shards"].values():
        stats.add(ReadStats(**entry["stats"]))
    manifest["totals"] = {"examples": _total_examples(manifest), **vars(stats)}
    manifest["complete"] = True
    write_json_atomically(manifest_path, manifest, sort_keys=True)
    return manifest


def _total_examples(manifest: dict) -> int:
    return sum(entry["examples"] for entry in manifest["shards"].values())
