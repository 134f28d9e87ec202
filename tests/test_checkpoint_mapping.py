"""The mapping engine: codecs, loading by rules, exporting by rules."""

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
