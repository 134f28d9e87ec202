"""Task heads on the encoder: values, tying, masking, saving, fit, bf16, XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_helpers import ENCODER_H16, gelu, layer_norm, random_inputs, randomize

from kerasbert import (
    Encoder,
    MaskedLanguageModel,
    MultipleChoiceClassifier,
    SentenceEncoder,
    SequenceClassifier,
    SpanQuestionAnswerer,
    TokenClassifier,
)
from kerasbert.layers.masking import MASK_NEGATIVE
from kerasbert.layers.pooling import SequencePooling


def tiny_encoder(**overrides) -> Encoder:
    return Encoder(**dict(ENCODER_H16, **overrides))


def mlm_inputs(batch=3, length=10, predictions=4):
    inputs = random_inputs(batch, length)
    inputs["masked_lm_positions"] = np.tile(
        np.arange(1, predictions + 1, dtype=np.int32), (batch, 1)
    )
    return inputs


TASKS = {
    "sequence": (
        lambda: SequenceClassifier(tiny_encoder(), num_classes=3),
        random_inputs,
    ),
    "sequence_mean": (
        lambda: SequenceClassifier(
            tiny_encoder(use_pooler=False), num_classes=1, pooling="mean"
        ),
        random_inputs,
    ),
    "token": (lambda: TokenClassifier(tiny_encoder(), num_classes=5), random_inputs),
    "span": (lambda: SpanQuestionAnswerer(tiny_encoder()), random_inputs),
    "choice": (
        lambda: MultipleChoiceClassifier(tiny_encoder()),
        lambda: {
            k: v.reshape(2, 3, 10)[:, :, :] for k, v in random_inputs(6, 10).items()
        },
    ),
    "sentence": (
        lambda: SentenceEncoder(tiny_encoder(), normalize=True),
        random_inputs,
    ),
    "mlm_nsp": (
        lambda: MaskedLanguageModel(tiny_encoder(), sentence_task="nsp"),
        mlm_inputs,
    ),
    "mlm_albert_sop": (
        lambda: MaskedLanguageModel(
            tiny_encoder(embedding_size=8, num_groups=1), sentence_task="sop"
        ),
        mlm_inputs,
    ),
}


def _dense(layer, x):
    kernel, bias = layer.get_weights()
    return x @ kernel + bias


def _masked_mean(sequence, mask):
    mask = mask[..., None]
    return (sequence * mask).sum(1) / mask.sum(1)


def _span_logits(model, encoded, inputs):
    scores = _dense(model.get_layer("span_scores"), encoded["sequence_output"])
    padding = np.where(inputs["input_mask"] == 1, 0.0, MASK_NEGATIVE)
    return {
        "start_logits": scores[..., 0] + padding,
        "end_logits": scores[..., 1] + padding,
    }


def _unit_mean(model, encoded, inputs):
    mean = _masked_mean(encoded["sequence_output"], inputs["input_mask"])
    return mean / np.linalg.norm(mean, axis=-1, keepdims=True)


def _pretraining_logits(model, encoded, inputs):
    """BERT's MLM head (dense, GELU, LayerNorm, tied embedding) and 2-way head."""
    head = model.get_layer("mlm_head")
    kernel, bias = head.transform.get_weights()
    gamma, beta = head.layer_norm.get_weights()
    positions = inputs["masked_lm_positions"][..., None]
    selected = np.take_along_axis(encoded["sequence_output"], positions, axis=1)
    hidden = layer_norm(gelu(selected @ kernel + bias), gamma, beta, 1e-12)
    embeddings = model.encoder.token_embedding.get_weights()[0]
    return {
        "mlm_logits": hidden @ embeddings.T + head.output_bias.numpy(),
        "sentence_logits": _dense(
            model.get_layer("sentence_head"), encoded["pooled_output"]
        ),
    }


