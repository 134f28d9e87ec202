"""Mask-aware pooling of a token sequence into one vector."""

from __future__ import annotations

import keras

POOLING_MODES = ("cls", "mean", "max")


@keras.saving.register_keras_serializable(package="kerasbert")
class SequencePooling(keras.layers.Layer):
    """Pools ``[batch, seq, hidden]`` into ``[batch, hidden]``.

    ``"cls"`` takes the first token; ``"mean"`` averages the real tokens;
    ``"max"`` takes the element-wise maximum over the real tokens. Padding
    (``input_mask == 0``) never contributes, so the result does not depend on
    how much a sequence was padded.

    Call arguments:
        sequence_output: ``[batch, seq, hidden]``.
        input_mask: ``[batch, seq]``, non-zero for real tokens.
    """

    def __init__(self, mode: str = "cls", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(
                f"Pooling mode must be one of {POOLING_MODES}, got {mode!r}."
            )
        self.mode = mode

    def call(self, sequence_output, input_mask):
        if self.mode == "cls":
            return sequence_output[:, 0, :]
        mask = keras.ops.cast(input_mask, sequence_output.dtype)[:, :, None]
        if self.mode == "mean":
            total = keras.ops.sum(sequence_output * mask, axis=1)
            count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
            return total / count
        lowest = keras.ops.cast(-1e4 if mask.dtype != "float32" else -1e9, mask.dtype)
        return keras.ops.max(sequence_output * mask + (1.0 - mask) * lowest, axis=1)

    def compute_output_shape(self, sequence_output_shape, input_mask_shape=None):
        return (sequence_output_shape[0], sequence_output_shape[2])

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config
