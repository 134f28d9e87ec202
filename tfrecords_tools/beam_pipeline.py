"""``tfrecords-tools build --runner beam``: the same build as an Apache Beam pipeline.

The launcher reads only metadata: it lists the input files, loads the
vocabulary, reads an earlier manifest (refusing one with other settings or
another vocabulary) and starts the pipeline, which does, with the local
builder's code:

1. plan the chunks: each input file on its own worker with the local planner
   (``corpus.plan_file``: one streaming scan, constant memory), the plans
   joined in input order (``corpus.join_plans``, as ``corpus.plan_chunks``);
2. start the build (``manifest.start_build``): the manifest with
   ``complete: false``, the intact shards of an earlier run kept (those in
   its manifest and those recorded by entry files), the missing ones listed;
3. build each missing shard with the local shard writer
   (``shard.write_shard``) into a temporary file renamed into place, then
   record its manifest entry beside it (``BeamStore.write_entry``);
4. write the complete manifest, after every shard, and delete the entries.

A shard's name and bytes depend only on (chunk, vocabulary, settings), so the
output equals the local builder's whatever the runner, the number of workers,
or how often a bundle is retried: a retried shard is rewritten with the same
bytes under the same name. A rerun after a killed pipeline keeps the shards
whose recorded size and sha256 still match, and builds the rest.

Memory per worker: one chunk of documents (``chunk_bytes`` of text) and its
examples, as in the local builder; the plan (a few numbers per chunk) is
joined on one worker.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from kerasbert.data.records_format import FORMAT
from tfrecords_tools.beam_files import (
    BeamStore,
    atomic_create,
    expand_inputs,
    file_size,
    local_copy,
    open_input,
)
from tfrecords_tools.corpus import (
    Chunk,
    Plan,
    check_plan_settings,
    join_plans,
    plan_file,
)
from tfrecords_tools.manifest import finish_build, start_build
from tfrecords_tools.settings import BuildConfig
from tfrecords_tools.shard import write_shard
from tfrecords_tools.tokenization import TextTokenizer


@dataclass(frozen=True)
class FailOnce:
    """Fault injection for tests of retries and resumes.

    The first attempt at shard ``shard`` raises after the shard is in place
    but before its entry is recorded; the attempt creates the file ``marker``
    (which workers in other processes see), so later attempts go through.
    """

    marker: str
    shard: str

    def __call__(self, name: str) -> None:
        if name != self.shard:
            return
        try:
            with open(self.marker, "x"):
                pass
        except FileExistsError:
            return
        raise RuntimeError(f"injected fault in the first attempt at {name}")


class BuildShard(beam.DoFn):
    """(chunk, shard name) -> (shard name, manifest entry); writes the shard."""

    def __init__(
        self,
        vocab: str,
        config: BuildConfig,
        out_dir: str,
        fault: FailOnce | None = None,
    ):
        self.vocab = vocab
        self.config = config
        self.out_dir = out_dir
        self.fault = fault

    def setup(self) -> None:
        self._scratch = tempfile.mkdtemp(prefix="tfrecords-tools-")
        self._vocab = local_copy(self.vocab, self._scratch)
        self._store = BeamStore(self.out_dir)

    def teardown(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    def process(self, task: tuple[Chunk, str]) -> Iterator[tuple[str, dict]]:
        chunk, name = task
        with atomic_create(self._store.path(name)) as handle:
            entry = write_shard(chunk, self._vocab, self.config, handle, open_input)
        if self.fault is not None:
            self.fault(name)
        self._store.write_entry(name, entry)
        yield name, entry


@dataclass(frozen=True)
class VocabularyIdentity:
    """The vocabulary facts a manifest records (``manifest.Vocabulary``)."""

    sha256: str
    vocabulary_size: int


def _plan_file(item: tuple[int, str], config: BuildConfig) -> tuple[int, Plan]:
    index, path = item
    return index, plan_file(
        path, config.chunk_bytes, config.one_document_per_line, open_input
    )


def _start(
    plans: list[tuple[int, Plan]],
    vocabulary: VocabularyIdentity,
    config: BuildConfig,
    out_dir: str,
    prefix: str,
    overwrite: bool,
    previous: dict | None,
) -> tuple[dict, list[tuple[Chunk, str]]]:
    """Joins the files' plans in input order and starts the build (see
    ``manifest.start_build``): the starting manifest and the missing shards."""
    plan = join_plans(file_plan for _, file_plan in sorted(plans, key=itemgetter(0)))
    if not plan.chunks:
        raise ValueError("the input files are empty")
    store = BeamStore(out_dir)
    started = start_build(plan, vocabulary, config, store, prefix, overwrite, previous)
    store.delete_entries()  # now in the manifest, or not intact
    return started


def _finish(entries: list[tuple[str, dict]], manifest: dict, out_dir: str) -> int:
    """Writes the complete manifest (the last file of a build); returns examples."""
    manifest = copy.deepcopy(manifest)
    manifest["shards"].update(entries)
    store = BeamStore(out_dir)
    store.write_manifest(finish_build(manifest))
    store.delete_entries()
    return manifest["totals"]["examples"]


def _refuse_other_builds(
    previous: dict | None, vocab_sha256: str, config: BuildConfig, out_dir: str
) -> None:
    """Fails before the pipeline starts when ``previous`` has other settings or
    another vocabulary (changed inputs are found once they are planned)."""
    if previous is None:
        return
    expected = {
        "format": FORMAT,
        "settings": json.loads(json.dumps(dataclasses.asdict(config))),
        "vocab_sha256": vocab_sha256,
    }
    if any(previous.get(key) != value for key, value in expected.items()):
        raise ValueError(
            f"{out_dir} holds a build with other settings, vocabulary or "
            "inputs; pass overwrite=True (--overwrite) or use another directory"
        )


def build_with_beam(
    inputs: Iterable[str | os.PathLike],
    vocab: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: BuildConfig | None = None,
    prefix: str = "pretrain",
    overwrite: bool = False,
    pipeline_args: Sequence[str] = (),
    fault: FailOnce | None = None,
) -> dict:
    """Builds (or finishes) the same shards and manifest as ``builder.build``.

    Args:
        inputs: text files or globs, on any file system Beam knows.
        vocab: WordPiece ``vocab.txt`` or SentencePiece ``.model``.
        out_dir: output directory (any Beam file system).
        config: build settings (``None``: the defaults).
        prefix: shard file-name prefix.
        overwrite: discard a different earlier build in ``out_dir``.
        pipeline_args: Beam pipeline options (``--runner``, ...); none: the
            DirectRunner in this process.
        fault: test hook, see ``FailOnce``.

    Returns:
        The final manifest (as written to ``out_dir/manifest.json``).

    Raises:
        FileNotFoundError: missing input or vocabulary file.
        ValueError: invalid settings, empty inputs, or ``out_dir`` holding a
            build with other settings or vocabulary (without ``overwrite``).
            A build of other inputs is found, and refused, in the pipeline.
    """
    config = (config or BuildConfig()).resolved()
    vocab, out_dir = os.fspath(vocab), os.fspath(out_dir)
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = TextTokenizer(local_copy(vocab, scratch), config.lowercase)
    vocabulary = VocabularyIdentity(tokenizer.sha256, tokenizer.vocabulary_size)
    paths = expand_inputs([os.fspath(path) for path in inputs])
    check_plan_settings(paths, config.chunk_bytes)
    if not any(map(file_size, paths)):
        raise ValueError("the input files are empty")
    store = BeamStore(out_dir)
    previous = store.read_manifest()
    if not overwrite:
        _refuse_other_builds(previous, tokenizer.sha256, config, out_dir)
    if previous is not None:
        previous["shards"].update(store.read_entries())

    options = PipelineOptions(list(pipeline_args))
    with beam.Pipeline(options=options) as pipeline:
        started = (
            pipeline
            | "Input files" >> beam.Create(list(enumerate(paths)))
            | "Spread files" >> beam.Reshuffle()
            | "Plan chunks" >> beam.Map(_plan_file, config)
            | "Collect plans" >> beam.combiners.ToList()
            | "Start build"
            >> beam.Map(
                _start, vocabulary, config, out_dir, prefix, overwrite, previous
            )
        )
        manifest = started | "Starting manifest" >> beam.Map(itemgetter(0))
        _ = (
            started
            | "Missing shards" >> beam.FlatMap(itemgetter(1))
            | "Spread shards" >> beam.Reshuffle()
            | "Build shards" >> beam.ParDo(BuildShard(vocab, config, out_dir, fault))
            | "Collect entries" >> beam.combiners.ToList()
            | "Write manifest"
            >> beam.Map(_finish, beam.pvalue.AsSingleton(manifest), out_dir)
        )
    final = store.read_manifest()
    if not (final or {}).get("complete"):
        raise RuntimeError(f"the pipeline finished without completing {out_dir}")
    return final
