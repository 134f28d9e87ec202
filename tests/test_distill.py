"""DistilBERT: student construction, losses, masking, the Distiller, the CLI."""

import argparse
import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_helpers import ENCODER_H16, random_inputs

from kerasbert import Encoder, MaskedLanguageModel
from kerasbert.distillation import (
    Distiller,
    build_student,
    build_student_mlm,
    cosine_loss,
    default_layer_map,
    distillation_dataset,
    hidden_mse_loss,
    masked_lm_loss,
    soft_target_loss,
)
from kerasbert.tokenizers import BertWordPieceTokenizer
from kerasbert.training import create_optimizer
from kerasbert.training.resumable import fit_resumable
from kerasbert_cli.commands import distill as distill_command

TEACHER = {**ENCODER_H16, "num_layers": 4}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "dog", "sat", "on", "mat", "ran", "a", "big", "small"]
VOCABULARY = SPECIALS + WORDS + [f"w{i}" for i in range(97 - 15)]
SENTENCES = [
    "the cat sat on the mat",
    "a dog ran",
    "the big dog sat on a small mat",
    "a small cat ran on the mat",
    "the dog sat",
    "a big cat",
    "the small dog ran on a big mat",
    "a cat sat on the dog",
]


def teacher_encoder(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return Encoder(**{**TEACHER, **overrides})


def single_segment(inputs):
    return {**inputs, "segment_ids": np.zeros_like(inputs["input_ids"])}


def test_default_layer_map_takes_every_other_block():
    assert default_layer_map(6) == [0, 2, 4]
    assert default_layer_map(12) == [0, 2, 4, 6, 8, 10]


def test_student_config_and_copied_blocks():
    teacher = teacher_encoder()
    student = build_student(teacher, [1, 3])
    assert student.num_layers == 2
    assert student.type_vocabulary_size == 0 and not student.use_pooler
    assert student.input_names == ("input_ids", "input_mask")
    for student_index, teacher_index in enumerate([1, 3]):
        pairs = zip(
            student.transformer.block_sublayers(student_index),
            teacher.transformer.block_sublayers(teacher_index),
            strict=True,
        )
        for student_layer, teacher_layer in pairs:
            for s, t in zip(
                student_layer.get_weights(), teacher_layer.get_weights(), strict=True
            ):
                np.testing.assert_array_equal(s, t)


def test_folded_segment_embedding_reproduces_the_teacher():
    teacher = teacher_encoder()
    inputs = random_inputs(with_segments=False)
    expected = teacher(single_segment(inputs))["sequence_output"]
    full_copy = build_student(teacher, range(TEACHER["num_layers"]))
    np.testing.assert_allclose(
        full_copy(inputs)["sequence_output"], expected, atol=1e-5
    )
    unfolded = build_student(
        teacher, range(TEACHER["num_layers"]), fold_segment_embeddings=False
    )
    assert not np.allclose(unfolded(inputs)["sequence_output"], expected, atol=1e-3)


@pytest.mark.parametrize(
    "overrides, layer_map, message",
    [
        ({"num_groups": 1}, None, "shares parameters"),
        ({}, [0, 4], "outside"),
        ({}, [], "at least one"),
    ],
)
def test_build_student_rejects_bad_requests(overrides, layer_map, message):
    with pytest.raises(ValueError, match=message):
        build_student(teacher_encoder(**overrides), layer_map)


def test_student_mlm_copies_the_head_and_stays_tied():
    teacher = MaskedLanguageModel(teacher_encoder())
    student = build_student_mlm(teacher)
    for s, t in zip(
        student.get_layer("mlm_head").get_weights(),
        teacher.get_layer("mlm_head").get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(s, t)
    head = student.get_layer("mlm_head")
    assert head._tied.layer is student.encoder.token_embedding


def test_soft_target_loss_is_scaled_kl():
    rng = np.random.default_rng(0)
    student = rng.normal(size=(2, 3, 7)).astype(np.float32)
    teacher = rng.normal(size=(2, 3, 7)).astype(np.float32)
    weights = np.array([[1, 1, 0], [1, 0, 0]], np.float32)
    t = 2.0

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    p, q = softmax(teacher / t), softmax(student / t)
    kl = (p * (np.log(p) - np.log(q))).sum(-1)
    expected = (kl * weights).sum() / weights.sum() * t**2
    assert float(soft_target_loss(student, teacher, weights, t)) == pytest.approx(
        expected, rel=1e-5
    )
    assert float(soft_target_loss(teacher, teacher, weights, t)) == pytest.approx(
        0.0, abs=1e-6
    )


def test_masked_lm_loss_ignores_unweighted_slots():
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [1e-9, 1e-9, 1.0]]], np.float32))
    labels = np.array([[0, 0]])
    loss = masked_lm_loss(logits, labels, np.array([[1.0, 0.0]]))
    assert float(loss) == pytest.approx(np.log(2.0), rel=1e-5)


