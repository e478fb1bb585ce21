"""Faults end in one clear line: a full disk and a read-only output folder name the path and
exit with status 2, with no traceback; a finished study on a read-only disk is still listed
and reported. Each runs in a private mount namespace (on a small tmpfs, or a read-only bind
mount), and is skipped with the reason where such a namespace cannot be made."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT
from test_runner import _write_config


def _namespace_or_skip(tmp_path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux's unshare to make a private mount namespace")
    mount = tmp_path / "probe"
    mount.mkdir()
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(mount))}"],
        capture_output=True, text=True,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private namespace here: {probe.stderr.strip()}")


def _train_on_tmpfs(tmp_path, setup: str) -> subprocess.CompletedProcess:
    """``invtransfer train`` with its output on a fresh 96 KiB tmpfs, after ``setup``."""
    config, mount = tmp_path / "experiment.toml", tmp_path / "disk"
    _write_config(config, 'methods=["ce"]')
    mount.mkdir()
    train = [sys.executable, "-m", "invtransfer", "train", str(config), "--out",
             str(mount / "run"), "--no-progress"]  # fmt: skip
    script = (
        f"mount -t tmpfs -o size=96k tmpfs {shlex.quote(str(mount))} && "
        f"{setup.format(mount=shlex.quote(str(mount)))} && {shlex.join(train)}"
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip


def _one_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("invtransfer:")]
    assert len(errors) == 1, done.stderr[-2000:]
    return errors[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setup", "fault"),
    [
        ("true", "No space left on device"),  # the 96 KiB fill up
        ("mount -o remount,ro {mount}", "Read-only file system"),
    ],
    ids=["full disk", "read-only folder"],
)
def test_a_disk_fault_is_one_line_naming_the_path(tmp_path, setup, fault):
    _namespace_or_skip(tmp_path)
    done = _train_on_tmpfs(tmp_path, setup)
    line = _one_line(done)
    assert done.returncode == 2
    assert line.startswith("invtransfer: error: ") and fault in line
    assert str(tmp_path / "disk" / "run") in line


@pytest.mark.slow
def test_a_finished_study_on_a_read_only_disk_is_listed_reported_and_measured(tmp_path):
    _namespace_or_skip(tmp_path)
    config, study = tmp_path / "experiment.toml", tmp_path / "study"
    _write_config(config, 'methods=["ce"]')
    cli = [sys.executable, "-m", "invtransfer"]
    train = [*cli, "train", str(config), "--out", str(study), "--no-progress"]
    subprocess.run(train, cwd=ROOT, check=True, capture_output=True)
    before = {p: p.stat().st_mtime_ns for p in study.rglob("*")}
    read_only = f"mount --bind {shlex.quote(str(study))} {shlex.quote(str(study))} && " + (
        f"mount -o remount,bind,ro {shlex.quote(str(study))}"
    )
    curve = [*cli, "curve", str(study), "--method", "ce", "--samples-per-class", "2",
             "--transforms", "2"]  # fmt: skip
    for command, printed in (
        (train, "| ce |"),  # the summary's table, read from the finished run
        ([*cli, "report", str(study)], "| ce |"),
        (curve, "'balanced_accuracy'"),  # the curve's summary
    ):
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             f"{read_only} && {shlex.join(command)}"],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert printed in done.stdout
        assert f"not written (Read-only file system: {study}" in done.stdout
    assert {p: p.stat().st_mtime_ns for p in study.rglob("*")} == before
