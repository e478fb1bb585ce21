"""Timing shared by the benchmarks: contenders measured in interleaved rounds, in one run."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch


def interleaved_medians(
    bench: dict[str, Callable[[], object]], warmup: int, repeats: int, device: torch.device
) -> dict[str, float]:
    """Median seconds per call of each contender. Each gets ``warmup`` untimed calls, then
    the contenders take turns within every round, so that a busy machine slows them alike,
    in reversed order every other round, so that going first or second (caches warmed or
    cooled by the other) favours none of them."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    for fn in bench.values():
        for _ in range(warmup):
            fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in bench}
    contenders = list(bench.items())
    for round_ in range(repeats):
        for name, fn in contenders if round_ % 2 == 0 else contenders[::-1]:
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def checked_device(parser: argparse.ArgumentParser, name: str) -> torch.device:
    """The device ``name``, or a parser error when it is CUDA and none is available."""
    if name == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    return torch.device(name)
