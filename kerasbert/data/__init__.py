"""Input pipelines: pretraining TFRecords (``tfrecords-tools`` builds) and raw text.

The names below load lazily (PEP 562), so that the TensorFlow-free records
format (``kerasbert.data.records_format``) is importable without TensorFlow:
the record builder's worker processes build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasbert.lazy_exports import lazy_attributes

_EXPORTS = {
    "DynamicMasking": "kerasbert.data.dynamic_masking",
    "mask_batch": "kerasbert.data.dynamic_masking",
    "feature_spec": "kerasbert.data.features",
    "pretraining_dataset": "kerasbert.data.pipeline",
    "tuned_options": "kerasbert.data.pipeline",
    "verify_records": "kerasbert.data.pipeline",
    "RecordsBuild": "kerasbert.data.records_format",
    "feature_lengths": "kerasbert.data.records_format",
    "read_build": "kerasbert.data.records_format",
    "encoder_inputs": "kerasbert.data.texts",
    "pack_texts": "kerasbert.data.texts",
    "read_lines": "kerasbert.data.texts",
    "text_batches": "kerasbert.data.texts",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from kerasbert.data.dynamic_masking import DynamicMasking, mask_batch  # noqa: F401
    from kerasbert.data.features import feature_spec  # noqa: F401
    from kerasbert.data.pipeline import (  # noqa: F401
        pretraining_dataset,
        tuned_options,
        verify_records,
    )
    from kerasbert.data.records_format import (  # noqa: F401
        RecordsBuild,
        feature_lengths,
        read_build,
    )
    from kerasbert.data.texts import (  # noqa: F401
        encoder_inputs,
        pack_texts,
        read_lines,
        text_batches,
    )

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
