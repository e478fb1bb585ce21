"""The ``invtransfer`` command: the demo, experiments from a config, and their reports."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from invtransfer import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``invtransfer`` command.

    Examples:
        >>> build_parser().parse_args([]).command is None
        True
        >>> build_parser().parse_args(["demo", "--quick"]).quick
        True
    """
    parser = argparse.ArgumentParser(
        prog="invtransfer",
        description="Long-tail invariance tools: measure and transfer nuisance invariance "
        "from the head classes of a long-tailed dataset to its tail.",
    )
    parser.add_argument("--version", action="version", version=f"invtransfer {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="the paper's study on the embedded Glyphs-LT (nothing to download)",
        description="ERM, CE+DRS and CE+DRS+GIT on Glyphs-LT-DIL: accuracy and invariance "
        "curves, a report folder, and a summary table.",
    )
    demo.add_argument("--quick", action="store_true", help="a few minutes on a laptop CPU")
    demo.add_argument("--out", type=Path, default=None, help="default: runs/demo[-quick]")
    _add_run_options(demo)

    train = commands.add_parser(
        "train",
        help="run the experiment a config file describes",
        description="Train and evaluate every method of a TOML/YAML config for every seed; "
        "running it again resumes.",
    )
    train.add_argument("config", type=Path, help="a .toml or .yaml experiment config")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help='override a setting, e.g. --set train.epochs=3 --set methods=\'["ce"]\'',
    )  # fmt: skip
    train.add_argument("--data-root", default=None, help="where the recipe's files are")
    train.add_argument("--out", type=Path, default=None, help="default: runs/NAME")
    _add_run_options(train)

    report = commands.add_parser("report", help="rebuild the report of a run folder")
    report.add_argument("run_dir", type=Path)
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
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "report":
        return _print_report(args.run_dir)
    from invtransfer.experiments import ExperimentConfig, run_experiment
    from invtransfer.experiments.demo import demo_config

    if args.command == "demo":
        config = demo_config(quick=args.quick)
        out = args.out or Path("runs") / ("demo-quick" if args.quick else "demo")
    else:
        config = ExperimentConfig.from_file(args.config).with_overrides(args.overrides)
        if args.data_root is not None:
            config = config.with_overrides([f"data.root={args.data_root!r}"])
        out = args.out or Path("runs") / config.name
    if args.device is not None:
        config = config.with_overrides([f"device={args.device!r}"])
    run_experiment(config, out, progress=not args.no_progress)
    return _print_report(out)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _print_report(run_dir: Path) -> int:
    from invtransfer.experiments import write_report

    report = write_report(run_dir)
    print((report / "summary.md").read_text())
    print(f"report: {report}")
    return 0
