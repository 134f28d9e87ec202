"""The training loop, optimizer schedule, XLA / bfloat16 readiness and CLI errors."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from pretrain_helpers import make_tiny_build, pretrain_args

from kerasbert.pretraining import build_pretrainer
from kerasbert.training import (
    Trainer,
    TrainerConfig,
    TrainingDataError,
    WarmupLinearDecay,
    create_optimizer,
)
from kerasbert_cli.commands import pretrain

ENCODER = dict(
    vocabulary_size=50,
    num_layers=2,
    num_heads=2,
    hidden_size=32,
    intermediate_size=64,
    max_sequence_length=16,
    dropout_rate=0.0,
    attention_dropout_rate=0.0,
)


def batches(count: int = 4, batch: int = 8, length: int = 16) -> dict[str, np.ndarray]:
    """``count`` fixed global batches of learnable features (labels = id % 2)."""
    rng = np.random.default_rng(0)
    size = count * batch
    ids = rng.integers(5, 50, (size, length)).astype(np.int32)
    positions = np.tile(np.array([2, 5, 9], np.int32), (size, 1))
    return {
        "input_ids": ids,
        "input_mask": np.ones((size, length), np.int32),
        "segment_ids": np.zeros((size, length), np.int32),
        "masked_lm_positions": positions,
        "masked_lm_ids": np.take_along_axis(ids, positions, 1),
        "masked_lm_weights": np.ones((size, 3), np.float32),
        "next_sentence_labels": (ids[:, :1] % 2).astype(np.int32),
    }


def dataset(batch: int = 8, repeat: bool = True) -> tf.data.Dataset:
    data = tf.data.Dataset.from_tensor_slices(batches(batch=batch))
    return (data.repeat() if repeat else data).batch(batch, drop_remainder=True)


def trainer(tmp_path, kind="bert", **config) -> Trainer:
    settings = dict(total_steps=40, learning_rate=3e-3, log_every=10, progress=False)
    return Trainer(
        lambda: build_pretrainer(kind, ENCODER, mask_token_id=4),
        TrainerConfig(**{**settings, **config}),
        str(tmp_path),
    )


def test_warmup_linear_decay_schedule():
    schedule = WarmupLinearDecay(1.0, total_steps=10, warmup_steps=2)
    values = [float(schedule(step)) for step in (0, 1, 2, 6, 10, 12)]
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0, 0.5, 0.0, 0.0], atol=1e-6)
    config = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(config)
    assert float(restored(6)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupLinearDecay(1.0, total_steps=10, warmup_steps=11)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_weight_decay_skips_biases_and_layer_norm(name):
    inputs = keras.Input((4,))
    outputs = keras.layers.LayerNormalization()(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, outputs)
    model.layers[1].bias.assign(np.ones(4))
    optimizer = create_optimizer(name, 0.1, total_steps=10, weight_decay=0.5)
    before = [v.numpy().copy() for v in model.trainable_variables]
    optimizer.apply(
        [tf.zeros_like(v) for v in model.trainable_variables],
        model.trainable_variables,
    )
    changed = {
        v.path: not np.allclose(v.numpy(), b)
        for v, b in zip(model.trainable_variables, before, strict=True)
    }
    assert len(changed) == 4
    assert all(moved == path.endswith("kernel") for path, moved in changed.items())


def test_training_learns_and_writes_its_outputs(tmp_path):
    summary = trainer(tmp_path).train(dataset())
    history = summary["history"]
    assert [row["step"] for row in history] == [10, 20, 30, 40]
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]
    assert history[-1]["nsp_accuracy"] > 0.7
    assert summary["final_step"] == 40 and summary["start_step"] == 0
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["final_metrics"]["step"] == 40
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "logs").glob("events.out.tfevents.*"))
    encoder = keras.models.load_model(tmp_path / "encoder.keras")
    assert encoder.count_params() > 0


def test_electra_run_saves_its_discriminator_as_the_encoder(tmp_path):
    run = trainer(tmp_path, "electra", total_steps=2, log_every=2)
    summary = run.train(dataset())
    assert {"mlm_loss", "rtd_loss", "rtd_auc"} <= set(summary["final_metrics"])
    saved = keras.models.load_model(tmp_path / "encoder.keras")
    discriminator = run.model.discriminator
    assert saved.get_config() == discriminator.get_config()
    for restored, trained in zip(saved.weights, discriminator.weights, strict=True):
        np.testing.assert_array_equal(restored.numpy(), trained.numpy(), trained.path)


def test_rerun_after_completion_resumes_at_the_end(tmp_path):
    trainer(tmp_path, total_steps=5, log_every=5).train(dataset())
    again = trainer(tmp_path, total_steps=5, log_every=5).train(dataset())
    assert again["start_step"] == 5 and again["history"] == []


def test_time_limit_stops_with_a_checkpoint_and_a_rerun_continues(tmp_path):
    # A limit far below one step's time: the run stops after its first step.
    first = trainer(tmp_path, total_steps=40, max_seconds=1e-6).train(dataset())
    assert first["stopped_by_time_limit"] and first["final_step"] == 1
    assert [row["step"] for row in first["history"]] == [1]
    second = trainer(tmp_path, total_steps=40).train(dataset())
    assert second["start_step"] == 1 and second["final_step"] == 40
    assert not second["stopped_by_time_limit"]


def test_time_limit_is_refused_for_several_workers(tmp_path):
    # An uninitialised instance: creating a real one would configure this
    # process's collectives for every later test; the check only needs the type.
    multiworker = object.__new__(tf.distribute.MultiWorkerMirroredStrategy)
    with pytest.raises(ValueError, match="single worker"):
        Trainer(
            lambda: build_pretrainer("bert", ENCODER),
            TrainerConfig(total_steps=4, max_seconds=60.0, progress=False),
            str(tmp_path),
            multiworker,
        )
    with pytest.raises(ValueError, match="max_seconds"):
        TrainerConfig(total_steps=4, max_seconds=0.0)


@pytest.mark.parametrize("kind", ["bert", "electra"])
def test_train_step_compiles_with_xla_under_mixed_bfloat16(kind, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    run = trainer(tmp_path, kind, total_steps=3, log_every=3, jit_compile=True)
    features = next(iter(dataset()))
    counts = run.model.objective_counts(features)
    seed = tf.constant([0, 0], tf.int32)
    # One replica: forward, backward, clipping and the optimizer in one cluster.
    hlo = run._compiled_update.experimental_get_compiler_ir(features, counts, seed)(
        stage="hlo"
    )
    assert "bf16" in hlo
    summary = run.train(dataset())
    assert np.isfinite(summary["final_metrics"]["loss"])


def test_unbatched_or_exhausted_data_is_a_clear_error(tmp_path):
    unbatched = tf.data.Dataset.from_tensor_slices(batches()).batch(8)
    with pytest.raises(ValueError, match="drop_remainder"):
        trainer(tmp_path / "a").train(unbatched)
    with pytest.raises(TrainingDataError, match="ran out at step 5"):
        trainer(tmp_path / "b").train(dataset(repeat=False))


def run_cli(argv: list[str]) -> int:
    return pretrain.main(argv)


def test_cli_reports_corrupt_and_missing_data(tmp_path, capsys):
    build, vocab = make_tiny_build(tmp_path / "records")
    shard = next(build.glob("*.tfrecord"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert run_cli(pretrain_args(build, vocab, tmp_path / "out", 2)) == 2
    assert shard.name in capsys.readouterr().err
    missing = pretrain_args(tmp_path / "nowhere", vocab, tmp_path / "out", 2)
    assert run_cli(missing) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_cli_config_file_and_flags(tmp_path, capsys):
    build, vocab = make_tiny_build(tmp_path / "records", task="mlm")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"kind": "albert", "steps": 2}))
    args = pretrain_args(build, vocab, tmp_path / "out", 2)
    assert run_cli([*args, "--config", str(config)]) == 2
    assert "--task mlm-sop" in capsys.readouterr().err
    config.write_text(json.dumps({"kind": "roberta", "steps": 100, "clip_norm": 0.5}))
    assert run_cli([*args, "--config", str(config), "--dynamic-masking"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["final_step"] == 2  # the flag wins over the file
    assert summary["config"]["clip_norm"] == 0.5  # the file wins over the default
    config.write_text(json.dumps({"stepz": 1}))
    assert run_cli([*args, "--config", str(config)]) == 2
    assert "stepz" in capsys.readouterr().err
