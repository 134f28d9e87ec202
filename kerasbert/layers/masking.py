"""Conversion of a padding mask into an additive attention bias."""

from __future__ import annotations

import keras

# Large enough to zero a softmax term in float32 and bfloat16 alike, small
# enough not to overflow either when added to real scores.
MASK_NEGATIVE = -1e9


def attention_bias_from_mask(input_mask):
    """Turns a padding mask into an additive bias for attention scores.

    Args:
        input_mask: int or bool tensor ``[batch, seq]``; non-zero marks real
            tokens, zero marks padding.

    Returns:
        float32 tensor ``[batch, 1, 1, seq]``: 0 where a key may be attended,
        ``MASK_NEGATIVE`` where it is padding. It broadcasts over heads and
        query positions, so it is computed once for the whole stack.
    """
    keep = keras.ops.cast(input_mask, "float32")
    bias = (1.0 - keep) * MASK_NEGATIVE
    return keras.ops.expand_dims(keras.ops.expand_dims(bias, 1), 1)
