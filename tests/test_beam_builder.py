"""``tfrecords-tools`` on Apache Beam: the local builder's bytes, retries, resume.

Runs on Beam's DirectRunner only (in memory, multi-process with two workers,
and the bundle-based variant, which retries failed bundles). Skipped without
the optional ``beam`` extra.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus_helpers import write_corpus, write_vocab

pytest.importorskip("apache_beam")

from apache_beam.io.filesystem import FileMetadata  # noqa: E402
from apache_beam.io.localfilesystem import LocalFileSystem  # noqa: E402

from tfrecords_tools.beam_files import BeamStore  # noqa: E402
from tfrecords_tools.beam_pipeline import FailOnce, build_with_beam  # noqa: E402
from tfrecords_tools.builder import build  # noqa: E402
from tfrecords_tools.cli import main  # noqa: E402
from tfrecords_tools.settings import BuildConfig  # noqa: E402

SMALL = BuildConfig(seq_len=64, max_predictions=10, chunk_bytes=6000)
IN_MEMORY = ("--direct_num_workers=1",)
TWO_PROCESSES = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")
RETRYING = ("--runner=BundleBasedDirectRunner",)


def files(directory: Path) -> dict[str, bytes]:
    """Every file of a build directory (hidden ones too), by name."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Two corpus files, their glob, the vocabulary, and the local build."""
    directory = tmp_path_factory.mktemp("beam")
    corpus = [
        write_corpus(directory / "part-0.txt", documents=90),
        write_corpus(directory / "part-1.txt", documents=60, seed=1),
    ]
    vocab = write_vocab(directory / "vocab.txt")
    local = directory / "local"
    manifest = build(corpus, vocab, local, SMALL, workers=1, progress=False)
    assert manifest["shards_total"] >= 4
    return {
        "glob": str(directory / "part-*.txt"),
        "vocab": vocab,
        "local": local,
        "manifest": json.loads((local / "manifest.json").read_text()),
    }


@pytest.mark.parametrize("options", [IN_MEMORY, TWO_PROCESSES], ids=["1", "2"])
def test_same_files_as_the_local_builder(inputs, tmp_path, options):
    out = tmp_path / "out"
    manifest = build_with_beam(
        [inputs["glob"]], inputs["vocab"], out, SMALL, pipeline_args=options
    )
    assert manifest == inputs["manifest"]
    assert files(out) == files(inputs["local"])  # shards and manifest, byte for byte


def test_a_bundle_that_fails_once_is_retried(inputs, tmp_path):
    marker = tmp_path / "failed-once"
    shard = sorted(inputs["manifest"]["shards"])[1]
    out = tmp_path / "out"
    build_with_beam(
        [inputs["glob"]],
        inputs["vocab"],
        out,
        SMALL,
        pipeline_args=RETRYING,
        fault=FailOnce(str(marker), shard),
    )
    assert marker.is_file()  # the first attempt failed
    assert files(out) == files(inputs["local"])


