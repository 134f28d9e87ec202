"""Pretrainer models: objectives, ELECTRA corruption and sharing, serialization."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasbert.pretraining import ElectraPretrainer, build_pretrainer, summarize
from kerasbert.pretraining.corruption import (
    gumbel_max_sample,
    replace_with_mask,
    scatter_at_positions,
)
from kerasbert.pretraining.cross_entropy import sparse_cross_entropy_with_accuracy
from kerasbert.pretraining.objectives import (
    auc_from_histograms,
    binary_statistics,
    masked_lm_statistics,
)

ENCODER = dict(
    vocabulary_size=90,
    num_layers=2,
    num_heads=2,
    hidden_size=64,
    intermediate_size=128,
    embedding_size=32,
    max_sequence_length=32,
    dropout_rate=0.0,
    attention_dropout_rate=0.0,
)
MASK_ID = 4
SEED = tf.constant([3, 7], tf.int32)


def features(batch: int = 4, length: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Random pretraining features; the last prediction slot is padding."""
    rng = np.random.default_rng(seed)
    positions = np.stack(
        [np.sort(rng.choice(np.arange(1, 12), 3, replace=False)) for _ in range(batch)]
    ).astype(np.int32)
    input_mask = np.ones((batch, length), np.int32)
    input_mask[0, 12:] = 0
    return {
        "input_ids": rng.integers(5, 90, (batch, length)).astype(np.int32) * input_mask,
        "input_mask": input_mask,
        "segment_ids": np.zeros((batch, length), np.int32),
        "masked_lm_positions": positions,
        "masked_lm_ids": rng.integers(5, 90, (batch, 3)).astype(np.int32),
        "masked_lm_weights": np.tile(np.array([1, 1, 0], np.float32), (batch, 1)),
        "next_sentence_labels": rng.integers(0, 2, (batch, 1)).astype(np.int32),
    }


def test_masked_lm_statistics_match_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 3, 7)).astype(np.float32)
    labels = rng.integers(0, 7, (2, 3))
    weights = np.array([[1, 1, 0], [1, 0, 0]], np.float32)
    total, sums = masked_lm_statistics(logits, labels, weights)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(float(total), -(picked * weights).sum(), rtol=1e-5)
    correct = ((logits.argmax(-1) == labels) * weights).sum()
    assert float(sums["mlm_accuracy:num"]) == correct
    assert float(sums["mlm_accuracy:den"]) == 3.0


@pytest.mark.parametrize("jit_compile", [False, True])
def test_cross_entropy_gradient_matches_tensorflows_kernel(jit_compile):
    rng = np.random.default_rng(2)
    logits = tf.constant(rng.normal(size=(3, 4, 50)).astype(np.float32) * 4)
    labels = tf.constant(rng.integers(0, 50, (3, 4)).astype(np.int32))
    weights = tf.constant(rng.random((3, 4)).astype(np.float32))

    def loss_and_gradient(loss_fn):
        @tf.function(jit_compile=jit_compile)
        def run(logits):
            with tf.GradientTape() as tape:
                tape.watch(logits)
                loss = tf.reduce_sum(loss_fn(logits) * weights)
            return loss, tape.gradient(loss, logits)

        return run(logits)

    ours = loss_and_gradient(lambda x: sparse_cross_entropy_with_accuracy(x, labels)[0])
    reference = loss_and_gradient(
        lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels, x)
    )
    np.testing.assert_allclose(ours[0], reference[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], reference[1], atol=1e-6)


def test_auc_from_histograms_matches_pairwise_ranking():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(1, 400)).astype(np.float32)
    labels = (rng.random((1, 400)) < 1 / (1 + np.exp(-2 * logits))).astype(np.int32)
    _, sums = binary_statistics(logits, labels, np.ones_like(labels), "rtd")
    auc = summarize({k: v.numpy() for k, v in sums.items()})["rtd_auc"]
    positive, negative = logits[labels == 1], logits[labels == 0]
    exact = (positive[:, None] > negative[None, :]).mean()
    assert abs(auc - exact) < 0.01
    assert auc_from_histograms(np.array([0, 1]), np.array([1, 0])) == 1.0
    assert np.isnan(auc_from_histograms(np.zeros(2), np.ones(2)))