def test_cosine_and_hidden_mse_losses():
    a = tf.constant([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    b = tf.constant([[[2.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]])
    mask = tf.constant([[1, 1, 0]])
    # token 0: cos 1 -> 0; token 1: cos 0 -> 1; token 2 is padding.
    assert float(cosine_loss(a, b, mask)) == pytest.approx(0.5)
    # squared errors per token (mean over H): (1 + 0) / 2, (1 + 1) / 2.
    assert float(hidden_mse_loss([a], [b], mask)) == pytest.approx(0.75)
    assert float(hidden_mse_loss([a, a], [a, b], mask)) == pytest.approx(0.375)
    with pytest.raises(ValueError, match="equally many"):
        hidden_mse_loss([a], [a, b], mask)


def tokenizer():
    return BertWordPieceTokenizer(VOCABULARY)


def test_distiller_mlm_training_reduces_the_loss():
    # A large initializer makes the teacher's predictions far from uniform.
    teacher = MaskedLanguageModel(teacher_encoder(initializer_range=0.5))
    student = build_student_mlm(teacher)
    # Perturb the student so there is something to learn.
    rng = np.random.default_rng(0)
    student.encoder.transformer.set_weights(
        [
            w + rng.normal(scale=0.2, size=w.shape)
            for w in student.encoder.transformer.get_weights()
        ]
    )
    distiller = Distiller(teacher, student, default_layer_map(4))
    dataset = distillation_dataset(
        SENTENCES, tokenizer(), sequence_length=12, batch_size=8, seed=0
    )
    batch = next(iter(dataset))
    before = {k: float(v) for k, v in distiller.compute_losses(batch).items()}
    assert set(before) == {"soft_target", "mlm", "cosine", "total"}
    distiller.compile(optimizer=create_optimizer("adamw", 3e-3, 30))
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    distiller.fit(
        dataset.repeat(), steps_per_epoch=30, epochs=1, verbose=0, shuffle=False
    )
    after = {k: float(v) for k, v in distiller.compute_losses(batch).items()}
    assert after["soft_target"] < before["soft_target"]
    assert after["cosine"] < before["cosine"]
    for before_weight, after_weight in zip(
        teacher_weights, teacher.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(before_weight, after_weight)


def test_distiller_hidden_mse_for_encoders_and_round_trip(tmp_path):
    teacher = teacher_encoder()
    student = build_student(teacher)
    distiller = Distiller(
        teacher,
        student,
        [0, 2],
        soft_target_weight=0,
        mlm_weight=0,
        cosine_weight=1,
        hidden_mse_weight=1,
    )
    batch = random_inputs(with_segments=False)
    losses = distiller.compute_losses(batch)
    assert set(losses) == {"cosine", "hidden_mse", "total"}
    # Block 0 of the student is teacher block 0 exactly: its MSE term is 0,
    # the block-1 term (teacher block 2 vs. student block 1 on block-0 input)
    # is not.
    assert float(losses["hidden_mse"]) > 0
    distiller(batch)
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, Distiller)
    assert restored.layer_map == [0, 2]
    assert restored.loss_weights == distiller.loss_weights
    np.testing.assert_allclose(restored(batch), distiller(batch), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "need MaskedLanguageModel"),
        (dict(soft_target_weight=0, mlm_weight=0, cosine_weight=0), "At least one"),
        (dict(soft_target_weight=0, mlm_weight=0, temperature=0), "temperature"),
    ],
)
def test_distiller_rejects_bad_configurations(kwargs, message):
    teacher = teacher_encoder()
    with pytest.raises(ValueError, match=message):
        Distiller(teacher, build_student(teacher), [0, 2], **kwargs)


def test_fit_resumable_resumes_after_interruption(tmp_path):
    teacher = teacher_encoder()
    distiller = Distiller(
        teacher, build_student(teacher), [0, 2], soft_target_weight=0, mlm_weight=0
    )
    dataset = distillation_dataset(
        SENTENCES, tokenizer(), sequence_length=12, batch_size=4, masked_lm=False
    )
    distiller.compile(optimizer=create_optimizer("adamw", 1e-3, 6))
    distiller(next(iter(dataset)))

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        distiller.fit(
            dataset.repeat(),
            epochs=3,
            steps_per_epoch=2,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(str(backup)), Interrupt()],
        )
    assert int(distiller.optimizer.iterations) == 4
    distiller.optimizer.iterations.assign(0)  # as in a fresh process
    fit_resumable(distiller, dataset, 6, backup, checkpoint_every=2, progress=False)
    assert int(distiller.optimizer.iterations) == 6
    assert not backup.exists()


def parse_command(argv):
    parser = argparse.ArgumentParser()
    distill_command.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_distill_cli_with_an_mlm_teacher(tmp_path):
    teacher = MaskedLanguageModel(teacher_encoder())
    teacher.save(tmp_path / "teacher.keras")
    (tmp_path / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(SENTENCES * 2) + "\n")
    output = tmp_path / "out"
    args = parse_command(
        ["distill", "--teacher", str(tmp_path / "teacher.keras")]
        + ["--texts", str(texts), "--output", str(output)]
        + ["--batch-size", "4", "--sequence-length", "12", "--layers", "1,3"]
    )
    assert args.func(args) == 0
    student = keras.saving.load_model(output / "student.keras")
    assert isinstance(student, Encoder) and student.num_layers == 2
    assert isinstance(
        keras.saving.load_model(output / "student_mlm.keras"), MaskedLanguageModel
    )
    report = json.loads((output / "distill.json").read_text())
    assert report["layer_map"] == [1, 3] and report["steps"] == 4
    assert report["loss_weights"]["soft_target"] == 5.0
    assert (output / "vocab.txt").read_text().split() == VOCABULARY
    assert not (output / "backup").exists()


def test_loss_weights_default_to_what_the_help_says(capsys):
    with pytest.raises(SystemExit):
        parse_command(["distill", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    documented = re.search(r"defaults: (\S+) with an MLM head, else (\S+)\)", text)
    required = ["distill", "--teacher", "t.keras", "--texts", "t.txt", "--output", "o"]
    args = parse_command(required)
    names = ("soft_target", "mlm", "cosine", "hidden_mse")
    for has_head, weights in zip((True, False), documented.groups(), strict=True):
        resolved = distill_command.default_loss_weights(args, has_head)
        assert [resolved[name] for name in names] == [
            float(weight) for weight in weights.split("/")
        ]
    given = parse_command([*required, "--mlm-weight", "0.5"])
    assert distill_command.default_loss_weights(given, True)["mlm"] == 0.5