def test_a_rerun_after_a_failed_pipeline_keeps_intact_shards(inputs, tmp_path):
    names = sorted(inputs["manifest"]["shards"])
    out = tmp_path / "out"
    arguments = ([inputs["glob"]], inputs["vocab"], out, SMALL)
    # The portable DirectRunner (in memory or multi-process) does not retry:
    # the pipeline fails.
    with pytest.raises(Exception, match="injected fault"):
        build_with_beam(
            *arguments,
            pipeline_args=IN_MEMORY,
            fault=FailOnce(str(tmp_path / "marker"), names[-1]),
        )
    assert not json.loads((out / "manifest.json").read_text())["complete"]
    # What a killed run leaves besides: a shard recorded by its entry file, a
    # recorded shard damaged since, and a temporary of an unfinished shard.
    store = BeamStore(str(out))
    kept, damaged = names[0], names[1]
    for name in (kept, damaged):
        shutil.copyfile(inputs["local"] / name, out / name)
        store.write_entry(name, inputs["manifest"]["shards"][name])
    (out / damaged).write_bytes(b"not the recorded shard")
    (out / f".{names[2]}.0123.tmp").write_bytes(b"half a shard")
    before = os.stat(out / kept)

    manifest = build_with_beam(*arguments, pipeline_args=IN_MEMORY)
    assert manifest["complete"]
    assert files(out) == files(inputs["local"])  # no entry files, no temporaries
    after = os.stat(out / kept)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_rerun_after_a_killed_pipeline_gives_the_same_output(inputs, tmp_path):
    big = write_corpus(tmp_path / "big.txt", documents=900, seed=3)
    config = BuildConfig(seq_len=64, max_predictions=10, chunk_bytes=4000)
    clean = build([big], inputs["vocab"], tmp_path / "clean", config, progress=False)

    killed = tmp_path / "killed"
    script = (
        "from tfrecords_tools.beam_pipeline import build_with_beam\n"
        "from tfrecords_tools.settings import BuildConfig\n"
        f"build_with_beam([{str(big)!r}], {str(inputs['vocab'])!r}, "
        f"{str(killed)!r}, BuildConfig(seq_len=64, max_predictions=10, "
        "chunk_bytes=4000))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(killed.glob(".*.entry.json"))) >= 2:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    recorded = {p.name[1 : -len(".entry.json")] for p in killed.glob(".*.entry.json")}
    assert not json.loads((killed / "manifest.json").read_text())["complete"]
    assert 2 <= len(recorded) < clean["shards_total"]
    before = {name: os.stat(killed / name).st_mtime_ns for name in recorded}

    manifest = build_with_beam([big], inputs["vocab"], killed, config)
    assert manifest["complete"]
    assert files(killed) == files(tmp_path / "clean")
    assert {name: os.stat(killed / name).st_mtime_ns for name in recorded} == before


def test_another_build_is_refused_unless_overwrite(inputs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(inputs["local"], out)
    other_seed = BuildConfig(**{**vars(SMALL), "seed": 7})
    with pytest.raises(ValueError, match="other settings"):  # before the pipeline
        build_with_beam([inputs["glob"]], inputs["vocab"], out, other_seed)
    one_file = [inputs["glob"].replace("*", "0")]
    with pytest.raises(ValueError, match="other settings"):  # once planned
        build_with_beam(one_file, inputs["vocab"], out, SMALL)
    assert files(out) == files(inputs["local"])
    manifest = build_with_beam(one_file, inputs["vocab"], out, SMALL, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*manifest["shards"], "manifest.json"]
    )


class FakeRemoteFileSystem(LocalFileSystem):
    """``fakefs://`` + an absolute local path: a file system that is not local.

    It sends the Beam runner down the code paths of ``gs://`` and the like
    (temporary + rename through ``FileSystems``, the vocabulary copied to the
    worker), with the files in a local directory to compare.
    """

    PREFIX = "fakefs://"

    @classmethod
    def scheme(cls):
        return "fakefs"

    def _local(self, path):
        return path.removeprefix(self.PREFIX)

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *paths])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def _url_dirname(self, url_or_path):
        return url_or_path.rpartition("/")[0]

    def _list(self, dir_or_prefix):
        for item in super()._list(self._local(dir_or_prefix)):
            yield FileMetadata(
                self.PREFIX + item.path,
                item.size_in_bytes,
                item.last_updated_in_seconds,
            )

    def create(self, path, *args, **kwargs):
        return super().create(self._local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)

    def rename(self, sources, destinations):
        local = self._local
        super().rename(list(map(local, sources)), list(map(local, destinations)))

    def exists(self, path):
        return super().exists(self._local(path))

    def size(self, path):
        return super().size(self._local(path))

    def delete(self, paths):
        super().delete([self._local(path) for path in paths])


