"""``ClassBalancedSampler`` against ``torch.utils.data.WeightedRandomSampler``.

Labels: 1000 classes with a long-tailed exponential profile (imbalance 100: the largest class
is 100 times the smallest), scaled so that the counts sum to exactly N, in an order shuffled
by a seeded ``torch.Generator``. Both contenders draw one class-balanced epoch of N indices
with replacement, and both are consumed the way a ``DataLoader`` consumes a sampler: every
index is pulled through the Python iterator.

- **ours**: ``ClassBalancedSampler(labels, power=0.0, seed=0)``. *construction* is the
  constructor (class counts and the stable sort that groups the labels); *epoch* is
  ``list(sampler)`` on the constructed sampler.
- **peer**: ``WeightedRandomSampler(weights, num_samples=N, replacement=True, generator=g)``
  with per-sample weights ``1 / n_label``. *weights* is building that vector
  (``1.0 / torch.bincount(labels).double()[labels]``); *epoch* is ``list(sampler)``, i.e.
  one ``torch.multinomial`` call over N categories and the Python iteration of its result.

Case 1 (N = 10M; ``--quick``: 1M) runs one untimed warm-up round on 100k labels, then
``--repeats`` rounds (ours, then the peer), and reports the median of each column. Rows:
our construction alone; epoch against epoch (``list(sampler)`` on both prebuilt samplers);
and our construction + epoch against the peer's epoch. The peer's weight-vector time has its
own column and is added to the peer's side only in the ``(peer+w)/ours`` ratio, so each
epoch row gives the speed-up without and with it. Target: peer/ours >= 5.

Case 2 (N = 100M; ``--quick``: 10M) is beyond ``WeightedRandomSampler``: ``torch.multinomial``
takes at most 2**24 categories. Ours is timed once: construction, the first 1M indices, and
the full epoch when its estimate (the first-1M time scaled to N) fits in what is left of
``--budget`` seconds. Then the peer gets its weights built and one try at the same epoch;
its error is caught and printed (``refused``; with ``--quick`` it is within the limit and
timed). Both epochs are consumed without being stored (``deque(sampler, maxlen=0)``), as a
training loop does. The peak RSS (``resource.getrusage(...).ru_maxrss``; current RSS from
``/proc/self/statm`` beside it on Linux) is printed after each step: iterating adds nothing
to the peak, since the sampler keeps only the labels' sort order and makes the stream in
fixed-size chunks.

Run from the repository root::

    .venv/bin/python benchmarks/samplers.py          # 10M and 100M labels, 1.5-2.5 min on 2 cores
    .venv/bin/python benchmarks/samplers.py --quick  # 1M and 10M labels, about 20 s
"""

from __future__ import annotations

import argparse
import collections
import itertools
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import WeightedRandomSampler

import invtransfer
from invtransfer.sampling import ClassBalancedSampler

NUM_CLASSES = 1000
IMBALANCE = 100.0
TARGET = 5.0
PREFIX = 1_000_000
WARMUP = 100_000
PEER = "WeightedRandomSampler(1 / n_label, num_samples=N, replacement=True, generator=g)"
OURS = "ClassBalancedSampler(labels, power=0.0, seed=0)"

