"""The ``kerasbert`` command line."""

import subprocess
import sys

import pytest

from kerasbert.cli import build_parser, main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "quickstart" in capsys.readouterr().out


def test_quickstart_prints_shapes_and_parameter_counts(capsys):
    assert main(["quickstart", "--batch-size", "2", "--sequence-length", "16"]) == 0
    out = capsys.readouterr().out
    assert "sequence_output  (2, 16, 128)" in out
    assert "mlm_logits       (2, 5, 1000)" in out
    shared = int(out.split("encoder parameters:")[1].split()[0].replace(",", ""))
    unshared = int(out.split("without sharing:")[1].split()[0].replace(",", ""))
    assert shared < unshared / 3


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from kerasbert.cli import build_parser\n"
        "build_parser().format_help()\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported by --help'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
