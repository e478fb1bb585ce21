"""The command line as a new user meets it: a user error is one line and exit status 2
(``--debug`` shows the traceback), Ctrl-C says how to resume and exits 130, and every
option says what it does and its default."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

import pytest
from conftest import ROOT
from test_runner import (
    assert_same_run,
    config_and_straight_run,
    stop_mid_training,
    train_command,
)

from invtransfer.cli import build_parser, main

CONFIG = ROOT / "configs" / "mnist_dil_lt.toml"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--set", "train.epochs=-1"], "train.epochs: expected an int >= 1, received -1"),
        (["--set", "train.nonsense=1"], "train: unknown keys ['nonsense']"),
        (["--set", "train.lr='fast'"], "train.lr: expected float, received 'fast'"),
        (["--set", 'methods=["ce_dr"]'], "close matches: ['ce_drw', 'ce_drs'"),
        (["--set", "epochs"], "override: expected key=value, received 'epochs'"),
        (["--device", "gpu"], "device: expected cpu, cuda, cuda:N"),
        (["--seeds", "9"], "seeds: expected seeds of the config [0, 1, 2], received [9]"),
    ],
)
def test_a_user_error_is_one_line_and_exit_status_2(arguments, message, tmp_path, capsys):
    status = main(["train", str(CONFIG), "--out", str(tmp_path / "run"), *arguments])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == [f"invtransfer: error: {err[0].removeprefix('invtransfer: error: ')}"]
    assert message in err[0]
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["train", "x.toml", "--seeds", "0", "-2"], "argument --seeds: expected an int >= 0"),
        (["curve", "runs/x", "--method", "ce", "--seed", "-1"], "argument --seed: expected"),
        (["curve", "runs/x", "--method", "ce", "--order", "a"], "argument --order: expected"),
        (["curve", "runs/x", "--method", "ce", "--transforms", "0"], "argument --transforms"),
        (["curve", "runs/x", "--method", "ce", "--samples-per-class", "1.5"], "--samples-per"),
        (["train-munit", "--iterations", "0"], "argument --iterations: expected an int >= 1"),
    ],
)
def test_a_bad_option_is_refused_before_anything_is_read(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(arguments)
    assert exit_status.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_missing_config_file_is_one_line(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.toml")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"invtransfer: error: {tmp_path / 'missing.toml'}: expected a config file, found none"
    )


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match=r"train\.epochs"):
        main(["--debug", "train", str(CONFIG), "--set", "train.epochs=-1"])
    with pytest.raises(ValueError, match=r"train\.epochs"):  # after the command, too
        main(["train", str(CONFIG), "--set", "train.epochs=-1", "--debug"])


def test_the_command_line_prints_one_line_without_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "invtransfer", "train", str(CONFIG), "--set", "train.batch_size=0",
         "--out", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("invtransfer:")]
    assert errors == ["invtransfer: error: train.batch_size: expected an int >= 1, received 0"]
    assert "Traceback" not in done.stderr


def _options(parser: argparse.ArgumentParser, name: str = "invtransfer"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _options(sub, f"{name} {command}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield name, action


def test_every_option_has_help_text_and_says_its_default():
    for name, action in _options(build_parser()):
        assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert "default" in action.help, (name, action.dest, action.help)


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume_and_the_resumed_run_ends_identical(tmp_path):
    config_path = config_and_straight_run(tmp_path)
    status, err = stop_mid_training(config_path, tmp_path / "stopped", signal.SIGINT)
    assert status == 130
    assert err.strip().splitlines()[-1] == (
        "invtransfer: interrupted; run the same command again to resume"
    )
    assert "Traceback" not in err
    subprocess.run(
        train_command(config_path, tmp_path / "stopped"), check=True, cwd=ROOT,
        capture_output=True,
    )  # fmt: skip
    assert_same_run(tmp_path / "straight", tmp_path / "stopped")
