"""The ``kerasbert`` command line."""

import argparse
import importlib
import pkgutil
import re
import subprocess
import sys

from checkpoint_helpers import ENCODER_H32, assert_same_weights
from model_helpers import randomize

from kerasbert import Encoder
from kerasbert.checkpoints import load_hf
from kerasbert_cli import commands
from kerasbert_cli.main import build_parser, main


def test_every_command_module_is_a_subcommand():
    registered = set()
    for module in pkgutil.iter_modules(commands.__path__):
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"{commands.__name__}.{module.name}").add_parser(
            subparsers
        )
        registered |= set(subparsers.choices)
    usage = build_parser().format_usage()
    assert set(re.search(r"{(.*?)}", usage).group(1).split(",")) == registered


def test_main_runs_a_command(tmp_path):
    encoder = Encoder(**ENCODER_H32)
    randomize(encoder, seed=3)
    encoder.save(tmp_path / "encoder.keras")
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    arguments = ["--from", "kerasbert", "--to", "hf", "--check"]
    source, target = tmp_path / "encoder.keras", tmp_path / "hf"
    assert main(["convert", *arguments, str(source), str(target)]) == 0
    assert_same_weights(load_hf(target), encoder)
    assert (target / "vocab.txt").read_text() == "[PAD]\n[UNK]\nhello\n"


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from kerasbert_cli.main import build_parser\n"
        "build_parser().format_help()\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported by --help'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
