"""The invtransfer command: --version and --help work from the installed script; the thread
plan honours --threads and the user's environment, and reaches torch before it loads."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import torch

import invtransfer
from invtransfer._threads import ThreadPlan, loader_workers, plan_threads, usable_cpus
from invtransfer.cli import build_parser, main


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


def test_threads_option_before_or_after_a_run_command():
    parser = build_parser()
    assert parser.parse_args(["--threads", "1", "demo", "--quick"]).threads == 1
    assert parser.parse_args(["train", "c.toml", "--threads", "3"]).threads == 3
    assert parser.parse_args(["--threads", "2", "curve", "r", "--method", "ce"]).threads == 2
    assert parser.parse_args(["demo"]).threads is None


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_threads_option_refuses_what_is_not_a_positive_count(value, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--threads", value, "demo"])
    assert f"expected an int >= 1, received {value!r}" in capsys.readouterr().err


def test_plan_leaves_one_cpu_to_other_processes_and_gives_it_a_worker():
    plans = {cpus: plan_threads(cpus=cpus, environ={}) for cpus in (1, 2, 16)}
    assert plans == {
        1: ThreadPlan(intra_op=1, inter_op=1, workers=0),
        2: ThreadPlan(intra_op=1, inter_op=1, workers=1),
        16: ThreadPlan(intra_op=15, inter_op=15, workers=1),
    }


def test_ranks_under_torchrun_share_the_cpus():
    plan = plan_threads(environ={"LOCAL_WORLD_SIZE": str(usable_cpus())})
    assert plan == ThreadPlan(intra_op=1, inter_op=1, workers=0)  # one CPU per rank


def test_requested_threads_win_over_the_environment():
    plan = plan_threads(2, cpus=2, environ={"OMP_NUM_THREADS": "1"})
    assert plan == ThreadPlan(intra_op=2, inter_op=2, workers=0)  # no CPU left for a worker


def test_the_users_omp_num_threads_wins_over_the_default():
    assert plan_threads(cpus=4, environ={"OMP_NUM_THREADS": "2,1"}).intra_op == 2
    assert plan_threads(cpus=4, environ={"OMP_NUM_THREADS": "x"}).intra_op == 3  # not a count


def test_loader_workers_default_to_torchs_thread_count(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert (loader_workers(cpus=4), loader_workers(cpus=5)) == (0, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: plan_threads(0), "requested: expected an int >= 1, received 0"),
        (lambda: plan_threads(cpus=2.0), "cpus: expected an int >= 1, received 2.0"),
        (lambda: loader_workers(True, cpus=2), "intra_op: expected an int >= 1, received True"),
    ],
)
def test_bad_counts_are_refused(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def _python(code: str, **environ: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **environ},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.split()


_BEFORE_TORCH = (
    "import os\n"
    "from invtransfer._threads import apply_before_torch, apply_to_torch, plan_threads\n"
    "plan = plan_threads(1, cpus=2)\n"
    "print(apply_before_torch(plan).get('OMP_NUM_THREADS', '-'))\n"
    "import torch\n"
    "print(torch.get_num_threads())\n"
    "apply_to_torch(plan)\n"
    "print(torch.get_num_threads(), torch.get_num_interop_threads())\n"
)


def test_apply_before_torch_sets_omp_num_threads_which_torch_then_follows():
    assert _python(_BEFORE_TORCH) == ["1", "1", "1", "1"]


def test_apply_before_torch_keeps_the_users_variable():
    got = _python(_BEFORE_TORCH, OMP_NUM_THREADS="2")
    assert got == ["-", "2", "1", "1"]  # torch loads with the user's 2; requested: 1


@pytest.mark.parametrize(
    ("option", "threads"), [(["--threads", "1"], 1), ([], max(1, usable_cpus() - 1))]
)
def test_main_applies_the_plan_before_the_command_imports_torch(option, threads):
    code = (
        "import os, sys\n"
        "from invtransfer import cli\n"
        "assert 'torch' not in sys.modules\n"
        "cli._print_report = lambda run_dir: print(\n"
        "    os.environ['OMP_NUM_THREADS'], sys.modules['torch'].get_num_threads()) or 0\n"
        f"sys.exit(cli.main([*{option!r}, 'report', 'runs/none']))\n"
    )
    assert _python(code) == [str(threads), str(threads)]


def test_help_loads_no_torch():
    code = (
        "import sys\n"
        "from invtransfer.cli import main\n"
        "for argv in (['--help'], ['--threads', '1', 'demo', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules)\n"
    )
    assert _python(code)[-1] == "False"