@pytest.mark.parametrize(
    "kind, objectives",
    [
        ("bert", {"mlm", "nsp"}),
        ("albert", {"mlm", "sop"}),
        ("roberta", {"mlm"}),
        ("electra", {"mlm", "rtd"}),
    ],
)
def test_every_kind_reports_its_objectives(kind, objectives):
    model = build_pretrainer(kind, ENCODER, mask_token_id=MASK_ID)
    assert set(model.objective_weights) == objectives
    batch = features()
    totals, sums = model.compute_statistics(batch, training=True, seed=SEED)
    counts = model.objective_counts(batch)
    assert set(totals) == set(counts) == objectives
    assert float(counts["mlm"]) == 8.0
    metrics = summarize({k: v.numpy() for k, v in sums.items()})
    assert all(np.isfinite(v) for v in metrics.values())
    # Random initialisation: per-token MLM loss near log(vocab).
    assert abs(metrics["mlm_loss"] - np.log(90)) < 1.0


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "xla"])
@pytest.mark.parametrize("kind", ["bert", "albert", "roberta"])
def test_training_outputs_and_gradients_equal_the_full_forward(kind, jit_compile):
    """``masked_outputs`` runs the last block at the read positions only."""
    model = build_pretrainer(kind, dict(ENCODER, num_layers=3, num_groups=None))
    batch = features()
    inputs = {
        name: tf.constant(batch[name])
        for name in (*model.encoder.input_names, "masked_lm_positions")
    }

    @tf.function(jit_compile=jit_compile)
    def outputs_and_gradients(masked: bool):
        with tf.GradientTape() as tape:
            outputs = (model.masked_outputs if masked else model)(inputs)
            loss = tf.add_n([tf.reduce_sum(o**2) for o in outputs.values()])
        return outputs, tape.gradient(loss, model.trainable_variables)

    expected, expected_gradients = outputs_and_gradients(False)
    actual, actual_gradients = outputs_and_gradients(True)
    assert set(actual) == set(expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], atol=1e-5)
    for a, e, v in zip(
        actual_gradients, expected_gradients, model.trainable_variables, strict=True
    ):
        if e is None:
            assert a is None, v.path
            continue
        np.testing.assert_allclose(
            tf.convert_to_tensor(a), tf.convert_to_tensor(e), atol=1e-5, err_msg=v.path
        )


def test_electra_generator_computes_only_the_masked_positions():
    model = build_pretrainer("electra", ENCODER, mask_token_id=MASK_ID)
    batch = features()
    outputs = model(batch, seed=SEED)
    # The generator's MLM logits equal the full generator output gathered at
    # the masked positions (same [MASK]ed input: mask_seed from the same SEED).
    mask_seed, _ = tf.unstack(tf.random.experimental.stateless_split(SEED, 2))
    positions = tf.constant(batch["masked_lm_positions"])
    weights = batch["masked_lm_weights"]
    original = scatter_at_positions(
        batch["input_ids"], positions, batch["masked_lm_ids"], weights
    )
    masked = replace_with_mask(original, positions, weights, MASK_ID, 0.85, mask_seed)
    inputs = {name: tf.constant(batch[name]) for name in model.generator.input_names}
    full = model.generator({**inputs, "input_ids": masked})["sequence_output"]
    expected = model.generator_head(full, positions)
    np.testing.assert_allclose(outputs["mlm_logits"], expected, atol=1e-5)


@pytest.mark.parametrize("kind", ["albert", "electra"])
def test_keras_file_round_trip(kind, tmp_path):
    model = build_pretrainer(kind, ENCODER, mask_token_id=MASK_ID)
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    batch = features()
    expected, _ = model.compute_statistics(batch, training=False, seed=SEED)
    actual, _ = restored.compute_statistics(batch, training=False, seed=SEED)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-6)


def test_masked_lm_pretrainer_rejects_missing_features():
    model = build_pretrainer("bert", ENCODER)
    batch = features()
    del batch["next_sentence_labels"]
    with pytest.raises(KeyError, match="next_sentence_labels"):
        model.compute_statistics(batch, training=False)


