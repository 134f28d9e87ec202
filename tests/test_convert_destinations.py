"""Where ``kerasbert convert`` writes: refusals, whole replacement, permissions.

An existing DST is refused without ``--overwrite`` and replaced whole with it
(never merged with the old files); a DST of the wrong kind, or under a file,
is a one-line error; written files and directories follow the umask; a
``.keras`` SRC that is not one is named as such.
"""

import argparse
import json
import os
import stat
from pathlib import Path

import pytest
from checkpoint_helpers import ENCODER_H32, assert_same_weights
from model_helpers import randomize

from kerasbert import Encoder
from kerasbert.atomic_files import staged_directory
from kerasbert.checkpoints import load_hf, read_encoder, save_google, save_hf
from kerasbert_cli.commands import convert

ALBERT = dict(embedding_size=16, num_groups=1, hidden_activation="gelu_new")
VOCAB = "[PAD]\n[UNK]\nhello\n"


def _convert(*arguments) -> int:
    parser = argparse.ArgumentParser(prog="kerasbert")
    convert.add_parser(parser.add_subparsers())
    args = parser.parse_args(["convert", *map(str, arguments)])
    return args.func(args)


def _one_line_error(capsys) -> str:
    """The command's stderr, required to be a single ``error:`` line."""
    err = capsys.readouterr().err
    assert err.startswith("kerasbert convert: error: ") and err.count("\n") == 1, err
    return err


def _snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (hidden scratch ones included) by name."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _hidden(directory: Path) -> list[str]:
    """Leftover scratch entries (their names start with a dot)."""
    return [path.name for path in directory.iterdir() if path.name.startswith(".")]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def albert():
    encoder = Encoder(**ENCODER_H32, **ALBERT)
    randomize(encoder, seed=3)
    return encoder


@pytest.fixture
def albert_hf(albert, tmp_path):
    """An ALBERT HF directory without tokenizer files."""
    save_hf(albert, tmp_path / "albert", "albert")
    return tmp_path / "albert"


@pytest.fixture
def bert_hf(tmp_path):
    """An existing BERT HF directory with tokenizer files (like MiniLM's)."""
    encoder = Encoder(**ENCODER_H32)
    randomize(encoder, seed=5)
    save_hf(encoder, tmp_path / "minilm", "bert")
    (tmp_path / "minilm" / "vocab.txt").write_text(VOCAB)
    (tmp_path / "minilm" / "tokenizer.json").write_text("{}\n")
    return tmp_path / "minilm"


def test_existing_hf_directory_is_refused_then_replaced_whole(
    albert, albert_hf, bert_hf, capsys
):
    before = _snapshot(bert_hf)
    assert _convert("--from", "hf", "--to", "hf", albert_hf, bert_hf) == 1
    error = _one_line_error(capsys)
    assert f"{bert_hf} already exists" in error and "--overwrite" in error
    assert _snapshot(bert_hf) == before

    assert _convert("--to", "hf", "--overwrite", "--check", albert_hf, bert_hf) == 0
    assert sorted(_snapshot(bert_hf)) == ["config.json", "model.safetensors"]
    assert json.loads((bert_hf / "config.json").read_text())["model_type"] == "albert"
    assert_same_weights(albert, load_hf(bert_hf))
    assert _hidden(bert_hf.parent) == []


@pytest.mark.filterwarnings("ignore:Google's bert code computes")
def test_existing_google_directory_is_replaced_whole(albert, albert_hf, tmp_path):
    google = tmp_path / "google"
    save_google(Encoder(**ENCODER_H32), google, "bert")
    assert (google / "bert_config.json").is_file()
    assert _convert("--to", "google", "--overwrite", albert_hf, google) == 0
    names = sorted(_snapshot(google))
    assert names == [
        "albert_config.json",
        "checkpoint",
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.index",
    ]
    assert_same_weights(albert, read_encoder("google", google))


