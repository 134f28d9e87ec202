"""Lazy package attributes (PEP 562): a name's module is imported on first use.

``kerasbert``, ``kerasbert.data`` and ``kerasbert.evaluation`` export names
whose modules import TensorFlow, while some of their modules do not (the CLI's
``--help``, the records format the builder's worker processes read, the NumPy
metrics). Importing the package must not pay for TensorFlow until a name that
needs it is used. Standard library only.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any


def lazy_attributes(
    package: str, exports: Mapping[str, str], submodules: Collection[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` a package defines to load names lazily.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module that defines it; a loaded name is
            cached in the package's namespace, so each loads once.
        submodules: names of subpackages/modules importable as attributes.

    Returns:
        ``(__getattr__, __dir__)``; ``__dir__`` lists the package's ``__all__``.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace["__all__"])

    return __getattr__, __dir__