def test_build_pretrainer_validates_options():
    with pytest.raises(ValueError, match="kind"):
        build_pretrainer("xlnet", ENCODER)
    with pytest.raises(ValueError, match="mask_token_id"):
        build_pretrainer("electra", ENCODER)
    with pytest.raises(ValueError, match="only apply to ELECTRA"):
        build_pretrainer("bert", ENCODER, rtd_weight=10.0)
    with pytest.raises(ValueError, match="Unknown encoder options"):
        build_pretrainer("electra", {**ENCODER, "hidden": 3}, mask_token_id=MASK_ID)


def test_scatter_writes_only_weighted_slots():
    tokens = tf.constant([[10, 11, 12, 13]])
    out = scatter_at_positions(tokens, [[2, 0]], [[99, 98]], [[1.0, 0.0]])
    np.testing.assert_array_equal(out, [[10, 11, 99, 13]])


@pytest.mark.parametrize(
    "rate, expected", [(1.0, [[10, 4, 4, 13]]), (0.0, [[10, 11, 12, 13]])]
)
def test_mask_positions_masks_or_keeps(rate, expected):
    tokens = tf.constant([[10, 11, 12, 13]])
    out = replace_with_mask(tokens, [[1, 2]], [[1.0, 1.0]], MASK_ID, rate, SEED)
    np.testing.assert_array_equal(out, expected)


def test_mask_positions_masks_about_85_percent():
    tokens = tf.fill([200, 20], 10)
    positions = tf.tile(tf.range(20)[None], [200, 1])
    out = replace_with_mask(tokens, positions, tf.ones([200, 20]), MASK_ID, 0.85, SEED)
    assert 0.82 < float(tf.reduce_mean(tf.cast(out == MASK_ID, tf.float32))) < 0.88


def test_gumbel_max_samples_follow_the_softmax():
    probabilities = np.array([0.6, 0.3, 0.1, 0.0], np.float32)
    logits = np.log(np.maximum(probabilities, 1e-30))
    samples = gumbel_max_sample(np.tile(logits, (20000, 1)), SEED).numpy()
    frequencies = np.bincount(samples, minlength=4) / samples.size
    np.testing.assert_allclose(frequencies, probabilities, atol=0.015)


def test_electra_shares_embeddings_and_sizes_the_generator():
    model = ElectraPretrainer(
        {**ENCODER, "hidden_size": 256, "num_heads": 4, "intermediate_size": 512},
        MASK_ID,
    )
    generator, discriminator = model.generator, model.discriminator
    assert generator.hidden_size == 64 and generator.num_heads == 1
    assert generator.intermediate_size == 128
    token_tables = [v for v in model.weights if v.shape == (90, 32)]
    assert len(token_tables) == 1  # one [vocab, E] matrix, shared and tied
    assert model.generator_head._tied.layer is discriminator.token_embedding
    assert generator.embeddings.projection.units == 64
    assert discriminator.embeddings.projection.units == 256


def test_electra_encoders_share_the_same_embedding_variables():
    model = ElectraPretrainer(ENCODER, MASK_ID)
    generator, discriminator = (
        model.generator.embeddings,
        model.discriminator.embeddings,
    )
    for name in ("token_embedding", "segment_embedding", "layer_norm", "dropout"):
        assert getattr(generator, name) is getattr(discriminator, name), name
    assert generator.position_embeddings is discriminator.position_embeddings
    shared = {id(v) for v in discriminator.weights} - {
        id(v) for v in discriminator.projection.weights
    }
    owned = {id(v) for v in generator.weights} - {
        id(v) for v in generator.projection.weights
    }
    assert owned == shared
    # Each variable once in the model, so the optimizer updates it once.
    ids = [id(v) for v in model.trainable_variables]
    assert len(ids) == len(set(ids))


