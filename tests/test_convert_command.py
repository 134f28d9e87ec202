"""``kerasbert convert`` across all four formats, exactly, and its refusals."""

import argparse
import re

import pytest
from checkpoint_helpers import ENCODER_H32, assert_same_weights
from model_helpers import randomize

from kerasbert import Encoder
from kerasbert.checkpoints import FORMATS, load_hf, read_encoder, save_hf
from kerasbert_cli.commands import convert


def _parser():
    parser = argparse.ArgumentParser(prog="kerasbert")
    convert.add_parser(parser.add_subparsers())
    return parser


def _convert(*arguments):
    args = _parser().parse_args(["convert", *map(str, arguments)])
    return args.func(args)


@pytest.fixture
def hf_source(tmp_path):
    encoder = Encoder(**ENCODER_H32, hidden_activation="gelu_approximate")
    randomize(encoder, seed=11)
    save_hf(encoder, tmp_path / "hf", "bert")
    (tmp_path / "hf" / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    return encoder, tmp_path / "hf"


def test_formats_match_the_library(capsys):
    """Both format options accept exactly the library's FORMATS (the refusal of
    another lists what they accept)."""
    for option in ("--from", "--to"):
        with pytest.raises(SystemExit):
            _parser().parse_args(["convert", option, "onnx", "src", "dst"])
        allowed = re.search(
            r"invalid choice: 'onnx' \(choose from (.*)\)", capsys.readouterr().err
        )
        assert sorted(re.findall(r"[\w-]+", allowed.group(1))) == sorted(FORMATS)


@pytest.mark.filterwarnings("ignore:Google's bert code computes")
def test_chain_through_every_format_is_exact(hf_source, tmp_path):
    encoder, source = hf_source
    steps = [
        ("hf", "kerasbert", source, tmp_path / "a" / "model.keras"),
        (
            "kerasbert",
            "keras-hub",
            tmp_path / "a" / "model.keras",
            tmp_path / "b.keras",
        ),
        ("keras-hub", "google", tmp_path / "b.keras", tmp_path / "c"),
        ("google", "hf", tmp_path / "c", tmp_path / "d"),
    ]
    for source_format, target_format, src, dst in steps:
        assert (
            _convert(
                "--from", source_format, "--to", target_format, src, dst, "--check"
            )
            == 0
        )
    assert (tmp_path / "a" / "vocab.txt").read_text() == "[PAD]\n[UNK]\nhello\n"
    assert (tmp_path / "d" / "vocab.txt").is_file()
    assert_same_weights(encoder, load_hf(tmp_path / "d"))
    assert_same_weights(
        encoder, read_encoder("kerasbert", tmp_path / "a" / "model.keras")
    )


def test_refusals_write_nothing(hf_source, tmp_path, capsys):
    _, source = hf_source
    assert _convert("--from", "hf", "--to", "kerasbert", source, tmp_path / "x.h5") == 2
    assert (
        _convert(
            "--from", "hf", "--to", "hf", "--config", "c.json", source, tmp_path / "y"
        )
        == 2
    )
    assert (
        _convert("--from", "hf", "--to", "hf", tmp_path / "none", tmp_path / "z") == 1
    )
    assert "config.json" in capsys.readouterr().err
    code = _convert(
        "--from",
        "hf",
        "--to",
        "hf",
        "--architecture",
        "distilbert",
        source,
        tmp_path / "w",
    )
    assert code == 1
    assert "segment_embedding" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in ("x.h5", "y", "z", "w"))
    with pytest.raises(SystemExit) as help_exit:
        _parser().parse_args(["convert", "--help"])
    assert help_exit.value.code == 0