Row = tuple[str, float | None, float | str | None, float | None]
"""``(case, ours, peer, weights)``: seconds; the peer's error message; ``None`` for none."""


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M and 10M labels, 1 repeat")
    parser.add_argument("--repeats", type=int, help="rounds for case 1 (default 3; quick 1)")
    parser.add_argument("--budget", type=float, default=200.0, help="seconds for the run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.sizes = (1_000_000, 10_000_000) if args.quick else (10_000_000, 100_000_000)
    return args


def longtail_labels(total: int, seed: int) -> Tensor:
    """``total`` int64 labels over ``NUM_CLASSES`` exponentially decaying classes, shuffled."""
    decay = IMBALANCE ** -(torch.arange(NUM_CLASSES, dtype=torch.float64) / (NUM_CLASSES - 1))
    counts = (decay / decay.sum() * total).floor().long().clamp_min(1)
    counts[0] += total - int(counts.sum())
    generator = torch.Generator().manual_seed(seed)
    labels = torch.repeat_interleave(torch.arange(NUM_CLASSES), counts)
    return labels[torch.randperm(total, generator=generator)]


def inverse_count_weights(labels: Tensor) -> Tensor:
    """The peer's per-sample weights ``1 / n_label`` (float64, what it converts to anyway)."""
    return 1.0 / torch.bincount(labels).double()[labels]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call, timed with ``time.perf_counter``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def memory() -> str:
    """Peak resident memory so far (``ru_maxrss``) and, on Linux, the current one, in GiB."""
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**30
    try:
        with open("/proc/self/statm") as statm:
            now = int(statm.read().split()[1]) * resource.getpagesize() / 2**30
    except OSError:
        return f"peak RSS {peak:.2f} GiB"
    return f"peak RSS {peak:.2f} GiB (now {now:.2f})"


def count(n: int) -> str:
    """``10_000_000`` -> ``'10M'``."""
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else str(n)


def time_ours(labels: Tensor) -> dict[str, float]:
    """Our construction and one full epoch, ``list(sampler)``."""
    construct, sampler = timed(lambda: ClassBalancedSampler(labels, power=0.0, seed=0))
    epoch, _ = timed(lambda: list(sampler))
    return {"construct": construct, "ours": epoch}


def time_peer(labels: Tensor, seed: int) -> dict[str, float]:
    """The peer's weight vector and one full epoch, ``list(sampler)``."""
    weights_seconds, weights = timed(lambda: inverse_count_weights(labels))
    generator = torch.Generator().manual_seed(seed)
    sampler = WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator)
    epoch, _ = timed(lambda: list(sampler))
    return {"weights": weights_seconds, "peer": epoch}


def one_round(labels: Tensor, seed: int) -> dict[str, float]:
    """Case 1, one round: ours, then the peer (each frees its epoch before the other runs)."""
    return time_ours(labels) | time_peer(labels, seed)


def case_epoch(total: int, repeats: int, seed: int) -> list[Row]:
    """Case 1: medians over ``repeats`` rounds; the three peer/ours ratios as rows."""
    one_round(longtail_labels(WARMUP, seed), seed)  # untimed: first-call costs
    labels = longtail_labels(total, seed)
    rounds = [one_round(labels, seed) for _ in range(repeats)]

    def median(*parts: str) -> float:
        return statistics.median(sum(r[p] for p in parts) for r in rounds)

    n = count(total)
    return [
        (f"{n} construction (grouping)", median("construct"), None, None),
        (f"{n} epoch, list(sampler)", median("ours"), median("peer"), median("weights")),
        (
            f"{n} construction + epoch",
            median("construct", "ours"),
            median("peer"),
            median("weights"),
        ),
    ]


def time_ours_large(labels: Tensor, deadline: float) -> tuple[list[Row], float | None, list[str]]:
    """Case 2, ours once: construction, the first 1M indices, the full epoch if it fits."""
    n, notes = count(len(labels)), []
    construct, sampler = timed(lambda: ClassBalancedSampler(labels, power=0.0, seed=0))
    notes.append(f"after our construction:      {memory()}")
    prefix = min(PREFIX, len(labels))
    first, _ = timed(lambda: collections.deque(itertools.islice(sampler, prefix), maxlen=0))
    notes.append(f"after our first {count(prefix)} indices: {memory()}")
    rows: list[Row] = [
        (f"{n} construction (grouping)", construct, None, None),
        (f"{n} first {count(prefix)} indices", first, None, None),
    ]
    estimate, epoch = first * len(labels) / prefix, None
    if time.perf_counter() + estimate <= deadline:
        epoch, _ = timed(lambda: collections.deque(sampler, maxlen=0))
        notes.append(f"after our full epoch:        {memory()}")
    else:
        notes.append(f"our full epoch skipped: estimated {estimate:.0f} s exceeds --budget")
    return rows, epoch, notes


