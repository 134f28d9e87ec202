"""Every layer rebuilds from its config and computes the same function."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasbert.layers import (
    EncoderEmbeddings,
    SequencePooling,
    SharedTransformerEncoder,
)
from kerasbert.layers.activations import gelu_exact, get_activation
from kerasbert.layers.attention import SelfAttentionBlock
from kerasbert.layers.dropout import Dropout
from kerasbert.layers.feed_forward import FeedForwardBlock
from kerasbert.layers.masking import attention_bias_from_mask

RNG = np.random.default_rng(0)
HIDDEN = RNG.normal(size=(2, 6, 8)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], np.int32)
BIAS = attention_bias_from_mask(MASK)
IDS = RNG.integers(0, 50, size=(2, 6)).astype("int32")
SEGMENTS = (np.arange(6)[None] > 2).astype("int32").repeat(2, 0)

CASES = {
    "embeddings": (
        lambda: EncoderEmbeddings(
            vocabulary_size=50, hidden_size=8, embedding_size=4, max_sequence_length=16
        ),
        (IDS, SEGMENTS),
    ),
    "attention": (
        lambda: SelfAttentionBlock(num_heads=2, hidden_size=8, dropout_rate=0.0),
        (HIDDEN.reshape(12, 8), BIAS),
    ),
    "feed_forward": (
        lambda: FeedForwardBlock(intermediate_size=16, hidden_size=8, norm_first=True),
        (HIDDEN,),
    ),
    "transformer": (
        lambda: SharedTransformerEncoder(
            num_layers=3, num_heads=2, hidden_size=8, intermediate_size=16, num_groups=2
        ),
        (HIDDEN, BIAS),
    ),
    "pooling": (lambda: SequencePooling("max"), (HIDDEN, MASK)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_config_round_trip(name):
    build, args = CASES[name]
    layer = build()
    expected = layer(*args)
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(*args)
    clone.set_weights(layer.get_weights())
    for a, b in zip(
        keras.tree.flatten(expected), keras.tree.flatten(clone(*args)), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_attention_ignores_masked_keys():
    layer = SelfAttentionBlock(num_heads=2, hidden_size=8, dropout_rate=0.0)
    flat = HIDDEN.reshape(12, 8)
    changed = HIDDEN.copy()
    changed[0, 4:] = 100.0  # padding of the first sequence
    before = np.asarray(layer(flat, BIAS)).reshape(2, 6, 8)
    after = np.asarray(layer(changed.reshape(12, 8), BIAS)).reshape(2, 6, 8)
    np.testing.assert_allclose(before[0, :4], after[0, :4], atol=1e-5)
    np.testing.assert_array_equal(before[1], after[1])


def test_exact_gelu_matches_the_erf_definition():
    x = np.linspace(-6, 6, 101).astype("float32")
    from math import erf, sqrt

    reference = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in x])
    np.testing.assert_allclose(gelu_exact(x), reference, atol=1e-6)
    approximate = np.asarray(get_activation("gelu_approximate")(x))
    assert 1e-4 < np.max(np.abs(approximate - reference)) < 1e-2
    with pytest.raises(ValueError, match="Unknown activation"):
        get_activation("swishy")


def test_dropout_drops_at_its_rate_and_keeps_the_expectation():
    layer = Dropout(0.1, seed=3)
    ones = np.ones((64, 1001), np.float32)  # odd size: the last word is half used
    assert np.asarray(layer(ones, training=False)).tolist() == ones.tolist()
    first, second = np.asarray(layer(ones, training=True)), layer(ones, training=True)
    kept = first != 0
    assert abs(1 - kept.mean() - 0.1) < 0.005
    np.testing.assert_allclose(first[kept], 1 / 0.9, rtol=1e-6)
    assert (kept != (np.asarray(second) != 0)).any(), "each call draws a new mask"
    again = Dropout(0.1, seed=3)
    np.testing.assert_array_equal(again(ones, training=True), first)
    clone = Dropout.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)


def test_dropout_compiles_with_xla_and_passes_gradients_through_kept_units():
    layer = Dropout(0.5, seed=0)
    x = tf.constant(RNG.normal(size=(4, 33)).astype("float32"))

    @tf.function(jit_compile=True)
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            total = tf.reduce_sum(y)
        return y, tape.gradient(total, x)

    y, grad = forward_backward(x)
    np.testing.assert_allclose(grad, np.where(np.asarray(y) != 0, 2.0, 0.0))
