"""Activation lookup shared by the encoder and its heads.

BERT checkpoints (Google's and Hugging Face's) were trained with the exact,
erf-based GELU. keras-hub hard-codes the tanh approximation, which drifts by
about 5e-3 from those checkpoints, so here ``"gelu"`` means the exact form and
``"gelu_approximate"`` the tanh form.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

_GELU_VARIANTS = {
    "gelu": lambda x: keras.ops.gelu(x, approximate=False),
    "gelu_exact": lambda x: keras.ops.gelu(x, approximate=False),
    "gelu_approximate": lambda x: keras.ops.gelu(x, approximate=True),
    "gelu_new": lambda x: keras.ops.gelu(x, approximate=True),
}


def get_activation(name: str) -> Callable:
    """Returns the activation function called ``name``.

    Args:
        name: ``"gelu"`` (exact, erf), ``"gelu_approximate"`` (tanh), or any
            name ``keras.activations.get`` understands (``"relu"``, ...).
    """
    if not isinstance(name, str):
        raise TypeError(f"Activation must be given by name, got {name!r}.")
    if name in _GELU_VARIANTS:
        return _GELU_VARIANTS[name]
    try:
        return keras.activations.get(name)
    except ValueError as error:
        raise ValueError(
            f"Unknown activation {name!r}; use one of "
            f"{sorted(_GELU_VARIANTS)} or a keras activation name."
        ) from error
