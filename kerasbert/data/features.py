"""The pretraining features as TensorFlow parses them: BERT's ``FixedLenFeature`` spec.

The lengths come from the records format (``kerasbert.data.records_format``),
the single source the builder writes by, so what the builder writes and what
the reader parses cannot drift.
"""

from __future__ import annotations

import tensorflow as tf


def feature_spec(
    lengths: dict[str, tuple[str, int]],
) -> dict[str, tf.io.FixedLenFeature]:
    """``tf.io.parse_example`` spec: every feature fixed-length (as in BERT)."""
    return {
        name: tf.io.FixedLenFeature([length], tf.as_dtype(dtype))
        for name, (dtype, length) in lengths.items()
    }
