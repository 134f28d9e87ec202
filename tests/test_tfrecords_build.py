"""Builds end to end: determinism, resume after SIGKILL, bad input, BERT specs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from corpus_helpers import write_corpus, write_vocab

from tfrecords_tools.builder import MANIFEST, build
from tfrecords_tools.cli import main
from tfrecords_tools.inspection import read_features, summarize
from tfrecords_tools.settings import BuildConfig

SMALL = BuildConfig(seq_len=64, max_predictions=10, chunk_bytes=6000)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("build")
    return (
        write_corpus(directory / "corpus.txt", documents=150),
        write_vocab(directory / "vocab.txt"),
    )


def outputs(directory: Path) -> dict[str, bytes]:
    """Every file of a build directory, by name."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_output_is_identical_for_any_worker_count(inputs, tmp_path):
    corpus, vocab = inputs
    one = build([corpus], vocab, tmp_path / "one", SMALL, workers=1, progress=False)
    two = build([corpus], vocab, tmp_path / "two", SMALL, workers=2, progress=False)
    assert one == two
    assert one["shards_total"] >= 4
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")
    other_seed = BuildConfig(**{**vars(SMALL), "seed": 7})
    three = build([corpus], vocab, tmp_path / "three", other_seed, progress=False)
    assert three["shards"] != one["shards"]


