"""Name mapping between an ``Encoder``'s variables and another format's tensors.

Every supported format (Hugging Face, Google TF1, keras-hub) is described by a
list of ``Rule``s: which foreign tensors make up which encoder variable, and
how each one is transformed (``Codec``). The two functions at the bottom are
the only code that moves arrays in either direction, so the validation (every
tensor used, nothing missing, shapes right, all or nothing) is written once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from kerasbert.checkpoints.assignment import assign_by_path

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Codec:
    """How one foreign tensor relates to (a part of) an encoder variable.

    ``to_kerasbert(array, shape)`` turns the foreign array into the encoder's
    layout, ``shape`` being the encoder-side shape wanted;
    ``from_kerasbert(array, shape)`` goes back, ``shape`` being the foreign
    shape when the format's own model is at hand (keras-hub), else ``None``.
    Both must be exact inverses so that round trips are bit-exact.
    """

    name: str
    to_kerasbert: Callable[[np.ndarray, Shape], np.ndarray]
    from_kerasbert: Callable[[np.ndarray, Shape | None], np.ndarray]


def _reshape_to(array: np.ndarray, shape: Shape | None) -> np.ndarray:
    if shape is None:
        raise ValueError("a reshaping codec needs the target shape")
    return np.reshape(array, shape)


COPY = Codec("copy", lambda a, _: a, lambda a, _: a)
# torch ``Linear.weight`` is ``[out, in]``; Keras ``Dense.kernel`` is ``[in, out]``.
TRANSPOSE = Codec("transpose", lambda a, _: a.T, lambda a, _: a.T)
# keras-hub's EinsumDense attention kernels are ``[H, heads, head]`` (q, k, v)
# and ``[heads, head, H]`` (output); their biases ``[heads, head]``.
RESHAPE = Codec("reshape", _reshape_to, _reshape_to)


def offset_rows(count: int) -> Codec:
    """Position tables whose first ``count`` rows the encoder never reads.

    RoBERTa numbers real tokens from ``padding_idx + 1``; the encoder numbers
    them from 0, so the first rows are dropped on import and written as zeros
    on export (they only ever serve padding tokens, whose outputs are masked).
    """

    def pad(array: np.ndarray, _: Shape | None) -> np.ndarray:
        return np.concatenate([np.zeros((count, *array.shape[1:]), array.dtype), array])

    return Codec(f"offset_rows({count})", lambda a, _: a[count:], pad)


@dataclass(frozen=True)
class Rule:
    """Encoder variable ``path`` is made of the foreign tensors ``names``.

    Several names are concatenated along the variable's last axis (q | k | v
    into the fused ``[H, 3H]`` qkv kernel); each goes through ``codec``.
    """

    path: str
    names: tuple[str, ...]
    codec: Codec = COPY


def _part_shape(shape: Shape, parts: int) -> Shape:
    return (*shape[:-1], shape[-1] // parts)


def _foreign_shape(codec: Codec, part: Shape) -> str:
    """The shape a foreign tensor needs to give ``part`` through ``codec``."""
    try:
        return str(codec.from_kerasbert(np.empty(part, np.float32), None).shape)
    except ValueError:  # a reshaping codec: any shape of the right size
        return f"{math.prod(part)} values (reshaped to {part})"


def _gather(rule: Rule, tensors: Mapping[str, np.ndarray], shape: Shape) -> np.ndarray:
    """The encoder array of shape ``shape`` that ``rule`` makes of ``tensors``.

    Each tensor is checked on its own before the pieces are concatenated, so
    a wrong-shaped query/key/value is named, with the shape it needs,
    instead of surfacing as numpy's concatenation error.

    Raises:
        ValueError: naming the first tensor of the wrong shape.
    """
    part = _part_shape(shape, len(rule.names))
    pieces = []
    for name in rule.names:
        tensor = np.asarray(tensors[name])
        try:
            piece = rule.codec.to_kerasbert(tensor, part)
        except ValueError:
            piece = None
        if piece is None or piece.shape != part:
            raise ValueError(
                f"{name} {tensor.shape} does not fit {rule.path} {shape}: that "
                f"tensor must be {_foreign_shape(rule.codec, part)}"
            )
        pieces.append(piece)
    return np.concatenate(pieces, axis=-1) if len(pieces) > 1 else pieces[0]


def load_into(
    model: keras.Model,
    tensors: Mapping[str, np.ndarray],
    rules: Sequence[Rule],
    ignore: Callable[[str], bool] = lambda name: False,
    source: str = "checkpoint",
) -> None:
    """Sets every variable of ``model`` from foreign ``tensors`` by ``rules``.

    Args:
        model: a built encoder whose variable paths the rules name.
        tensors: ``{foreign name: array}``.
        rules: one per variable of ``model``.
        ignore: names that may be present without being used (heads,
            optimizer slots, buffers).
        source: what ``tensors`` came from, for error messages.

    Raises:
        ValueError: listing every missing tensor, unused tensor and shape
            mismatch; nothing is assigned unless everything fits.
    """
    wanted = {name for rule in rules for name in rule.names}
    missing = sorted(wanted - set(tensors))
    unused = sorted(name for name in tensors if name not in wanted and not ignore(name))
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors are missing: {missing}")
    if unused:
        problems.append(
            f"{len(unused)} tensors match nothing in this encoder: {unused}"
        )
    shapes = {variable.path: tuple(variable.shape) for variable in model.weights}
    arrays = {}
    if not missing:
        for rule in rules:
            shape = shapes.get(rule.path)
            if shape is None:
                problems.append(f"the model has no variable {rule.path}")
                continue
            try:
                arrays[rule.path] = _gather(rule, tensors, shape)
            except ValueError as error:
                problems.append(str(error))
    if problems:
        raise ValueError(f"Cannot load the {source}: " + "; ".join(problems))
    assign_by_path(model, arrays)


def variable_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """``{variable path: numpy copy}`` of every variable of ``model``."""
    return {
        variable.path: keras.ops.convert_to_numpy(variable.value)
        for variable in model.weights
    }


def export_tensors(
    model: keras.Model,
    rules: Sequence[Rule],
    foreign_shapes: Mapping[str, Shape] | None = None,
    droppable: Callable[[str, np.ndarray], bool] = lambda path, array: False,
    target: str = "this format",
) -> dict[str, np.ndarray]:
    """The foreign tensors that hold ``model``'s variables, by ``rules``.

    Args:
        model: the encoder to export.
        rules: the format's rules for this encoder.
        foreign_shapes: ``{name: shape}`` of the target, needed by reshaping
            codecs.
        droppable: variables the format may leave out without changing the
            function (e.g. an all-zero segment embedding).
        target: the format's name, for error messages.

    Returns:
        ``{foreign name: C-contiguous array}``.

    Raises:
        ValueError: a variable the format cannot hold (listed), or a rule
            naming a variable the model lacks.
    """
    arrays = variable_arrays(model)
    covered = {rule.path for rule in rules}
    unheld = sorted(
        path
        for path, array in arrays.items()
        if path not in covered and not droppable(path, array)
    )
    absent = sorted(covered - set(arrays))
    problems = []
    if unheld:
        problems.append(f"{target} has no place for {unheld}")
    if absent:
        problems.append(f"the encoder lacks {absent}")
    if problems:
        raise ValueError("Cannot export the encoder: " + "; ".join(problems))
    tensors = {}
    for rule in rules:
        pieces = np.split(arrays[rule.path], len(rule.names), axis=-1)
        for name, piece in zip(rule.names, pieces, strict=True):
            shape = None if foreign_shapes is None else foreign_shapes.get(name)
            tensors[name] = np.ascontiguousarray(
                rule.codec.from_kerasbert(piece, shape)
            )
    return tensors
