"""The ``invtransfer`` command. Subcommands arrive with the pieces they run."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from invtransfer import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``invtransfer`` command.

    Examples:
        >>> build_parser().parse_args([]).command is None
        True
    """
    parser = argparse.ArgumentParser(
        prog="invtransfer",
        description="Long-tail invariance tools: measure and transfer nuisance invariance "
        "from the head classes of a long-tailed dataset to its tail.",
    )
    parser.add_argument("--version", action="version", version=f"invtransfer {__version__}")
    parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Examples:
        >>> status = main([])  # doctest: +ELLIPSIS
        usage: invtransfer ...
        >>> status
        0
    """
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
