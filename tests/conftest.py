"""Shared fixtures: a catalogue of every family, and hypothesis settings sized for CI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import HealthCheck, settings
from torchvision.transforms import v2

from invtransfer import transforms as T

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("INVTRANSFER_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")

FAMILIES = {
    "rotation": lambda: T.Rotation(),
    "rotation_bicubic": lambda: T.Rotation(degrees=(-90, 90), interpolation="bicubic"),
    "affine": lambda: T.Affine(degrees=20, translate=0.1, scale=(0.8, 1.2), shear=10),
    "hflip": lambda: T.HorizontalFlip(),
    "crop": lambda: T.RandomCrop(padding=4),
    "background": lambda: T.BackgroundIntensity(),
    "brightness": lambda: T.Brightness(),
    "contrast": lambda: T.Contrast(),
    "gamma": lambda: T.Gamma(),
    "saturation": lambda: T.Saturation(),
    "blur": lambda: T.GaussianBlur(),
    "morphology": lambda: T.Morphology(),
    "compose": lambda: T.Compose([T.Rotation(degrees=30), T.Morphology()]),
    "choice": lambda: T.RandomChoice([T.Rotation(), T.Brightness(), T.Morphology()]),
    "apply": lambda: T.RandomApply(T.Contrast(), p=0.5),
    "torchvision": lambda: T.from_torchvision(v2.RandomRotation(45)),
}
"""Every family the library ships, with settings that make its effect visible."""

RGB_ONLY = {"saturation"}


def make_family(name: str) -> T.TransformFamily:
    """A fresh family from the catalogue."""
    return FAMILIES[name]()


every_family = pytest.mark.parametrize("family_name", sorted(FAMILIES))
"""Run a test once per family in the catalogue, as the ``family_name`` argument."""


def seeded(seed: int = 0) -> torch.Generator:
    """A CPU generator with a fixed seed."""
    return torch.Generator().manual_seed(seed)


def images(n: int = 4, channels: int = 3, size: int = 12, seed: int = 0) -> torch.Tensor:
    """Float images in [0, 1] with structure (a bright square) and noise."""
    x = torch.rand(n, channels, size, size, generator=seeded(seed)) * 0.5
    x[..., size // 4 : size // 2, size // 3 : 3 * size // 4] += 0.5
    return x


ROOT = Path(__file__).resolve().parents[1]
"""The repository root."""


def run_script(path: str, *args: object) -> subprocess.CompletedProcess:
    """Run a script of the repository (e.g. ``"examples/x.py"``); fail with its stderr."""
    command = [sys.executable, ROOT / path, *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def run_on_two_ranks(task: Callable[[int], object], tmp_path: Path) -> list[object]:
    """Run ``task(rank)`` in two spawned processes joined in a gloo group; return what each
    returned, by rank. ``task`` must be a module-level function and return plain data."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    init = str(tmp_path / "gloo-init")
    mp.start_processes(_gloo_rank, args=(2, init, task, queue), nprocs=2, start_method="spawn")
    results = dict(queue.get(timeout=60) for _ in range(2))
    return [results[rank] for rank in range(2)]


def _gloo_rank(rank: int, world: int, init: str, task: Callable[[int], object], queue) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        queue.put((rank, task(rank)))
    finally:
        dist.destroy_process_group()
