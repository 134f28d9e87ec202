"""Parallel, deterministic, resumable pretraining-data builds (the local runner).

``build`` plans chunks (one scan of the input), then builds one shard per chunk
in worker processes (``spawn``: no TensorFlow, no fork hazards). Shard names and
bytes depend only on input + vocabulary + settings, never on the worker count.

``manifest.json`` in the output directory records the settings, vocabulary and
input hashes, and per shard its example count, size, sha256 and skip counts.
It is rewritten atomically after every finished shard, so a killed build
restarts with the shards that are complete and intact; leftover temporary
files of the killed run are deleted. The manifest logic is shared with the
Beam runner (``tfrecords_tools.manifest``, ``tfrecords_tools.beam_pipeline``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator

from tqdm import tqdm

from kerasbert.data.records_format import MANIFEST
from tfrecords_tools.corpus import Chunk, plan_chunks
from tfrecords_tools.manifest import (
    finish_build,
    shard_name,
    start_build,
    total_examples,
)
from tfrecords_tools.output_store import LocalStore, file_sha256
from tfrecords_tools.settings import BuildConfig
from tfrecords_tools.shard import build_shard, cached_tokenizer

__all__ = ["MANIFEST", "build", "file_sha256", "shard_name"]


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
    store = LocalStore(out_dir)
    manifest, missing = start_build(plan, tokenizer, config, store, prefix, overwrite)
    tasks = [
        (chunk, vocab_path, config, os.fspath(store.directory / name))
        for chunk, name in missing
    ]
    total = len(plan.chunks)
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
            store.write_manifest(manifest)
            bar.update(1)
            bar.set_postfix(examples=total_examples(manifest))
    store.write_manifest(finish_build(manifest))
    return manifest