# Each task's outputs recomputed in NumPy from the encoder's outputs and the
# head's weights: (model, encoder outputs, inputs) -> expected outputs.
NUMPY_HEADS = {
    "sequence": lambda m, e, i: _dense(m.get_layer("logits"), e["pooled_output"]),
    "sequence_mean": lambda m, e, i: _dense(
        m.get_layer("logits"), _masked_mean(e["sequence_output"], i["input_mask"])
    ),
    "token": lambda m, e, i: _dense(m.get_layer("logits"), e["sequence_output"]),
    "span": _span_logits,
    "choice": lambda m, e, i: _dense(
        m.get_layer("choice_score"), e["pooled_output"]
    ).reshape(2, 3),
    "sentence": _unit_mean,
    "mlm_nsp": _pretraining_logits,
    "mlm_albert_sop": _pretraining_logits,
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_outputs_are_float32_heads_on_the_encoder_outputs(task):
    """Every output equals its head recomputed in NumPy (all weights random)."""
    build, make_inputs = TASKS[task]
    model = build()
    randomize(model)
    inputs = make_inputs()
    outputs = model(inputs)
    for tensor in keras.tree.flatten(outputs):
        assert tensor.dtype == tf.float32
    # Multiple-choice inputs [batch, choices, seq] are encoded as rows.
    rows = {name: value.reshape(-1, value.shape[-1]) for name, value in inputs.items()}
    encoded = model.encoder({name: rows[name] for name in model.encoder.input_names})
    encoded = {name: np.asarray(value, np.float64) for name, value in encoded.items()}
    expected = NUMPY_HEADS[task](model, encoded, rows)
    if isinstance(expected, dict):
        assert sorted(outputs) == sorted(expected)
    for actual, value in zip(
        keras.tree.flatten(outputs), keras.tree.flatten(expected), strict=True
    ):
        np.testing.assert_allclose(actual, value, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_keras_file_round_trip(task, tmp_path):
    build, make_inputs = TASKS[task]
    model = build()
    inputs = make_inputs()
    path = tmp_path / f"{task}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    for expected, actual in zip(
        keras.tree.flatten(model(inputs)),
        keras.tree.flatten(restored(inputs)),
        strict=True,
    ):
        np.testing.assert_array_equal(expected, actual)


def test_mlm_head_is_tied_to_the_token_embedding():
    encoder = tiny_encoder()
    model = MaskedLanguageModel(encoder)
    head = model.get_layer("mlm_head")
    head_variables = {id(v) for v in head.weights}
    assert id(encoder.token_embedding.embeddings) not in head_variables
    # Each variable counted once: encoder + transform + LayerNorm + vocab bias.
    assert model.count_params() == encoder.count_params() + (16 * 16 + 16) + 2 * 16 + 97
    inputs = mlm_inputs()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(inputs)["mlm_logits"])
    gradient = tape.gradient(loss, encoder.token_embedding.embeddings)
    assert gradient is not None and float(tf.norm(tf.convert_to_tensor(gradient))) > 0
    # Changing the embedding changes the logits: the matrix is shared, not copied.
    before = np.asarray(model(inputs)["mlm_logits"])
    encoder.token_embedding.embeddings.assign(encoder.token_embedding.embeddings * 2.0)
    assert not np.allclose(before, model(inputs)["mlm_logits"])


def test_mlm_heads_validate_their_options():
    with pytest.raises(ValueError, match="sentence_task"):
        MaskedLanguageModel(tiny_encoder(), sentence_task="next")
    with pytest.raises(ValueError, match="use_pooler"):
        MaskedLanguageModel(tiny_encoder(use_pooler=False), sentence_task="nsp")
    with pytest.raises(ValueError, match="use_pooler"):
        SequenceClassifier(tiny_encoder(use_pooler=False), num_classes=2)


def test_span_logits_never_point_at_padding():
    outputs = SpanQuestionAnswerer(tiny_encoder())(random_inputs())
    mask = random_inputs()["input_mask"]
    for logits in outputs.values():
        logits = np.asarray(logits)
        assert np.all(logits[mask == 0] < -1e8)
        assert np.all(logits[mask == 1] > -1e3)


@pytest.mark.parametrize("mode", ["cls", "mean", "max"])
def test_pooling_ignores_padding(mode):
    rng = np.random.default_rng(1)
    sequence = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.int32)
    pooled = np.asarray(SequencePooling(mode)(sequence, mask))
    real = sequence[0, :3]
    expected = {"cls": real[0], "mean": real.mean(0), "max": real.max(0)}[mode]
    np.testing.assert_allclose(pooled[0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="Pooling mode"):
        SequencePooling("sum")


def test_multiple_choice_scores_choices_independently():
    model = MultipleChoiceClassifier(tiny_encoder())
    inputs = {k: v.reshape(2, 3, 10) for k, v in random_inputs(6, 10).items()}
    logits = np.asarray(model(inputs))
    swapped = {k: v[:, ::-1] for k, v in inputs.items()}
    np.testing.assert_allclose(np.asarray(model(swapped)), logits[:, ::-1], atol=1e-5)


def test_encoder_composes_inside_a_functional_model():
    encoder = tiny_encoder()
    inputs = {
        name: keras.Input((None,), dtype="int32", name=name)
        for name in encoder.input_names
    }
    sequence = encoder(inputs)["sequence_output"]
    features = keras.layers.GlobalAveragePooling1D()(sequence)
    hidden = keras.layers.Dense(8)
    classifier = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, classifier(hidden(features)))
    assert model.count_params() == encoder.count_params() + (16 * 8 + 8) + (8 * 2 + 2)
    # The model computes the encoder alone followed by the head, here in NumPy.
    data = random_inputs()
    features = np.asarray(encoder(data)["sequence_output"], np.float64).mean(axis=1)
    logits = _dense(classifier, _dense(hidden, features))
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(model(data), expected, atol=1e-6)


