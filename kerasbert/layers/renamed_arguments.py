"""Keyword arguments renamed since earlier releases, so old configs still load.

Floats are named ``*_rate`` (``dropout_rate``, ``attention_dropout_rate``),
which leaves ``dropout`` / ``attention_dropout`` to the ``Dropout`` layers the
models hold. ``.keras`` files saved before the rename keep the old keyword
names in their configs; every ``from_config`` of kerasbert passes its config
through ``with_current_names``.
"""

from __future__ import annotations

from typing import Any

#: Old keyword name -> current name.
RENAMED_ARGUMENTS = {
    "dropout": "dropout_rate",
    "attention_dropout": "attention_dropout_rate",
}


#: Keyword arguments a functional ``keras.Model`` takes besides a model's own.
KERAS_MODEL_ARGUMENTS = frozenset({"name", "trainable", "dtype"})


def reject_unknown_arguments(kwargs: dict[str, Any], owner: str) -> None:
    """Raises for keyword arguments that a functional model would ignore.

    ``keras.Model(inputs, outputs, **kwargs)`` drops unknown keywords
    silently, so a misspelt or renamed option (``dropout=0.0``) would leave
    the default in place.

    Raises:
        ValueError: naming the unknown keywords and the renamed ones' names.
    """
    unknown = sorted(set(kwargs) - KERAS_MODEL_ARGUMENTS)
    if unknown:
        hints = "".join(
            f"; {old} is now {RENAMED_ARGUMENTS[old]}"
            for old in unknown
            if old in RENAMED_ARGUMENTS
        )
        raise ValueError(f"Unknown {owner} options: {unknown}{hints}.")


def with_current_names(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` whose renamed keys carry their current names."""
    return {RENAMED_ARGUMENTS.get(key, key): value for key, value in config.items()}


class LoadsRenamedArguments:
    """Mixin for Keras layers: ``from_config`` accepts the old keyword names."""

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return super().from_config(with_current_names(config))
