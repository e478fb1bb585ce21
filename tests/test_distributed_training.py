"""Two gloo ranks under ``torch.distributed.run`` train exactly what one process trains: the
same indices in every epoch, each once, and the same weights, for shuffles, RS, DRS and GIT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import torch
from conftest import ROOT
from ddp_training import METHODS
from safetensors.torch import load_file

SCRIPT = ROOT / "tests" / "ddp_training.py"


def _run(out, *launcher: str) -> None:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "tests")}
    command = [sys.executable, *launcher, str(SCRIPT), str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_ranks_train_the_one_process_epochs_and_end_with_its_weights(tmp_path):
    _run(tmp_path)
    _run(tmp_path, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")
    alone = json.loads((tmp_path / "world1.json").read_text())
    shared = json.loads((tmp_path / "world2.json").read_text())
    for method in METHODS:
        for epoch, (one, both) in enumerate(zip(alone[method], shared[method], strict=True)):
            assert len(one) == len(both) == 60, (method, epoch)
            assert Counter(both) == Counter(one), (method, epoch)  # the same draws, each once
        reference = load_file(tmp_path / f"world1-rank0-{method}.safetensors")
        for rank in (0, 1):
            weights = load_file(tmp_path / f"world2-rank{rank}-{method}.safetensors")
            for name, value in reference.items():
                torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5)
    shuffled = alone["ce"][0]
    assert sorted(shuffled) == list(range(60))  # plain CE: a permutation of the training set
    assert len(set(alone["ce_rs"][0])) < 60  # class-balanced: draws with replacement
