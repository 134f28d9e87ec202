"""DistilBERT students: half the teacher's blocks, initialised from the teacher."""

from __future__ import annotations

from collections.abc import Sequence

from kerasbert.models.encoder import Encoder
from kerasbert.models.masked_lm import MaskedLanguageModel


def default_layer_map(num_teacher_layers: int) -> list[int]:
    """Every other teacher block, starting at the first: 6 -> [0, 2, 4]."""
    return list(range(0, num_teacher_layers, 2))


def validate_layer_map(layer_map: Sequence[int], num_teacher_layers: int) -> list[int]:
    """``layer_map`` as a list, checked to be non-empty and in range."""
    layer_map = [int(index) for index in layer_map]
    if not layer_map:
        raise ValueError("layer_map must name at least one teacher block.")
    bad = [index for index in layer_map if not 0 <= index < num_teacher_layers]
    if bad:
        raise ValueError(
            f"layer_map entries {bad} are outside the teacher's "
            f"{num_teacher_layers} blocks."
        )
    return layer_map


def build_student(
    teacher: Encoder,
    layer_map: Sequence[int] | None = None,
    fold_segment_embeddings: bool = True,
) -> Encoder:
    """A DistilBERT student of ``teacher``, with weights copied from it.

    The student has the teacher's widths and vocabulary, ``len(layer_map)``
    blocks (block ``i`` starts as a copy of teacher block ``layer_map[i]``),
    no segment embeddings and no pooler (``type_vocabulary_size=0``,
    ``use_pooler=False``). Token embeddings, embedding LayerNorm, projection
    and (pre-LN) final LayerNorm are copied.

    Folding: a BERT teacher always adds a segment embedding, row 0 for
    single-segment inputs. With ``fold_segment_embeddings`` that row is added
    to every student position embedding, so on single-segment input the
    student's embedding output equals the teacher's exactly (and a student
    with ``layer_map = range(L)`` reproduces the teacher). Without folding the
    student starts off by the constant vector ``segment_embedding[0]``.

    Args:
        teacher: an unshared encoder (``num_groups == num_layers``).
        layer_map: teacher block per student block; defaults to
            ``default_layer_map(teacher.num_layers)`` (half the depth).
        fold_segment_embeddings: see above; ignored for teachers without
            segment embeddings.

    Raises:
        ValueError: for a teacher with shared parameter groups or a bad map.
    """
    if teacher.num_groups != teacher.num_layers:
        raise ValueError(
            "Distillation copies individual blocks; the teacher shares parameters "
            f"(num_groups={teacher.num_groups}, num_layers={teacher.num_layers})."
        )
    if layer_map is None:
        layer_map = default_layer_map(teacher.num_layers)
    layer_map = validate_layer_map(layer_map, teacher.num_layers)
    config = teacher.get_config()
    config.update(
        name=f"{teacher.name}_student",
        num_layers=len(layer_map),
        num_groups=None,
        type_vocabulary_size=0,
        use_pooler=False,
        output_hidden_states=False,
    )
    student = Encoder.from_config(config)
    _copy_embeddings(teacher, student, fold_segment_embeddings)
    for student_index, teacher_index in enumerate(layer_map):
        for source, target in zip(
            teacher.transformer.block_sublayers(teacher_index),
            student.transformer.block_sublayers(student_index),
            strict=True,
        ):
            target.set_weights(source.get_weights())
    if teacher.transformer.final_layer_norm is not None:
        student.transformer.final_layer_norm.set_weights(
            teacher.transformer.final_layer_norm.get_weights()
        )
    return student


def _copy_embeddings(teacher: Encoder, student: Encoder, fold: bool) -> None:
    source, target = teacher.embeddings, student.embeddings
    target.token_embedding.set_weights(source.token_embedding.get_weights())
    target.layer_norm.set_weights(source.layer_norm.get_weights())
    if source.projection is not None:
        target.projection.set_weights(source.projection.get_weights())
    positions = source.position_embeddings.numpy()
    if fold and source.segment_embedding is not None:
        positions = positions + source.segment_embedding.embeddings.numpy()[0]
    target.position_embeddings.assign(positions)


def build_student_mlm(
    teacher: MaskedLanguageModel,
    layer_map: Sequence[int] | None = None,
    fold_segment_embeddings: bool = True,
) -> MaskedLanguageModel:
    """``build_student`` for a teacher with an MLM head; the head is copied too.

    The student head stays tied to the student's (copied) token embedding.
    A teacher's NSP/SOP head is not carried over: DistilBERT drops the
    sentence task along with the pooler.
    """
    student = MaskedLanguageModel(
        build_student(teacher.encoder, layer_map, fold_segment_embeddings)
    )
    student.get_layer("mlm_head").set_weights(
        teacher.get_layer("mlm_head").get_weights()
    )
    return student
