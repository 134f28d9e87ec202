"""kerasbert.atomic_files: whole-or-nothing writes, umask permissions, no leftovers."""

from __future__ import annotations

import json
import os
import stat

import pytest

from kerasbert.atomic_files import (
    TEMP_SUFFIX,
    atomic_write,
    save_keras_atomically,
    staged_directory,
    write_bytes_atomically,
    write_json_atomically,
    write_text_atomically,
)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_writes_replace_the_file_whole_with_umask_permissions(tmp_path, umask_022):
    path = tmp_path / "new" / "dir" / "file.bin"
    write_bytes_atomically(path, b"\x00\xff")
    assert path.read_bytes() == b"\x00\xff"
    assert mode(path) == 0o644  # tempfile alone would leave 0600
    write_text_atomically(path, "Zürich\n")
    assert path.read_bytes() == "Zürich\n".encode()
    assert os.listdir(path.parent) == ["file.bin"]


def test_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "data.txt"
    write_text_atomically(path, "old")
    with (
        pytest.raises(RuntimeError, match="disk full"),
        atomic_write(path, "w") as handle,
    ):
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["data.txt"]


def test_json_is_utf8_and_an_unserializable_payload_changes_nothing(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomically(path, {"b": "Straße", "a": [1, 2]}, sort_keys=True)
    text = path.read_text(encoding="utf-8")
    assert text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "Straße"\n}\n'
    with pytest.raises(TypeError):
        write_json_atomically(path, {"q": object()})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": [1, 2], "b": "Straße"}
    assert os.listdir(tmp_path) == ["out.json"]


def test_temporaries_are_hidden_and_named_for_sweeping(tmp_path):
    path = tmp_path / "shard-00000.tfrecord"
    with atomic_write(path) as handle:
        (temporary,) = [name for name in os.listdir(tmp_path)]
        assert temporary.startswith(".shard-00000.tfrecord.")
        assert temporary.endswith(TEMP_SUFFIX)
        handle.write(b"x")
    assert os.listdir(tmp_path) == ["shard-00000.tfrecord"]


class SavesItsPath:
    """Stands in for ``keras.Model``: ``save`` writes the path it is given."""

    def __init__(self, content: bytes, fail: bool = False):
        self.content = content
        self.fail = fail

    def save(self, path) -> None:
        with open(path, "wb") as handle:
            handle.write(self.content)
        if self.fail:
            raise OSError("killed mid-save")


def test_save_keras_atomically(tmp_path):
    path = tmp_path / "model.keras"
    with pytest.raises(ValueError, match=r"\.keras"):
        save_keras_atomically(SavesItsPath(b"1"), tmp_path / "model.h5")
    save_keras_atomically(SavesItsPath(b"first"), path)
    with pytest.raises(OSError, match="killed"):
        save_keras_atomically(SavesItsPath(b"second", fail=True), path)
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        save_keras_atomically(SavesItsPath(b"third"), path, overwrite=False)
    save_keras_atomically(SavesItsPath(b"third"), path)
    assert path.read_bytes() == b"third"
    assert os.listdir(tmp_path) == ["model.keras"]


def test_staged_directory_replaces_never_merges(tmp_path):
    destination = tmp_path / "export"
    with staged_directory(destination) as staged:
        (staged / "a.txt").write_text("a")
        (staged / "b.txt").write_text("b")
    with staged_directory(destination) as staged:
        (staged / "c.txt").write_text("c")
    assert sorted(os.listdir(destination)) == ["c.txt"]
    with (
        pytest.raises(NotADirectoryError),
        staged_directory(destination / "c.txt" / "inner"),
    ):
        pass
    assert sorted(os.listdir(tmp_path)) == ["export"]
