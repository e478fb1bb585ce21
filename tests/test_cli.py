"""The invtransfer command: --version and --help work from the installed script."""

from __future__ import annotations

import subprocess
import sys

import invtransfer
from invtransfer.cli import main


def test_version_from_python_module():
    result = subprocess.run(
        [sys.executable, "-m", "invtransfer", "--version"], capture_output=True, text=True
    )
    assert (
        result.returncode == 0 and result.stdout.strip() == f"invtransfer {invtransfer.__version__}"
    )


def test_help_lists_the_commands_heading(capsys):
    assert main([]) == 0
    assert "usage: invtransfer" in capsys.readouterr().out
