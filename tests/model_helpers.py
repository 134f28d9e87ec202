"""A tiny encoder size, random inputs and BERT's equations in NumPy.

The NumPy functions recompute what a model should output from its weights
alone, with no kerasbert code, so that tests compare values and not shapes.
"""

from __future__ import annotations

import math

import numpy as np

# Two blocks of width 16 (2 heads, feed-forward 32), 97 token ids, no dropout.
ENCODER_H16 = dict(
    vocabulary_size=97,
    num_layers=2,
    num_heads=2,
    hidden_size=16,
    intermediate_size=32,
    max_sequence_length=32,
    dropout_rate=0.0,
    attention_dropout_rate=0.0,
)


def random_inputs(
    batch: int = 3,
    length: int = 10,
    vocabulary_size: int = 97,
    with_segments: bool = True,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Random int32 encoder inputs whose rows have different amounts of padding."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(1, vocabulary_size, size=(batch, length), dtype=np.int32)
    lengths = np.maximum(2, length - np.arange(batch) * 3)
    input_mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    inputs = {"input_ids": input_ids * input_mask, "input_mask": input_mask}
    if with_segments:
        segment_ids = (np.arange(length)[None, :] >= lengths[:, None] // 2).astype(
            np.int32
        )
        inputs["segment_ids"] = segment_ids * input_mask
    return inputs


def randomize(model, seed: int = 0) -> None:
    """Gives every variable distinct random values (no all-ones LayerNorms)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.2, variable.shape).astype(np.float32))


def layer_norm(x, gamma, beta, epsilon: float) -> np.ndarray:
    """LayerNorm over the last axis."""
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + epsilon) * gamma + beta


_erf = np.vectorize(math.erf)


def gelu(x) -> np.ndarray:
    """The exact (erf) GELU."""
    return 0.5 * x * (1.0 + _erf(np.asarray(x) / math.sqrt(2.0)))


def numpy_encoder(encoder, inputs: dict) -> dict[str, np.ndarray]:
    """``sequence_output`` (and ``pooled_output``) of a post-LN, GELU ``Encoder``
    whose groups share whole blocks, recomputed in float64 from its weights.

    The fused ``qkv`` kernel holds the q | k | v column blocks, heads
    contiguous inside each; block ``i`` uses parameter set ``i*G // L``.
    """
    assert not encoder.norm_first and encoder.hidden_activation == "gelu"
    assert encoder.shared_components == "all"
    weights = {v.path: np.asarray(v.numpy(), np.float64) for v in encoder.weights}
    epsilon = encoder.layer_norm_epsilon

    def norm(x, prefix):
        gamma, beta = weights[f"{prefix}/gamma"], weights[f"{prefix}/beta"]
        return layer_norm(x, gamma, beta, epsilon)

    def dense(x, prefix):
        return x @ weights[f"{prefix}/kernel"] + weights[f"{prefix}/bias"]

    ids, mask = inputs["input_ids"], inputs["input_mask"].astype(bool)
    batch, length = ids.shape
    x = weights["embeddings/token_embedding/embeddings"][ids]
    x = x + weights["embeddings/position_embeddings"][:length]
    if encoder.type_vocabulary_size:
        x = (
            x
            + weights["embeddings/segment_embedding/embeddings"][inputs["segment_ids"]]
        )
    x = norm(x, "embeddings/layer_norm")
    if encoder.embedding_size != encoder.hidden_size:
        x = dense(x, "embeddings/projection")
    heads = encoder.num_heads
    head_size = encoder.hidden_size // heads
    for index in range(encoder.num_layers):
        group = index * encoder.num_groups // encoder.num_layers
        attention = f"transformer/attention_{group}"
        qkv = dense(x, f"{attention}/qkv").reshape(batch, length, 3, heads, head_size)
        query, key, value = qkv.transpose(2, 0, 3, 1, 4)
        scores = query @ key.transpose(0, 1, 3, 2) / math.sqrt(head_size)
        scores = np.where(mask[:, None, None, :], scores, -np.inf)
        probabilities = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        context = (probabilities @ value).transpose(0, 2, 1, 3).reshape(x.shape)
        x = norm(x + dense(context, f"{attention}/output"), f"{attention}/layer_norm")
        feed_forward = f"transformer/feed_forward_{group}"
        inner = gelu(dense(x, f"{feed_forward}/intermediate"))
        x = norm(
            x + dense(inner, f"{feed_forward}/output"), f"{feed_forward}/layer_norm"
        )
    outputs = {"sequence_output": x}
    if encoder.use_pooler:
        outputs["pooled_output"] = np.tanh(dense(x[:, 0], "pooler"))
    return outputs