def _classification_dataset(batch_size=8, length=12, examples=64):
    """A learnable toy task: is token 7 present in the sequence?"""
    rng = np.random.default_rng(0)
    ids = rng.integers(8, 97, size=(examples, length)).astype(np.int32)
    labels = rng.integers(0, 2, size=examples).astype(np.int32)
    ids[labels == 1, rng.integers(1, length, size=int(labels.sum()))] = 7
    features = {
        "input_ids": ids,
        "input_mask": np.ones_like(ids),
        "segment_ids": np.zeros_like(ids),
    }
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    return dataset.shuffle(examples, seed=0).batch(batch_size, drop_remainder=True)


def _fit(jit_compile: bool, epochs: int = 8):
    keras.utils.set_random_seed(0)
    model = SequenceClassifier(tiny_encoder(), num_classes=2, dropout_rate=0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    history = model.fit(_classification_dataset(), epochs=epochs, verbose=0)
    return model, history.history["loss"]


def test_fit_on_tf_data_learns():
    _, losses = _fit(jit_compile=False)
    assert losses[-1] < 0.5 * losses[0]


def test_xla_compiled_train_step_learns():
    _, losses = _fit(jit_compile=True)
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]


def test_mixed_bfloat16_policy():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    encoder = tiny_encoder()
    outputs = encoder(random_inputs())
    assert outputs["sequence_output"].dtype == tf.bfloat16
    assert all(v.dtype == "float32" for v in encoder.weights)
    model = MaskedLanguageModel(encoder, sentence_task="nsp")
    logits = model(mlm_inputs())
    assert logits["mlm_logits"].dtype == tf.float32
    _, losses = _fit(jit_compile=True, epochs=8)
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0]


def test_mixed_bfloat16_keeps_layer_norm_and_softmax_in_float32(monkeypatch):
    """The attention softmax and the LayerNorms compute in float32 under
    mixed_bfloat16, and the outputs differ from float32 ones by rounding only.

    At width 16 the outputs differ by about as much (max 0.017-0.021 here)
    when the softmax and the LayerNorms run in bfloat16 too, so each is
    checked where bfloat16 would show: the dtype the softmax gets, and
    LayerNorm rows whose mean bfloat16 cannot hold.
    """
    encoder = tiny_encoder()
    inputs = random_inputs()
    reference = np.asarray(encoder(inputs)["sequence_output"])
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    low = tiny_encoder()
    low.set_weights(encoder.get_weights())
    softmax_dtypes = []
    softmax = keras.ops.softmax

    def recording_softmax(x, axis=-1):
        softmax_dtypes.append(keras.backend.standardize_dtype(x.dtype))
        return softmax(x, axis=axis)

    monkeypatch.setattr(keras.ops, "softmax", recording_softmax)
    result = np.asarray(tf.cast(low(inputs)["sequence_output"], tf.float32))
    assert softmax_dtypes == ["float32"] * low.num_layers
    # A few bfloat16 steps (2**-8 relative) of values up to ~3.
    assert np.max(np.abs(result - reference)) < 0.05

    # 15 x 1000.0 and one 1004.0 are exact in bfloat16; their mean 1000.25 is
    # not (it rounds to 1000), which moves bfloat16-normalized values by ~0.26.
    rows = np.full((2, 16), 1000.0, np.float32)
    rows[:, 0] = 1004.0
    normalized = (rows - rows.mean(-1, keepdims=True)) / rows.std(-1, keepdims=True)
    transformer = low.transformer
    for layer in [low.embeddings.layer_norm] + [
        block.layer_norm
        for block in transformer.attention_blocks + transformer.feed_forward_blocks
    ]:
        output = layer(tf.constant(rows, tf.bfloat16))
        assert output.dtype == tf.bfloat16
        output = np.asarray(tf.cast(output, tf.float32))
        gamma, beta = (np.asarray(w) for w in layer.get_weights())
        np.testing.assert_allclose(output, normalized * gamma + beta, atol=0.02)
