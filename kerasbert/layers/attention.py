"""Multi-head self-attention as a residual sublayer."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from kerasbert.layers.dropout import Dropout
from kerasbert.layers.residual import ResidualSublayer


@keras.saving.register_keras_serializable(package="kerasbert")
class SelfAttentionBlock(ResidualSublayer):
    """Multi-head self-attention with residual connection and LayerNorm.

    The query, key and value projections are one fused ``[H, 3H]`` matmul
    (column blocks q | k | v, heads contiguous inside each block), which is
    one large GEMM instead of three small ones. Scores and softmax are
    computed in float32 under mixed precision.

    A sublayer of ``SharedTransformerEncoder`` (not exported by
    ``kerasbert.layers``): it takes the stack's private flattened layout. The
    class name stays as it is because ``.keras`` files address the blocks'
    weights by it (``attention_blocks/self_attention_block/...``).

    Call arguments:
        x: ``[batch * seq, hidden_size]``: tokens flattened row-major, as
            ``SharedTransformerEncoder`` keeps them (2-D dense layers fuse).
        attention_bias: float ``[batch, 1, 1, seq]`` (see
            ``attention_bias_from_mask``), added to the scores; it also gives
            the batch and sequence sizes to unflatten ``x``.
        query_positions: optional int32 ``[batch, P]``: compute the outputs
            of these positions only (they still attend to every key). The
            last block of a pretrainer needs only the masked positions, so
            this skips most of its work for the other tokens.

    Returns:
        ``[batch * seq, hidden_size]``, or ``[batch * P, hidden_size]`` with
        ``query_positions``.
    """

    def __init__(self, num_heads: int, attention_dropout_rate: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if self.hidden_size % num_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_heads={num_heads}."
            )
        self.num_heads = num_heads
        self.head_size = self.hidden_size // num_heads
        self.attention_dropout_rate = attention_dropout_rate
        self.qkv = self.dense(3 * self.hidden_size, name="qkv")
        self.output_projection = self.dense(self.hidden_size, name="output")
        self.attention_dropout = Dropout(
            attention_dropout_rate, dtype=self.dtype_policy
        )

    def build_transform(self, input_shape):
        self.qkv.build(input_shape)
        self.output_projection.build(input_shape)

    def residual_rows(self, x, attention_bias, query_positions=None):
        """``x`` itself, or its rows at ``query_positions`` (``[batch * P, H]``)."""
        if query_positions is None:
            return x
        length = keras.ops.shape(attention_bias)[3]
        positions = keras.ops.cast(query_positions, "int32")
        rows = positions + keras.ops.expand_dims(
            keras.ops.arange(keras.ops.shape(positions)[0], dtype="int32") * length, 1
        )
        return keras.ops.take(x, keras.ops.reshape(rows, (-1,)), axis=0)

    def transform(self, x, attention_bias, query_positions=None, training=None):
        batch, length = (
            keras.ops.shape(attention_bias)[0],
            keras.ops.shape(attention_bias)[3],
        )
        qkv = keras.ops.reshape(
            self.qkv(x), (batch, length, 3, self.num_heads, self.head_size)
        )
        # Each [batch, heads, seq, head_size]. Unstacked rather than indexed:
        # the gradient of three strided slices is three zero-padded full-size
        # tensors summed, which doubled this layer's backward pass here.
        query, key, value = keras.ops.unstack(
            keras.ops.transpose(qkv, (2, 0, 3, 1, 4)), num=3, axis=0
        )
        if query_positions is not None:  # [batch, heads, P, head_size]
            query = tf.gather(
                query, keras.ops.cast(query_positions, "int32"), axis=2, batch_dims=1
            )
        query = query * keras.ops.cast(1.0 / math.sqrt(self.head_size), query.dtype)
        scores = keras.ops.matmul(query, keras.ops.transpose(key, (0, 1, 3, 2)))
        # Keras autocasts layer inputs to the compute dtype; the bias is
        # -1e9-scale, so it is added in float32 (representable in bf16 too).
        scores = keras.ops.cast(scores, "float32") + keras.ops.cast(
            attention_bias, "float32"
        )
        probabilities = keras.ops.cast(keras.ops.softmax(scores, axis=-1), x.dtype)
        probabilities = self.attention_dropout(probabilities, training=training)
        context = keras.ops.matmul(probabilities, value)
        context = keras.ops.reshape(
            keras.ops.transpose(context, (0, 2, 1, 3)), (-1, self.hidden_size)
        )
        return self.output_projection(context)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            attention_dropout_rate=self.attention_dropout_rate,
        )
        return config