def try_peer(labels: Tensor, seed: int) -> tuple[float | str, float]:
    """The peer's epoch on ``labels`` (seconds) or its error message; and the weights' time."""
    weights_seconds, weights = timed(lambda: inverse_count_weights(labels))
    generator = torch.Generator().manual_seed(seed)
    sampler = WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator)
    try:
        epoch, _ = timed(lambda: collections.deque(sampler, maxlen=0))
    except RuntimeError as error:
        return f"refused: {error}", weights_seconds
    return epoch, weights_seconds


def case_large(total: int, seed: int, deadline: float) -> tuple[list[Row], list[str]]:
    """Case 2: build the labels, time ours, then let the peer try (weights built first)."""
    seconds, labels = timed(lambda: longtail_labels(total, seed))
    notes = [f"{count(total)} labels built in {seconds:.1f} s: {memory()}"]
    rows, epoch, ours_notes = time_ours_large(labels, deadline)
    peer, weights_seconds = try_peer(labels, seed)
    notes += ours_notes
    notes.append(f"after the peer's try (weights built in {weights_seconds:.1f} s): {memory()}")
    rows.append((f"{count(total)} epoch (not stored)", epoch, peer, weights_seconds))
    return rows, notes


def header(args: argparse.Namespace) -> str:
    """Versions, device, threads and timing settings."""
    return (
        f"python {platform.python_version()} | torch {torch.__version__} | "
        f"invtransfer {invtransfer.__version__}\n"
        f"device: cpu ({platform.processor() or platform.machine()}) | "
        f"threads: {torch.get_num_threads()} | {NUM_CLASSES} classes, imbalance {IMBALANCE:g} | "
        f"case 1: median of {args.repeats} rounds, case 2: one run | seconds"
    )


def cell(value: float | str | None) -> str:
    """A time in seconds, ``'-'`` for none, or ``'refused'`` for an error message."""
    if value is None:
        return "-"
    return "refused" if isinstance(value, str) else f"{value:.2f}"


def ratio_cell(peer: float | str | None, ours: float | None) -> str:
    """The speed-up peer/ours with its target check, e.g. ``'6.1x ok'``; ``'-'`` if none."""
    if not isinstance(peer, float) or ours is None:
        return "-"
    return f"{peer / ours:.2f}x {'ok' if peer / ours >= TARGET else 'MISS'}"


def table(rows: list[Row]) -> str:
    """One line per case: the times, and peer/ours without and with the peer's weights."""
    layout = "{:<30}{:>10}{:>10}{:>13}{:>13}{:>17}"
    lines = [
        layout.format("case", "ours (s)", "peer (s)", "weights (s)", "peer/ours", "(peer+w)/ours")
    ]
    for case, ours, peer, weights in rows:
        with_weights = peer + weights if isinstance(peer, float) and weights is not None else None
        lines.append(
            layout.format(
                case,
                cell(ours),
                cell(peer),
                cell(weights),
                ratio_cell(peer, ours),
                ratio_cell(with_weights, ours),
            )
        )
    lines.append(f"target: peer/ours >= {TARGET:g} (both ratios)")
    return "\n".join(lines)


def main() -> None:
    """Run both cases and print the table, the peer's error and the memory trace."""
    args = parse_args()
    deadline = time.perf_counter() + args.budget
    print(header(args), flush=True)
    rows = case_epoch(args.sizes[0], args.repeats, args.seed)
    large, notes = case_large(args.sizes[1], args.seed, deadline)
    print(table(rows + large))
    print(f"ours = {OURS}\npeer = {PEER}")
    print(
        "ours (s): our constructor, our epoch, or both, as the case says; peer (s): the "
        "peer's epoch alone;\nepoch = list(sampler) in case 1, deque(sampler, maxlen=0) "
        "(not stored) in case 2;\nweights (s): building the peer's 1 / n_label vector, "
        "counted only in (peer+w)/ours"
    )
    for _, _, peer, _ in large:
        if isinstance(peer, str):
            print(f"peer on {count(args.sizes[1])} labels: {peer}")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