def test_resume_after_kill_gives_the_same_output(inputs, tmp_path):
    corpus, vocab = inputs
    big = write_corpus(tmp_path / "big.txt", documents=900, seed=3)
    config = BuildConfig(seq_len=64, max_predictions=10, chunk_bytes=4000)
    clean = build([big], vocab, tmp_path / "clean", config, progress=False)

    killed = tmp_path / "killed"
    script = (
        "from tfrecords_tools.builder import build\n"
        "from tfrecords_tools.settings import BuildConfig\n"
        f"build([{str(big)!r}], {str(vocab)!r}, {str(killed)!r}, "
        "BuildConfig(seq_len=64, max_predictions=10, chunk_bytes=4000), "
        "progress=False)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    manifest_path = killed / MANIFEST
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        if manifest_path.is_file():
            done = len(json.loads(manifest_path.read_text())["shards"])
            if done >= 2:
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = json.loads(manifest_path.read_text())
    assert not partial["complete"]
    assert 2 <= len(partial["shards"]) < clean["shards_total"]
    finished = {name: (killed / name).stat().st_mtime_ns for name in partial["shards"]}

    resumed = build([big], vocab, killed, config, progress=False)
    assert resumed == clean
    assert outputs(killed) == outputs(tmp_path / "clean")
    for name, mtime in finished.items():  # completed shards were not rebuilt
        assert (killed / name).stat().st_mtime_ns == mtime
    assert not list(killed.glob(".*"))  # no temp files left behind


def test_changed_settings_are_refused_unless_overwrite(inputs, tmp_path):
    corpus, vocab = inputs
    build([corpus], vocab, tmp_path / "out", SMALL, progress=False)
    other = BuildConfig(**{**vars(SMALL), "masked_lm_prob": 0.2})
    with pytest.raises(ValueError, match="other settings"):
        build([corpus], vocab, tmp_path / "out", other, progress=False)
    manifest = build(
        [corpus], vocab, tmp_path / "out", other, overwrite=True, progress=False
    )
    assert manifest["settings"]["masked_lm_prob"] == 0.2


def test_bad_input_is_counted_and_reported(inputs, tmp_path, capsys):
    _, vocab = inputs
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(
        b"w001 w002 w003 .\nw004 \xff\xfe w005 .\nw006 w007 .\n\n"
        + b"\xc3\x28\n\n"
        + b"w008 " * 300
        + b"\n\n"
        + b"\x01\x02\n\n"  # control characters only: no tokens
        + b"w009 w010 .\nw011 s01x2 .\n"
    )
    code = main(
        [
            "build",
            str(corpus),
            "--vocab",
            str(vocab),
            "-o",
            str(tmp_path / "out"),
            "--seq-len",
            "32",
            "--max-predictions",
            "5",
            "--max-line-bytes",
            "1000",
        ]
    )
    assert code == 0
    totals = json.loads((tmp_path / "out" / MANIFEST).read_text())["totals"]
    assert totals["non_utf8_lines"] == 2
    assert totals["long_lines"] == 1
    assert totals["empty_documents"] == 3
    assert totals["documents"] == 2
    assert totals["examples"] > 0
    err = capsys.readouterr().err
    assert "2 non-UTF-8 lines" in err and "3 empty documents" in err


def test_missing_or_wrong_vocab_is_a_clear_error(inputs, tmp_path, capsys):
    corpus, _ = inputs
    with pytest.raises(FileNotFoundError, match="vocabulary file not found"):
        build([corpus], tmp_path / "none.txt", tmp_path / "out", progress=False)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("[PAD]\n[UNK]\nw001\n")
    code = main(
        ["build", str(corpus), "--vocab", str(wrong), "-o", str(tmp_path / "out")]
    )
    assert code == 2
    assert (
        "lacks special tokens ['[CLS]', '[SEP]', '[MASK]']" in capsys.readouterr().err
    )


@pytest.mark.parametrize("task", ["mlm-nsp", "mlm-sop"])
def test_sentence_labels_are_balanced(inputs, tmp_path, task):
    corpus, vocab = inputs
    config = BuildConfig(**{**vars(SMALL), "task": task})
    manifest = build([corpus], vocab, tmp_path / task, config, progress=False)
    files = [tmp_path / task / name for name in sorted(manifest["shards"])]
    features = read_features(files)
    assert summarize(features)["label_balance"] == pytest.approx(0.5, abs=0.03)
    segment_b = (features["segment_ids"] * features["input_mask"]).sum(1)
    assert np.all(segment_b >= 2)  # B holds at least one token and [SEP]


def test_bert_feature_spec_reads_the_records(inputs, tmp_path):
    corpus, vocab = inputs
    manifest = build([corpus], vocab, tmp_path / "out", SMALL, progress=False)
    max_seq_length, max_predictions_per_seq = 64, 10
    # Verbatim from google-research/bert run_pretraining.py input_fn_builder.
    name_to_features = {
        "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature(
            [max_predictions_per_seq], tf.int64
        ),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature(
            [max_predictions_per_seq], tf.float32
        ),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }
    files = [str(tmp_path / "out" / n) for n in sorted(manifest["shards"])]
    dataset = tf.data.TFRecordDataset(files).map(
        lambda record: tf.io.parse_single_example(record, name_to_features)
    )
    count = 0
    for example in dataset:
        count += 1
        ids = example["input_ids"].numpy()
        mask = example["input_mask"].numpy()
        assert ids[0] == 2 and ids[mask.sum() - 1] == 3  # [CLS] ... [SEP]
        assert np.all(ids[mask == 0] == 0)
    assert count == manifest["totals"]["examples"]
    # The same bytes parse with protobuf's own tf.train.Example.
    raw = next(iter(tf.data.TFRecordDataset(files[:1]))).numpy()
    example = tf.train.Example.FromString(raw)
    assert set(example.features.feature) == set(name_to_features)


@pytest.mark.parametrize("task", ["mlm", "rtd", "span"])
def test_single_segment_tasks(inputs, tmp_path, task):
    corpus, vocab = inputs
    config = BuildConfig(**{**vars(SMALL), "task": task})
    manifest = build([corpus], vocab, tmp_path / task, config, progress=False)
    features = read_features([tmp_path / task / n for n in sorted(manifest["shards"])])
    assert set(features) == set(manifest["features"])
    assert features["segment_ids"].max() == 0
    assert ("masked_lm_ids" in features) == (task != "rtd")
    lengths = features["input_mask"].sum(1)
    assert lengths.max() == 64 and lengths.mean() > 40  # documents fill windows


def test_inspect_cli_prints_statistics(inputs, tmp_path, capsys):
    corpus, vocab = inputs
    manifest = build([corpus], vocab, tmp_path / "out", SMALL, progress=False)
    shard = str(tmp_path / "out" / sorted(manifest["shards"])[0])
    assert main(["inspect", shard, "--vocab", str(vocab), "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert "[CLS]" in out and '"mask_rate"' in out and '"label_balance"' in out
    os.truncate(shard, os.path.getsize(shard) - 3)
    assert main(["inspect", shard]) == 2
    assert "truncated or corrupt record" in capsys.readouterr().err
