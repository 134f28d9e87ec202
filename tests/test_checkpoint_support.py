"""Helpers shared by the checkpoint tests, and tests of the mapping engine itself."""

import numpy as np
import pytest

from kerasbert import Encoder
from kerasbert.checkpoints.mapping import (
    RESHAPE,
    TRANSPOSE,
    Rule,
    export_tensors,
    load_into,
    offset_rows,
    variable_arrays,
)

TINY = dict(
    vocabulary_size=99,
    num_layers=2,
    num_heads=4,
    hidden_size=32,
    intermediate_size=48,
    max_sequence_length=24,
    dropout=0.0,
    attention_dropout=0.0,
)


def randomize(model, seed: int = 0) -> None:
    """Gives every variable distinct random values (no all-ones LayerNorms)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.2, variable.shape).astype(np.float32))


def padded_batch(
    vocabulary_size: int,
    length: int = 12,
    batch: int = 4,
    segments: int = 2,
    pad_id: int = 0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """int32 inputs with different right-padding per row; real ids avoid ``pad_id``."""
    rng = np.random.default_rng(seed)
    lengths = np.array([length, length - 3, 5, 2][:batch])
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = rng.integers(2, vocabulary_size, size=(batch, length)).astype(np.int32)
    inputs = {"input_ids": np.where(mask == 1, ids, pad_id), "input_mask": mask}
    if segments:
        segment_ids = rng.integers(0, segments, size=(batch, length)).astype(np.int32)
        inputs["segment_ids"] = segment_ids * mask
    return inputs


def assert_same_weights(first, second) -> None:
    """Bit-exact equality of every variable, matched by path."""
    a, b = variable_arrays(first), variable_arrays(second)
    assert sorted(a) == sorted(b)
    for path in a:
        assert a[path].dtype == b[path].dtype, path
        assert np.array_equal(a[path], b[path]), path


def max_difference(actual, expected, mask) -> float:
    """Largest |actual - expected| over the real (mask == 1) tokens."""
    real = np.asarray(mask).astype(bool)
    return float(np.abs(np.asarray(actual)[real] - np.asarray(expected)[real]).max())


def test_codecs_invert_exactly():
    rng = np.random.default_rng(1)
    array = rng.normal(size=(6, 4)).astype(np.float32)
    for codec, foreign_shape in (
        (TRANSPOSE, None),
        (RESHAPE, (6, 2, 2)),
        (offset_rows(2), None),
    ):
        foreign = codec.from_kerasbert(array, foreign_shape)
        assert np.array_equal(codec.to_kerasbert(foreign, array.shape), array)
    padded = offset_rows(2).from_kerasbert(array, None)
    assert padded.shape == (8, 4) and not padded[:2].any()


def _encoder():
    return Encoder(
        vocabulary_size=5,
        num_layers=1,
        num_heads=1,
        hidden_size=2,
        intermediate_size=3,
        max_sequence_length=4,
        type_vocabulary_size=0,
        use_pooler=False,
    )


def _identity_rules(encoder):
    return [Rule(path, (f"x/{path}",)) for path in variable_arrays(encoder)]


def test_load_into_lists_every_problem_and_assigns_nothing():
    encoder = _encoder()
    before = variable_arrays(encoder)
    rules = _identity_rules(encoder)
    tensors = {rule.names[0]: np.ones(before[rule.path].shape) for rule in rules}
    tensors["x/embeddings/position_embeddings"] = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"position_embeddings \(3, 2\)"):
        load_into(encoder, tensors, rules)
    tensors.pop("x/embeddings/layer_norm/beta")
    tensors["stray"] = np.zeros(1)
    with pytest.raises(ValueError) as error:
        load_into(encoder, tensors, rules)
    assert "x/embeddings/layer_norm/beta" in str(error.value)
    assert "stray" in str(error.value)
    after = variable_arrays(encoder)
    for path in before:
        assert np.array_equal(before[path], after[path])
    tensors["x/embeddings/layer_norm/beta"] = np.ones(2)
    tensors["x/embeddings/position_embeddings"] = np.ones((4, 2))
    load_into(encoder, tensors, rules, ignore=lambda name: name == "stray")
    assert all(np.all(array == 1) for array in variable_arrays(encoder).values())


def test_export_names_parts_the_format_cannot_hold():
    encoder = _encoder()
    rules = [r for r in _identity_rules(encoder) if "layer_norm/beta" not in r.path]
    with pytest.raises(ValueError, match="embeddings/layer_norm/beta"):
        export_tensors(encoder, rules)
    tensors = export_tensors(
        encoder, rules, droppable=lambda path, array: path.endswith("beta")
    )
    assert len(tensors) == len(rules)
