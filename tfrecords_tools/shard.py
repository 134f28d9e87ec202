"""Building one output shard from one input chunk (runs inside a worker process).

A shard's bytes depend only on (input chunk, vocabulary, settings, seed): every
random draw of dupe round ``r`` of chunk ``c`` comes from
``numpy.random.default_rng([seed, c, r])``. ``write_shard`` writes to any
binary handle; ``build_shard`` gives it a local atomic file
(``kerasbert.atomic_files``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import BinaryIO

import numpy as np

from kerasbert.atomic_files import atomic_write
from kerasbert.data.records_format import frame_records
from tfrecords_tools.corpus import Chunk, Opener, open_local, read_chunk
from tfrecords_tools.instances import Pair, sentence_pairs, single_segments
from tfrecords_tools.masking import Vocab, corrupt, select_batch
from tfrecords_tools.records import encode_examples
from tfrecords_tools.settings import BuildConfig
from tfrecords_tools.tokenization import TextTokenizer

TOKENIZE_BATCH = 4096  # lines per native tokenizer call

_TOKENIZERS: dict[tuple[str, bool], TextTokenizer] = {}


def cached_tokenizer(vocab_path: str, lowercase: bool) -> TextTokenizer:
    """One tokenizer per process and vocabulary (workers build many shards)."""
    key = (vocab_path, lowercase)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = TextTokenizer(vocab_path, lowercase=lowercase)
    return _TOKENIZERS[key]


def masking_vocab(tokenizer: TextTokenizer) -> Vocab:
    return Vocab(
        mask_id=tokenizer.mask_id,
        is_word_start=tokenizer.is_word_start,
        is_special=tokenizer.is_special,
        random_pool=tokenizer.random_pool,
    )


def tokenize_documents(
    documents: list[list[str]], tokenizer: TextTokenizer
) -> tuple[list[list[np.ndarray]], int]:
    """Token-id segments of each document; drops empty segments and documents.

    Returns:
        ``(documents, dropped)``: non-empty documents as lists of int32 arrays,
        and how many documents had no tokens at all.
    """
    sentences = [s for document in documents for s in document]
    ids_parts, offset_parts, base = [], [np.zeros(1, dtype=np.int64)], 0
    for start in range(0, len(sentences), TOKENIZE_BATCH):
        batch = tokenizer.tokenize(sentences[start : start + TOKENIZE_BATCH])
        ids_parts.append(batch.ids)
        offset_parts.append(batch.offsets[1:] + base)
        base += int(batch.offsets[-1])
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int32)
    offsets = np.concatenate(offset_parts).tolist()
    result, dropped, row = [], 0, 0
    for document in documents:
        segments = [
            ids[offsets[r] : offsets[r + 1]]
            for r in range(row, row + len(document))
            if offsets[r + 1] > offsets[r]
        ]
        row += len(document)
        if segments:
            result.append(segments)
        else:
            dropped += 1
    return result, dropped


def make_pairs(
    documents: list[list[np.ndarray]], config: BuildConfig, rng: np.random.Generator
) -> list[Pair]:
    """All un-masked sequences of one dupe round, in shuffled order."""
    pairs: list[Pair] = []
    for index, document in enumerate(documents):
        if config.pairs:
            pairs += sentence_pairs(
                documents,
                index,
                config.seq_len - 3,
                config.short_seq_prob,
                random_next=config.task == "mlm-nsp",
                rng=rng,
            )
        else:
            pairs += single_segments(
                document, config.seq_len - 2, config.short_seq_prob, rng
            )
    return [pairs[i] for i in rng.permutation(len(pairs))]


def assemble(
    pairs: list[Pair],
    tokenizer: TextTokenizer,
    config: BuildConfig,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Fixed-length feature arrays ``[N, length]`` (see ``feature_lengths``)."""
    count, seq = len(pairs), config.seq_len
    input_ids = np.zeros((count, seq), dtype=np.int64)
    segment_ids = np.zeros((count, seq), dtype=np.int64)
    lengths = np.zeros(count, dtype=np.int64)
    cls = np.asarray([tokenizer.cls_id], dtype=np.int32)
    sep = np.asarray([tokenizer.sep_id], dtype=np.int32)
    for row, pair in enumerate(pairs):
        if pair.b is None:
            tokens = np.concatenate([cls, pair.a, sep])
        else:
            tokens = np.concatenate([cls, pair.a, sep, pair.b, sep])
            segment_ids[row, pair.a.size + 2 : tokens.size] = 1
        lengths[row] = tokens.size
        input_ids[row, : tokens.size] = tokens
    input_mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    features = {"input_mask": input_mask, "segment_ids": segment_ids}
    if config.task == "mlm-sop":
        # ALBERT: 1 where an original token starts a word ([CLS]/[SEP] too).
        starts = tokenizer.is_word_start[input_ids] | tokenizer.is_special[input_ids]
        features["token_boundary"] = (starts & (input_mask == 1)).astype(np.int64)
    if config.writes_masks:
        vocab = masking_vocab(tokenizer)
        masking = config.masking_config()
        positions, real = select_batch(input_ids, lengths, vocab, masking, rng)
        labels = np.take_along_axis(input_ids, positions, axis=1) * real
        corrupt(input_ids, positions, real, vocab, rng)
        features["masked_lm_positions"] = positions
        features["masked_lm_ids"] = labels
        features["masked_lm_weights"] = real.astype(np.float32)
    features["input_ids"] = input_ids
    if config.pairs:
        features["next_sentence_labels"] = np.asarray(
            [[p.label] for p in pairs], dtype=np.int64
        ).reshape(count, 1)
    return features


def build_shard(
    chunk: Chunk,
    vocab_path: str,
    config: BuildConfig,
    target: str,
    open_file: Opener = open_local,
) -> dict[str, object]:
    """Writes ``target`` (atomically) from ``chunk``; returns its manifest entry.

    The entry holds ``examples``, ``bytes``, ``sha256`` and the chunk's read
    statistics (skipped lines, empty documents).
    """
    with atomic_write(target) as handle:
        return write_shard(chunk, vocab_path, config, handle, open_file)


def write_shard(
    chunk: Chunk,
    vocab_path: str,
    config: BuildConfig,
    handle: BinaryIO,
    open_file: Opener = open_local,
) -> dict[str, object]:
    """Writes the shard of ``chunk`` to ``handle``; returns its manifest entry.

    The one shard writer of both runners: ``build_shard`` gives it a local
    atomic file, the Beam pipeline a temporary file of its file system that
    it renames into place afterwards.
    """
    tokenizer = cached_tokenizer(vocab_path, config.lowercase)
    texts, stats = read_chunk(
        chunk, config.max_line_bytes, config.one_document_per_line, open_file
    )
    documents, dropped = tokenize_documents(texts, tokenizer)
    stats.empty_documents += dropped
    stats.documents -= dropped
    digest = hashlib.sha256()
    examples = size = 0
    for round_index in range(config.dupe_factor if documents else 0):
        rng = np.random.default_rng([config.seed, chunk.index, round_index])
        pairs = make_pairs(documents, config, rng)
        if not pairs:
            continue
        data = frame_records(encode_examples(assemble(pairs, tokenizer, config, rng)))
        handle.write(data)
        digest.update(data)
        examples += len(pairs)
        size += len(data)
    return {
        "examples": examples,
        "bytes": size,
        "sha256": digest.hexdigest(),
        "stats": asdict(stats),
    }
