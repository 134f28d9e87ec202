"""``tf.data`` pipelines over pretraining TFRecords, ready for XLA / TPU.

Files are interleaved, records shuffled, parsed with BERT's fixed-length spec,
batched with ``drop_remainder=True`` (static shapes) and cast to int32, with
optional on-the-fly masking. Every file is CRC-checked first (``verify=True``)
because TensorFlow's own error for a corrupt record does not name the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf

from kerasbert.data.dynamic_masking import DynamicMasking, mask_batch
from kerasbert.data.features import feature_spec
from kerasbert.data.records_format import iter_records


def verify_records(files: Sequence[str | os.PathLike]) -> int:
    """Checks the framing and CRCs of every record; returns the record count.

    Raises:
        ValueError: naming the file, record index and byte offset of the first
            corrupt or truncated record.
    """
    return sum(sum(1 for _ in iter_records(path)) for path in files)


def tuned_options(threads: int | None = None) -> tf.data.Options:
    """``tf.data.Options`` for small CPU hosts.

    The input pipeline gets a private pool of ``threads`` threads and
    single-threaded ops, so its work does not fan out over the inter/intra-op
    pools the training step uses; autotune sizes buffers within that budget.
    ``benchmarks/build_tfrecords.py --fit-steps N`` measures it against the
    defaults (on a shared 2-core host the difference was within the noise).

    Args:
        threads: private pool size (default: the number of cores).
    """
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads or os.cpu_count() or 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = True
    return options


def pretraining_dataset(
    files: Sequence[str | os.PathLike],
    batch_size: int,
    lengths: dict[str, tuple[str, int]],
    shuffle: bool = True,
    shuffle_buffer: int = 10_000,
    seed: int | None = None,
    cycle_length: int = 4,
    repeat: bool = False,
    drop_remainder: bool = True,
    dynamic_masking: DynamicMasking | None = None,
    verify: bool = True,
    options: tf.data.Options | None = None,
) -> tf.data.Dataset:
    """Batches of pretraining features with static shapes.

    Args:
        files: TFRecord shards (``kerasbert.data.read_build`` lists a build's).
        batch_size: examples per batch; the last partial batch is dropped
            unless ``drop_remainder`` is false.
        lengths: feature name -> (dtype, length), e.g. from ``read_build`` or
            ``feature_lengths``.
        shuffle: shuffle file order and records.
        shuffle_buffer: records in the shuffle buffer.
        seed: shuffle / masking seed.
        cycle_length: files read concurrently.
        repeat: loop forever (for step-based training).
        drop_remainder: drop the last partial batch, so every batch has the
            static shape XLA/TPU training needs; evaluation passes False to
            see every example (the batch dimension is then ``None``).
        dynamic_masking: mask on the fly (the records then need only
            ``input_ids``, ``input_mask``, ``segment_ids``); any stored
            ``masked_lm_*`` features are replaced.
        verify: CRC-check every file up front (a clear error naming the file).
        options: ``tf.data.Options`` (default ``tuned_options()``).

    Returns:
        A dataset of dicts: ``input_ids``, ``input_mask``, ``segment_ids``
        int32 ``[batch, seq]``, and, when present, ``masked_lm_positions``,
        ``masked_lm_ids`` int32 / ``masked_lm_weights`` float32
        ``[batch, max_predictions]``, ``next_sentence_labels`` int32
        ``[batch, 1]``, ``token_boundary`` int32 ``[batch, seq]``.

    Raises:
        ValueError: no files, a corrupt file, or a non-positive batch size.
    """
    files = [os.fspath(f) for f in files]
    if not files:
        raise ValueError("no TFRecord files given")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for path in files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"TFRecord file not found: {path}")
    if verify:
        verify_records(files)
    if dynamic_masking is not None:
        lengths = {k: v for k, v in lengths.items() if not k.startswith("masked_lm_")}
    spec = feature_spec(lengths)

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(cycle_length, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def parse(records: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(records, spec)
        return {
            name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
            for name, value in parsed.items()
        }

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if dynamic_masking is not None:
        dataset = dataset.enumerate().map(
            lambda step, batch: mask_batch(batch, dynamic_masking, step),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset.with_options(options or tuned_options())
