"""``tf.data`` readers for pretraining TFRecords written by ``tfrecords-tools``."""

from kerasbert.data.dynamic_masking import DynamicMasking, mask_batch
from kerasbert.data.features import feature_lengths, feature_spec, read_build
from kerasbert.data.pipeline import pretraining_dataset, tuned_options, verify_records

__all__ = [
    "DynamicMasking",
    "feature_lengths",
    "feature_spec",
    "mask_batch",
    "pretraining_dataset",
    "read_build",
    "tuned_options",
    "verify_records",
]
