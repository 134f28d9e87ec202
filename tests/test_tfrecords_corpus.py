"""Corpus reading: chunks at document breaks, skipped input."""

from __future__ import annotations

import pytest
from corpus_helpers import write_corpus

from tfrecords_tools.corpus import plan_chunks, read_chunk


def test_chunks_cover_the_file_at_document_breaks(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt", 60)
    plan = plan_chunks([corpus], chunk_bytes=2000)
    data = corpus.read_bytes()
    assert len(plan.chunks) > 3
    assert plan.chunks[0].start == 0 and plan.chunks[-1].end == len(data)
    for before, after in zip(plan.chunks, plan.chunks[1:], strict=False):
        assert before.end == after.start
        assert data[before.end - 1 : before.end] == b"\n"
        assert data[before.end - 2 : before.end] == b"\n\n"  # a document break
    documents = sum(len(read_chunk(c, 10_000)[0]) for c in plan.chunks)
    assert documents == 60


def test_oversized_document_is_cut_and_counted(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("w001 w002 .\n" * 400)  # one 4.8 kB document
    plan = plan_chunks([corpus], chunk_bytes=1000)
    assert plan.split_documents >= 1
    assert all(c.end - c.start <= 4000 + 12 for c in plan.chunks)


def test_bad_lines_and_empty_documents_are_counted(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(
        b"w001 w002 .\n\xff\xfe broken\nw003 .\n\n"  # one non-UTF-8 line
        + b"\xc3\x28\n\n"  # a document of only a bad line: empty
        + b"w004 " * 100
        + b"\n\n"  # a 500-byte line: too long
        + b"\n\n\n"  # blank lines alone are not documents
        + b"w005 .\n"
    )
    (chunk,) = plan_chunks([corpus], chunk_bytes=1 << 20).chunks
    documents, stats = read_chunk(chunk, max_line_bytes=200)
    assert documents == [["w001 w002 .", "w003 ."], ["w005 ."]]
    assert stats.non_utf8_lines == 2
    assert stats.long_lines == 1
    assert stats.empty_documents == 2
    assert stats.documents == 2


def test_one_document_per_line_splits_sentences(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("w001 w002. w003 w004! w005?\nw006 w007.\n")
    (chunk,) = plan_chunks([corpus], 1 << 20, one_document_per_line=True).chunks
    documents, _ = read_chunk(chunk, 1000, one_document_per_line=True)
    assert documents == [["w001 w002.", "w003 w004!", "w005?"], ["w006 w007."]]


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="input file not found"):
        plan_chunks([tmp_path / "nope.txt"], 1000)