def test_existing_keras_file_is_refused_then_replaced(
    albert, albert_hf, tmp_path, capsys
):
    keras_file = tmp_path / "out" / "model.keras"
    keras_file.parent.mkdir()
    keras_file.write_bytes(b"old model")
    assert _convert(albert_hf, keras_file) == 1
    assert f"{keras_file} already exists" in _one_line_error(capsys)
    assert keras_file.read_bytes() == b"old model"

    assert _convert("--overwrite", albert_hf, keras_file) == 0
    assert_same_weights(albert, read_encoder("kerasbert", keras_file))
    assert sorted(path.name for path in keras_file.parent.iterdir()) == ["model.keras"]


def test_tokenizer_file_beside_a_keras_destination_is_not_silently_replaced(
    bert_hf, tmp_path, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "vocab.txt").write_text("other\n")
    assert _convert(bert_hf, out / "model.keras") == 1
    assert f"{out / 'vocab.txt'} already exists" in _one_line_error(capsys)
    assert sorted(path.name for path in out.iterdir()) == ["vocab.txt"]

    (out / "vocab.txt").write_text(VOCAB)  # the same file is no conflict
    assert _convert(bert_hf, out / "model.keras") == 0
    assert (out / "tokenizer.json").is_file() and (out / "model.keras").is_file()


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_destinations_of_the_wrong_kind_are_one_line_errors(
    albert_hf, tmp_path, capsys, overwrite
):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep")
    a_directory = tmp_path / "a_directory.keras"
    a_directory.mkdir()
    cases = [
        (["--to", "hf"], a_file, f"{a_file} exists and is not a directory"),
        (["--to", "google"], a_file / "sub", f"{a_file} is not a directory"),
        ([], a_file / "model.keras", f"{a_file} is not a directory"),
        ([], a_directory, f"{a_directory} is a directory"),
    ]
    for options, destination, message in cases:
        assert _convert(*options, *overwrite, albert_hf, destination) == 1
        assert message in _one_line_error(capsys)
    assert a_file.read_text() == "keep" and list(a_directory.iterdir()) == []
    assert _hidden(tmp_path) == []


def test_overwrite_never_deletes_the_source(tmp_path, bert_hf, capsys):
    keras_file = bert_hf / "model.keras"
    assert _convert(bert_hf, keras_file) == 0
    arguments = ("--from", "kerasbert", "--to", "hf", "--overwrite")
    assert _convert(*arguments, keras_file, bert_hf) == 1
    assert "lies inside" in _one_line_error(capsys)
    assert keras_file.is_file()


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_written_files_and_directories_follow_the_umask(bert_hf, tmp_path, umask_027):
    assert _convert("--to", "hf", bert_hf, tmp_path / "hf" / "copy") == 0
    assert _convert(bert_hf, tmp_path / "kb" / "model.keras") == 0
    for directory in (tmp_path / "hf", tmp_path / "hf" / "copy", tmp_path / "kb"):
        assert _mode(directory) == 0o750, directory
    written = [*(tmp_path / "hf" / "copy").iterdir(), *(tmp_path / "kb").iterdir()]
    assert len(written) == 7
    for path in written:
        assert _mode(path) == 0o640, path


def test_garbage_keras_file_is_named_not_valid(tmp_path, capsys):
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(os.urandom(256))
    code = _convert("--from", "kerasbert", "--to", "hf", garbage, tmp_path / "hf")
    assert code == 1
    error = _one_line_error(capsys)
    assert f"{garbage} is not a valid .keras file" in error
    assert "not found" not in error
    assert not (tmp_path / "hf").exists()


def test_staged_directory_replaces_whole_or_not_at_all(tmp_path):
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_directory(destination) as scratch:
        (scratch / "new.txt").write_text("new")
        raise RuntimeError("interrupted")
    assert _snapshot(destination) == {"old.txt": b"old"}
    with pytest.raises(FileExistsError), staged_directory(destination, False):
        pass
    with staged_directory(destination) as scratch:
        (scratch / "new.txt").write_text("new")
    assert _snapshot(destination) == {"new.txt": b"new"}
    assert _hidden(tmp_path) == []
