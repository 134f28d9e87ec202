"""Task heads on the encoder: shapes, tying, masking, saving, fit, bf16, XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_ENCODER, random_inputs

from kerasbert import (
    Encoder,
    MaskedLanguageModel,
    MultipleChoiceClassifier,
    SentenceEncoder,
    SequenceClassifier,
    SpanQuestionAnswerer,
    TokenClassifier,
)
from kerasbert.layers.pooling import SequencePooling


def tiny_encoder(**overrides) -> Encoder:
    return Encoder(**dict(TINY_ENCODER, **overrides))


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

EXPECTED_SHAPES = {
    "sequence": (3, 3),
    "sequence_mean": (3, 1),
    "token": (3, 10, 5),
    "span": {"start_logits": (3, 10), "end_logits": (3, 10)},
    "choice": (2, 3),
    "sentence": (3, 16),
    "mlm_nsp": {"mlm_logits": (3, 4, 97), "sentence_logits": (3, 2)},
    "mlm_albert_sop": {"mlm_logits": (3, 4, 97), "sentence_logits": (3, 2)},
}


def _shapes(outputs):
    if isinstance(outputs, dict):
        return {k: tuple(v.shape) for k, v in outputs.items()}
    return tuple(outputs.shape)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_output_shapes_are_float32(task):
    build, make_inputs = TASKS[task]
    outputs = build()(make_inputs())
    assert _shapes(outputs) == EXPECTED_SHAPES[task]
    for tensor in keras.tree.flatten(outputs):
        assert tensor.dtype == tf.float32


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
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.Dense(8)(features)
    )
    model = keras.Model(inputs, outputs)
    assert model(random_inputs()).shape == (3, 2)
    assert model.count_params() == encoder.count_params() + (16 * 8 + 8) + (8 * 2 + 2)


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
    model = SequenceClassifier(tiny_encoder(), num_classes=2, dropout=0.0)
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


def test_mixed_bfloat16_keeps_layer_norm_and_softmax_in_float32():
    """bf16 outputs stay close to float32 ones: the sensitive parts are in float32."""
    encoder = tiny_encoder()
    inputs = random_inputs()
    reference = np.asarray(encoder(inputs)["sequence_output"])
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    low = tiny_encoder()
    low.set_weights(encoder.get_weights())
    result = np.asarray(tf.cast(low(inputs)["sequence_output"], tf.float32))
    assert np.max(np.abs(result - reference)) < 0.1