def test_electra_corrupts_only_selected_positions():
    model = ElectraPretrainer(ENCODER, MASK_ID)
    batch = features()
    outputs = model(batch, seed=SEED)
    original = scatter_at_positions(
        batch["input_ids"],
        batch["masked_lm_positions"],
        batch["masked_lm_ids"],
        batch["masked_lm_weights"],
    ).numpy()
    corrupted = outputs["corrupted_ids"].numpy()
    selected = np.zeros_like(original, bool)
    for row, cols in enumerate(batch["masked_lm_positions"][:, :2]):
        selected[row, cols] = True
    np.testing.assert_array_equal(corrupted[~selected], original[~selected])
    np.testing.assert_array_equal(outputs["rtd_labels"], corrupted != original)
    assert outputs["rtd_logits"].shape == (4, 16)
    assert outputs["mlm_logits"].shape == (4, 3, 90)


def test_electra_sample_carries_no_gradient_to_the_generator():
    model = ElectraPretrainer(ENCODER, MASK_ID)
    batch = features()
    with tf.GradientTape() as tape:
        totals, _ = model.compute_statistics(batch, training=True, seed=SEED)
    generator_variables = model.generator.transformer.trainable_variables
    gradients = tape.gradient(totals["rtd"], generator_variables)
    assert all(g is None for g in gradients)


def test_electra_fine_tuning_encoder_is_the_saved_discriminator(tmp_path):
    model = ElectraPretrainer(ENCODER, MASK_ID)
    batch = features()
    encoder = model.fine_tuning_encoder
    assert encoder is model.discriminator
    expected = model.discriminator.encode_positions(batch)
    inputs = {name: batch[name] for name in encoder.input_names}
    np.testing.assert_allclose(encoder(inputs)["sequence_output"], expected, atol=1e-5)
    encoder.save(tmp_path / "discriminator.keras")
    reloaded = keras.models.load_model(tmp_path / "discriminator.keras")
    assert type(reloaded) is type(encoder) and not reloaded.embeddings.shares_tables
    for saved, original in zip(reloaded.weights, encoder.weights, strict=True):
        np.testing.assert_array_equal(saved.numpy(), original.numpy(), original.path)
    np.testing.assert_array_equal(reloaded(inputs)["sequence_output"], expected)
    # It stays an ELECTRA discriminator for the checkpoint writers.
    assert encoder.architecture == reloaded.architecture == "electra"


def test_old_style_configs_load_the_same_models():
    """Configs saved before ``dropout`` became ``dropout_rate`` still load."""
    encoder = build_pretrainer("roberta", ENCODER).encoder
    old = dict(encoder.get_config())
    old["dropout"] = old.pop("dropout_rate")
    old["attention_dropout"] = old.pop("attention_dropout_rate")
    restored = type(encoder).from_config(old)
    assert restored.get_config() == encoder.get_config()
    electra = ElectraPretrainer(ENCODER, MASK_ID)
    config = electra.get_config()
    old_discriminator = {
        "dropout" if key == "dropout_rate" else key: value
        for key, value in config["discriminator"].items()
    }
    restored = ElectraPretrainer.from_config(
        {**config, "discriminator": old_discriminator}
    )
    assert restored.get_config() == config
    with pytest.raises(ValueError, match="dropout is now dropout_rate"):
        type(encoder)(**old)


@pytest.mark.parametrize("kind", ["bert", "albert", "roberta", "electra"])
def test_model_only_checkpoint_holds_every_weight(kind, tmp_path):
    """``tf.train.Checkpoint(model=...)`` saves and restores all weights.

    Keras 3 drops layers held in lists (the transformer blocks) from the
    checkpoint graph unless they are tracked explicitly.
    """
    options = {"mask_token_id": MASK_ID} if kind == "electra" else {}
    encoder = {**ENCODER, "num_groups": 1} if kind == "albert" else ENCODER
    keras.utils.set_random_seed(1)
    source = build_pretrainer(kind, encoder, **options)
    path = tf.train.Checkpoint(model=source).save(str(tmp_path / "ckpt"))
    keras.utils.set_random_seed(2)
    target = build_pretrainer(kind, encoder, **options)
    tf.train.Checkpoint(model=target).restore(path).assert_consumed()
    for restored, original in zip(target.weights, source.weights, strict=True):
        np.testing.assert_array_equal(restored.numpy(), original.numpy(), original.path)
