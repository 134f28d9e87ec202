"""``tfrecords-tools vocab --runner beam``: WordPiece from word counts made in Beam.

The local ``vocab.train_wordpiece`` is tensorflow-text's
``bert_vocab_from_dataset``: split every non-blank line into words with
``BasicTokenizer``, count them in a ``Counter`` (in first-occurrence order),
and hand the counts to ``wordpiece_tokenizer_learner_lib.learn``. Here the
counting runs in the pipeline and the same learner runs on the result:

1. the input files are cut into byte ranges (from their sizes, no scan); a
   range holds the lines that start in it, so a worker holds one range's
   distinct words, never the corpus;
2. each range's lines go through the same TensorFlow ops as the local path
   (UTF-8 transcoding with replacement, the blank-line filter,
   ``BasicTokenizer``), giving per word its count and its first position
   (file, line offset, word index);
3. a combine per word sums the counts and keeps the earliest position;
4. one worker orders the words by first position, which rebuilds the local
   ``Counter``'s order (the learner's cut at ``max_input_tokens`` words keeps
   words of equal count in that order), learns and writes ``vocab.txt``.

So the vocabulary equals the local command's on the same files. SentencePiece
is not offered here: its trainer reads (a shuffled sample of) sentences, not
word counts (see ``train_wordpiece_with_beam``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from tfrecords_tools.beam_files import (
    expand_inputs,
    file_size,
    open_input,
    write_atomically,
)
from tfrecords_tools.vocab import WORDPIECE_RESERVED

#: Input bytes per range: a worker's unit of reading.
RANGE_BYTES = 64 << 20
#: Lines per tokenizer call.
_BATCH_LINES = 1024

Position = tuple[int, int, int]  # file index, line byte offset, word index
WordStats = tuple[int, Position]  # count, first position


def byte_ranges(
    paths: Sequence[str], range_bytes: int = RANGE_BYTES
) -> list[tuple[int, str, int, int]]:
    """``(file index, path, start, end)`` covering every file in order."""
    ranges = []
    for index, path in enumerate(paths):
        size = file_size(path)
        for start in range(0, size, range_bytes):
            ranges.append((index, path, start, min(start + range_bytes, size)))
    return ranges


def lines_starting_in(path: str, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, line without its line break)`` of each line starting in the range.

    A line starts at 0 or right after a ``\\n``; the line that starts before
    ``start`` belongs to the previous range, the one starting before ``end``
    is read whole.
    """
    with open_input(path) as handle:
        offset = 0
        if start > 0:
            handle.seek(start - 1)
            offset = start - 1 + len(handle.readline())
        while offset < end:
            line = handle.readline()
            if not line:
                return
            yield offset, line.removesuffix(b"\n").removesuffix(b"\r")
            offset += len(line)


class CountWords(beam.DoFn):
    """A byte range -> ``(word, (count, first position))`` per distinct word."""

    def __init__(self, lowercase: bool):
        self.lowercase = lowercase

    def setup(self) -> None:
        import tensorflow as tf
        from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer

        self._tf = tf
        # bert_vocab_from_dataset's splitter with the local command's params.
        self._tokenizer = BasicTokenizer(lower_case=self.lowercase)

    def process(
        self, item: tuple[int, str, int, int]
    ) -> Iterator[tuple[bytes, WordStats]]:
        file_index, path, start, end = item
        stats: dict[bytes, list] = {}  # word -> [count, first position]
        batch: list[tuple[int, bytes]] = []
        for offset_and_line in lines_starting_in(path, start, end):
            batch.append(offset_and_line)
            if len(batch) == _BATCH_LINES:
                self._count(batch, file_index, stats)
                batch = []
        if batch:
            self._count(batch, file_index, stats)
        for word, entry in stats.items():
            yield word, tuple(entry)

    def _count(
        self, batch: list[tuple[int, bytes]], file_index: int, stats: dict
    ) -> None:
        tf = self._tf
        lines = tf.strings.unicode_transcode(
            tf.constant([line for _, line in batch]), "UTF-8", "UTF-8"
        )
        keep = (tf.strings.length(tf.strings.strip(lines)) > 0).numpy()
        words = self._tokenizer.tokenize(lines).to_list()
        for (offset, _), kept, row in zip(batch, keep, words, strict=True):
            if not kept:
                continue
            for index, word in enumerate(row):
                entry = stats.get(word)
                if entry is None:
                    stats[word] = [1, (file_index, offset, index)]
                else:
                    entry[0] += 1


def merge_stats(values: Iterable[WordStats]) -> WordStats:
    """Sum of counts, earliest first position (associative: a combine)."""
    total, first = 0, None
    for count, position in values:
        total += count
        first = position if first is None else min(first, position)
    return total, first


def in_corpus_order(counted: Iterable[tuple[bytes, WordStats]]) -> dict[str, int]:
    """Word -> count, words in order of first occurrence in the corpus.

    The local command's ``Counter`` has this order; the learner depends on it
    where it keeps the ``max_input_tokens`` most frequent words and some have
    equal counts.
    """
    ordered = sorted(counted, key=lambda item: item[1][1])
    return {word.decode("utf-8"): count for word, (count, _) in ordered}


def _learn_and_write(
    counted: list[tuple[bytes, WordStats]], output: str, vocab_size: int
) -> int:
    """Runs the WordPiece learner on the counts; writes ``output``."""
    from tensorflow_text.tools.wordpiece_vocab import (
        wordpiece_tokenizer_learner_lib as learner,
    )

    if not counted:
        raise ValueError("the input files hold no words")
    vocabulary = learner.learn(
        in_corpus_order(counted), vocab_size, list(WORDPIECE_RESERVED)
    )
    text = "".join(token + "\n" for token in vocabulary)
    write_atomically(output, text.encode("utf-8"))
    return len(vocabulary)


def train_wordpiece_with_beam(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    vocab_size: int = 30522,
    lowercase: bool = True,
    pipeline_args: Sequence[str] = (),
    range_bytes: int = RANGE_BYTES,
) -> list[str]:
    """The vocabulary ``vocab.train_wordpiece`` learns, with counting in Beam.

    Args:
        inputs: text files or globs (any Beam file system).
        output: the ``vocab.txt`` to write (any Beam file system).
        vocab_size: target size including the reserved tokens.
        lowercase: uncased BERT (lowercase + strip accents).
        pipeline_args: Beam pipeline options.
        range_bytes: input bytes per reading unit.

    Returns:
        The vocabulary as written.

    Raises:
        FileNotFoundError: an input is missing.
        ValueError: ``vocab_size`` too small, or no words in the inputs.
    """
    if vocab_size <= len(WORDPIECE_RESERVED):
        raise ValueError(f"vocab_size must exceed {len(WORDPIECE_RESERVED)}")
    if not inputs:
        raise ValueError("no input files given")
    output = os.fspath(output)
    ranges = byte_ranges(expand_inputs([os.fspath(p) for p in inputs]), range_bytes)
    if not ranges:
        raise ValueError("the input files are empty")
    with beam.Pipeline(options=PipelineOptions(list(pipeline_args))) as pipeline:
        _ = (
            pipeline
            | "Byte ranges" >> beam.Create(ranges)
            | "Spread" >> beam.Reshuffle()
            | "Count words" >> beam.ParDo(CountWords(lowercase))
            | "Sum per word" >> beam.CombinePerKey(merge_stats)
            | "Collect counts" >> beam.combiners.ToList()
            | "Learn" >> beam.Map(_learn_and_write, output, vocab_size)
        )
    with open_input(output) as handle:
        return handle.read().decode("utf-8").splitlines()
