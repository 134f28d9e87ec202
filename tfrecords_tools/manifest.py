"""The build manifest: what a build is, which shards it has, when it is complete.

One implementation for both runners (the local multi-process builder and the
Beam pipeline), so that for the same inputs and settings they write the same
``manifest.json`` and resume the same way:

* ``start_build`` makes the manifest of a plan, keeps the shards of an earlier
  run of the same build that are intact (size and sha256 as recorded), refuses
  (or with ``overwrite`` deletes) a different build, writes the manifest with
  ``complete: false`` and returns the chunks whose shards are still missing;
* ``finish_build`` adds the totals and marks the manifest complete. It is
  written last, after every shard, so a reader never sees a half-done build
  as complete.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Protocol

from kerasbert.data.records_format import FORMAT, MANIFEST
from tfrecords_tools.corpus import Chunk, Plan, ReadStats
from tfrecords_tools.output_store import OutputStore
from tfrecords_tools.settings import BuildConfig

__all__ = [
    "MANIFEST",
    "finish_build",
    "identity",
    "intact",
    "new_manifest",
    "shard_name",
    "start_build",
    "total_examples",
    "Vocabulary",
]

_IDENTITY = ("format", "settings", "vocab_sha256", "input_sha256", "shards_total")


class Vocabulary(Protocol):
    """What a manifest records of the vocabulary (a ``TextTokenizer`` has it)."""

    sha256: str
    vocabulary_size: int


def shard_name(prefix: str, index: int, total: int) -> str:
    """``PREFIX-IIIII-of-TTTTT.tfrecord``: the name depends only on the plan."""
    return f"{prefix}-{index:05d}-of-{total:05d}.tfrecord"


def identity(manifest: dict) -> dict:
    """The part of a manifest that must match for a build to be resumed."""
    return {key: manifest.get(key) for key in _IDENTITY}


def intact(store: OutputStore, name: str, entry: dict) -> bool:
    """Whether shard ``name`` exists with the size and sha256 ``entry`` records."""
    return store.size(name) == entry["bytes"] and store.sha256(name) == entry["sha256"]


def new_manifest(plan: Plan, tokenizer: Vocabulary, config: BuildConfig) -> dict:
    """The manifest of a build that has no shards yet (``config`` resolved)."""
    return {
        "format": FORMAT,
        "settings": dataclasses.asdict(config),
        "features": config.feature_lengths(),
        "vocab_sha256": tokenizer.sha256,
        "vocab_size": tokenizer.vocabulary_size,
        "input_sha256": [item.sha256 for item in plan.inputs],
        "inputs": [dataclasses.asdict(item) for item in plan.inputs],
        "shards_total": len(plan.chunks),
        "split_documents": plan.split_documents,
        "shards": {},
        "complete": False,
    }


def start_build(
    plan: Plan,
    tokenizer: Vocabulary,
    config: BuildConfig,
    store: OutputStore,
    prefix: str,
    overwrite: bool,
    previous: dict | None = None,
) -> tuple[dict, list[tuple[Chunk, str]]]:
    """Writes the starting manifest; returns it and the shards still to build.

    Args:
        plan: the chunks of the inputs.
        tokenizer: the build's vocabulary.
        config: resolved build settings.
        store: the output directory.
        prefix: shard file-name prefix.
        overwrite: delete a different earlier build instead of refusing.
        previous: the earlier manifest (default: the one ``store`` holds),
            possibly with shard entries a killed run recorded elsewhere.

    Returns:
        ``(manifest, [(chunk, shard name), ...])`` for the missing shards.

    Raises:
        ValueError: the store holds a different build and not ``overwrite``.
    """
    store.sweep_temporaries()  # debris of a killed run: never a finished file
    manifest = new_manifest(plan, tokenizer, config)
    if previous is None:
        previous = store.read_manifest()
    if previous is not None:
        if identity(previous) == identity(json.loads(json.dumps(manifest))):
            manifest["shards"] = {
                name: entry
                for name, entry in previous["shards"].items()
                if intact(store, name, entry)
            }
        elif overwrite:
            for name in previous.get("shards", {}):
                store.delete(name)
        else:
            raise ValueError(
                f"{store} holds a build with other settings, vocabulary or "
                "inputs; pass overwrite=True (--overwrite) or use another directory"
            )
    store.write_manifest(manifest)
    total = len(plan.chunks)
    missing = []
    for chunk in plan.chunks:
        name = shard_name(prefix, chunk.index, total)
        if name not in manifest["shards"]:
            missing.append((chunk, name))
    return manifest, missing


def total_examples(manifest: dict) -> int:
    return sum(entry["examples"] for entry in manifest["shards"].values())


def finish_build(manifest: dict) -> dict:
    """Adds the totals (examples, read statistics) and marks the build complete."""
    stats = ReadStats()
    for entry in manifest["shards"].values():
        stats.add(ReadStats(**entry["stats"]))
    manifest["totals"] = {"examples": total_examples(manifest), **vars(stats)}
    manifest["complete"] = True
    return manifest