def test_inputs_vocab_and_output_on_a_non_local_file_system(inputs, tmp_path):
    source = Path(inputs["glob"]).parent
    for name in ("part-0.txt", "part-1.txt", "vocab.txt"):
        shutil.copyfile(source / name, tmp_path / name)
    remote = f"fakefs://{tmp_path}"
    manifest = build_with_beam(
        [f"{remote}/part-*.txt"],
        f"{remote}/vocab.txt",
        f"{remote}/out",
        SMALL,
        pipeline_args=IN_MEMORY,
    )
    assert [item["path"] for item in manifest["inputs"]] == [
        f"{remote}/part-0.txt",
        f"{remote}/part-1.txt",
    ]
    assert manifest["shards"] == inputs["manifest"]["shards"]
    shards = {k: v for k, v in files(inputs["local"]).items() if k != "manifest.json"}
    assert files(tmp_path / "out") == {
        **shards,
        "manifest.json": (tmp_path / "out" / "manifest.json").read_bytes(),
    }


def test_cli_runner_beam_builds_and_trains_like_the_local_runner(inputs, tmp_path):
    corpus = sorted(Path(inputs["glob"]).parent.glob("part-*.txt"))
    common = ["--seq-len", "64", "--max-predictions", "10", "--dupe-factor", "2"]
    for runner, extra in (("local", []), ("beam", ["--", *IN_MEMORY])):
        out = tmp_path / runner
        argv = ["build", "--runner", runner, "--vocab", str(inputs["vocab"])]
        assert main([*argv, "-o", str(out), *common, *map(str, corpus), *extra]) == 0
        vocab = tmp_path / f"{runner}-vocab.txt"
        argv = ["vocab", "--runner", runner, "--vocab-size", "120", "-o", str(vocab)]
        assert main([*argv, *map(str, corpus), *extra]) == 0
    assert files(tmp_path / "beam") == files(tmp_path / "local")
    local_vocab = (tmp_path / "local-vocab.txt").read_text()
    assert (tmp_path / "beam-vocab.txt").read_text() == local_vocab
    assert len(local_vocab.splitlines()) > 60 and "##x1" in local_vocab


def test_word_counts_come_in_the_local_learners_order(inputs, tmp_path):
    import tensorflow as tf
    from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
    from tensorflow_text.tools.wordpiece_vocab import (
        wordpiece_tokenizer_learner_lib as learner,
    )

    from tfrecords_tools.beam_vocab import (
        CountWords,
        byte_ranges,
        in_corpus_order,
        merge_stats,
    )

    paths = []
    for source in sorted(Path(inputs["glob"]).parent.glob("part-*.txt")):
        paths.append(str(shutil.copyfile(source, tmp_path / source.name)))
    with open(paths[1], "ab") as handle:  # other scripts, bad bytes, CRLF
        handle.write("Café, déjà-vu!\r\n東京 naïve\n".encode() + b"\xff\xfe x\n")
    # What the local command counts (tensorflow-text's bert_vocab_from_dataset).
    lines = (
        tf.data.TextLineDataset(paths)
        .map(lambda t: tf.strings.unicode_transcode(t, "UTF-8", "UTF-8"))
        .filter(lambda t: tf.strings.length(tf.strings.strip(t)) > 0)
        .batch(1024)
    )
    local = learner.count_words(lines.map(BasicTokenizer(lower_case=True).tokenize))

    counter = CountWords(lowercase=True)
    counter.setup()
    per_word: dict[bytes, list] = {}
    for item in reversed(byte_ranges(paths, range_bytes=3000)):  # any order
        for word, stats in counter.process(item):
            per_word.setdefault(word, []).append(stats)
    merged = [(word, merge_stats(stats)) for word, stats in per_word.items()]
    ordered = in_corpus_order(merged)
    assert list(ordered.items()) == list(local.items())  # same counts, same order


def test_cli_refuses_what_beam_does_not_do(inputs, tmp_path, capsys):
    corpus = str(Path(inputs["glob"]).parent / "part-0.txt")
    argv = ["vocab", "--runner", "beam", "--model", "sentencepiece", corpus]
    assert main([*argv, "-o", str(tmp_path / "spm.model")]) == 2
    assert "WordPiece only" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # pipeline options without --runner beam
        main(["vocab", corpus, "-o", str(tmp_path / "v.txt"), "--", "--x=1"])
    assert "need --runner beam" in capsys.readouterr().err
