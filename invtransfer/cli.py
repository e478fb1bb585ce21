"""The ``invtransfer`` command: the demo, experiments from a config, their reports and
invariance curves, and generators for GIT."""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from invtransfer import __version__
from invtransfer._threads import ThreadPlan, apply_before_torch, apply_to_torch, plan_threads

__all__ = ["USER_ERRORS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``invtransfer`` command.

    Examples:
        >>> build_parser().parse_args([]).command is None
        True
        >>> build_parser().parse_args(["demo", "--quick"]).quick
        True
        >>> build_parser().parse_args(["--threads", "1", "demo"]).threads  # or after "demo"
        1
    """
    parser = argparse.ArgumentParser(
        prog="invtransfer",
        description="Long-tail invariance tools: measure and transfer nuisance invariance "
        "from the head classes of a long-tailed dataset to its tail.",
    )
    parser.add_argument("--version", action="version", version=f"invtransfer {__version__}")
    _add_global_options(parser, default=None)
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
        help='override a setting, repeatable: --set train.epochs=3 --set methods=\'["ce"]\' '
        "(default: none)",
    )  # fmt: skip
    train.add_argument(
        "--data-root", default=None,
        help="where the recipe's files are (default: the config's data.root)",
    )  # fmt: skip
    train.add_argument(
        "--out", type=Path, default=None, help="the study folder (default: runs/NAME)"
    )
    train.add_argument(
        "--seeds", type=_non_negative_int, nargs="+", default=None, metavar="SEED",
        help="run only these of the config's seeds (processes or machines can share a "
        "study's folder this way; the report covers every finished run); default: all",
    )  # fmt: skip
    _add_run_options(train)

    report = commands.add_parser("report", help="rebuild the report of a run folder")
    report.add_argument("run_dir", type=Path, help="an experiment's output folder")

    munit = commands.add_parser(
        "train-munit",
        help="train a generator for GIT on a dataset recipe (resumes)",
        description="Train a single-domain MUNIT on the training split of a recipe; point "
        "git.generator of a config at --out to use it.",
    )
    munit.add_argument(
        "--recipe", default="glyphs_lt", help="a recipe name, see RECIPES (default: glyphs_lt)"
    )
    munit.add_argument(
        "--data-root", default=None, help="where the recipe's files are (default: none)"
    )
    munit.add_argument("--variant", default=None, help="rot, bg or dil (default: none)")
    munit.add_argument(
        "--options",
        default="{}",
        help='recipe options as a TOML table, e.g. "{ max_count = 500 }" (default: none)',
    )
    munit.add_argument(
        "--preset", default="paper-28x28x1",
        help="paper-28x28x1 (default), paper-32x32x3, small-28x28x1 or tiny",
    )  # fmt: skip
    munit.add_argument(
        "--iterations", type=_positive_int, default=2500,
        help="training iterations in all, counting those done (default: 2500)",
    )  # fmt: skip
    munit.add_argument(
        "--batch-size", type=_positive_int, default=8,
        help="class-balanced images per iteration (default: 8; the paper's is 1)",
    )  # fmt: skip
    munit.add_argument("--seed", type=_non_negative_int, default=0, help="the seed (default: 0)")
    munit.add_argument(
        "--out", type=Path, default=Path("runs/munit"),
        help="the generator's folder; it resumes from there (default: runs/munit)",
    )  # fmt: skip
    _add_run_options(munit)

    curve = commands.add_parser(
        "curve",
        help="the invariance curve of a trained run",
        description="Measure a run's per-class invariance under its dataset's nuisance; "
        "writes curve-K{K}.csv/.json/.png in the run's folder.",
    )
    curve.add_argument("run_dir", type=Path, help="an experiment's output folder")
    curve.add_argument("--method", required=True, help="the run's method, e.g. ce_drs+git")
    curve.add_argument(
        "--seed", type=_non_negative_int, default=0, help="the run's seed (default: 0)"
    )
    curve.add_argument(
        "--order", type=_non_negative_int, default=None,
        help="the run's class order, where a seed has several (data.class_orders)",
    )  # fmt: skip
    curve.add_argument(
        "--samples-per-class", type=_positive_int, default=40,
        help="test images per class (default: 40, the paper's)",
    )  # fmt: skip
    curve.add_argument(
        "--transforms", type=_positive_int, default=100,
        help="transformed copies per image, K (default: 100, the paper's)",
    )  # fmt: skip
    return parser


USER_ERRORS = (ValueError, TypeError, ImportError, OSError, FloatingPointError)
"""What a user's input or machine causes (a bad setting, a missing file or extra, a full or
read-only disk, a loss that diverged): one line and exit status 2; ``--debug`` shows the
traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status: 0 done, 2 a user error (one line on
    stderr), 130 interrupted (run the same command again to resume).

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
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("invtransfer: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"invtransfer: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    """The command ``args`` names."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    plan = plan_threads(args.threads)
    apply_before_torch(plan)  # before the command imports torch
    apply_to_torch(plan)
    logging.info("CPU threads: %d (--threads N to choose)", plan.intra_op)
    if args.command == "report":
        return _print_report(args.run_dir)
    if args.command == "curve":
        return _curve(args)
    if args.command == "train-munit":
        return _train_munit(args, plan)
    from invtransfer._distributed import process_group_from_env, rank_and_world
    from invtransfer._validation import checked_device
    from invtransfer.experiments import ExperimentConfig, run_experiment
    from invtransfer.experiments.demo import demo_config

    seeds = None
    if args.command == "demo":
        config = demo_config(quick=args.quick)
        out = args.out or Path("runs") / ("demo-quick" if args.quick else "demo")
    else:
        config = ExperimentConfig.from_file(args.config).with_overrides(args.overrides)
        if args.data_root is not None:
            config = config.with_overrides([f"data.root={args.data_root!r}"])
        out = args.out or Path("runs") / config.name
        seeds = args.seeds
    if args.device is not None:
        config = config.with_overrides([f"device={args.device!r}"])
    checked_device("device", config.device)
    with process_group_from_env():  # under torchrun: one rank per process
        first_rank = rank_and_world()[0] == 0
        run_experiment(config, out, not args.no_progress and first_rank, seeds, report=False)
    return _print_report(out) if first_rank else 0


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default=None,
        help="cpu, cuda, cuda:1, ... (default: CUDA when available, else the CPU)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_global_options(parser, default=argparse.SUPPRESS)  # keeps a value given before


def _add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """``--threads`` and ``--debug``, accepted before and after the command."""
    _add_threads_option(parser, default)
    parser.add_argument(
        "--debug", action="store_true", default=False if default is None else default,
        help="show the traceback of an error (default: one line)",
    )  # fmt: skip


def _add_threads_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--threads", type=_positive_int, default=default, metavar="N",
        help="CPU threads per operator (default: OMP_NUM_THREADS if set, else one fewer "
        "than the CPUs, leaving one to other processes)",
    )  # fmt: skip


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _int_at_least(text: str, minimum: int) -> int:
    if not text.isdigit() or int(text) < minimum:
        raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, received {text!r}")
    return int(text)


def _train_munit(args: argparse.Namespace, plan: ThreadPlan) -> int:
    from invtransfer.experiments import DataConfig, ExperimentConfig, load_data
    from invtransfer.generative import MUNITTrainer, preset

    options = ExperimentConfig().with_overrides([f"data.options={args.options}"]).data.options
    data = load_data(DataConfig(args.recipe, args.data_root, args.variant, options), args.seed)
    channels, size, _ = data.image_shape
    config = preset(args.preset, image_size=size, channels=channels)
    trainer = MUNITTrainer(config, args.out, seed=args.seed, device=args.device)
    trainer.fit(
        data.train, args.iterations, args.batch_size, num_workers=plan.workers,
        progress=not args.no_progress,
    )  # fmt: skip
    print(f"generator: {args.out} (iteration {trainer.iteration})")
    return 0


def _curve(args: argparse.Namespace) -> int:
    from invtransfer.experiments import load_run, measured_nuisance
    from invtransfer.metrics import invariance_curve

    config, data, model, folder = load_run(args.run_dir, args.method, args.seed, args.order)
    if (nuisance := measured_nuisance(config.evaluation, data)) is None:
        raise ValueError(
            f"{args.run_dir}: expected data with a nuisance family to measure, received none; "
            f"name one in the config's evaluation.family"
        )
    family, images = nuisance
    curve = invariance_curve(
        model, images, family, data.class_counts,
        samples_per_class=args.samples_per_class, transforms_per_sample=args.transforms,
        seed=args.seed,
    )  # fmt: skip
    print({key: round(value, 4) for key, value in curve.summary("ekld").items()})
    stem = folder / f"curve-K{args.transforms}"
    try:
        curve.save(stem, title=f"{args.method}: eKLD per class")
    except OSError as error:
        _raise_unless_refused(error)
        print(f"curve: not written ({error.strerror}: {error.filename})")
        return 0
    print(f"curve: {stem}.csv/.json/.png")
    return 0


def _print_report(run_dir: Path) -> int:
    """Write the study's report and print its summary; on a disk that refuses writes (a
    read-only folder or one not the user's), print the summary all the same."""
    from invtransfer.experiments import study_summary, write_report

    try:
        report = write_report(run_dir)
    except OSError as error:
        _raise_unless_refused(error)
        print(study_summary(run_dir))
        print(f"report: not written ({error.strerror}: {error.filename})")
        return 0
    print((report / "summary.md").read_text())
    print(f"report: {report}")
    return 0


def _raise_unless_refused(error: OSError) -> None:
    """Re-raise ``error`` unless the disk refused a write (read-only, or not the user's):
    a finished run's results are then printed, not saved."""
    if error.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
        raise error
