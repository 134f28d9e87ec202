"""Fine-tuning support: data readers and task metrics for ``kerasbert finetune``.

This package ``__init__`` imports nothing, so that ``kerasbert.finetuning.readers``
and the metric modules stay importable without TensorFlow.
"""
