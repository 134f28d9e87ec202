"""The packages import one way: core ``kerasbert`` <- ``tfrecords_tools`` and
``serving`` <- ``kerasbert_cli`` (README, "Architecture").

Every module's imports are read with ``ast``, the ones inside functions too,
so a lazy import cannot hide a dependency; nothing is imported or run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kerasbert", "tfrecords_tools", "serving", "kerasbert_cli")
# The packages each one must not import.
FORBIDDEN = {
    "kerasbert": ("tfrecords_tools", "serving", "kerasbert_cli"),
    "tfrecords_tools": ("serving", "kerasbert_cli"),
    "serving": ("tfrecords_tools", "kerasbert_cli"),
    "kerasbert_cli": (),
}
# The core modules the record builder may import: they import neither
# TensorFlow nor Keras, which would cost every builder worker ~650 MB.
TENSORFLOW_FREE_CORE = ("kerasbert.atomic_files", "kerasbert.data.records_format")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, anywhere in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names)
    return modules


def package_modules(package: str) -> dict[str, set[str]]:
    """Module name -> the modules it imports, for every module of ``package``."""
    return {
        module_name(path): imported_modules(path)
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def top_level(module: str) -> str:
    return module.partition(".")[0]


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package):
    offending = {
        module: sorted(
            name for name in imports if top_level(name) in FORBIDDEN[package]
        )
        for module, imports in package_modules(package).items()
    }
    assert {module: names for module, names in offending.items() if names} == {}


def test_the_record_builder_uses_only_tensorflow_free_core_modules():
    core_imports = {
        name
        for imports in package_modules("tfrecords_tools").values()
        for name in imports
        if top_level(name) == "kerasbert"
    }
    allowed = {
        name
        for name in core_imports
        if any(
            name == module or name.startswith(f"{module}.")
            for module in TENSORFLOW_FREE_CORE
        )
    }
    assert core_imports - allowed == set()
    heavy = {"tensorflow", "keras", "tensorflow_text", "keras_hub"}
    for module in TENSORFLOW_FREE_CORE:
        path = ROOT / (module.replace(".", "/") + ".py")
        assert {top_level(name) for name in imported_modules(path)} & heavy == set()


def test_importing_the_record_builder_imports_neither_tensorflow_nor_beam():
    # The worker processes of a build import this (spawn, not fork); Apache
    # Beam is imported by `--runner beam` only.
    code = (
        "import sys, tfrecords_tools.cli, tfrecords_tools.builder, "
        "tfrecords_tools.shard;"
        "print(sorted({'tensorflow', 'keras', 'apache_beam'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
