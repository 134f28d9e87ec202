"""The ``kerasbert`` command line."""

import subprocess
import sys

import pytest

from kerasbert.cli import build_parser


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "quickstart" in capsys.readouterr().out


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from kerasbert.cli import build_parser\n"
        "build_parser().format_help()\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported by --help'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
