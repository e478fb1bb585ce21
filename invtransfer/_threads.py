"""CPU threads that hold up when another process competes for the cores.

PyTorch's CPU operators split their work into equal shares, one per intra-op (OpenMP)
thread, and wait for the slowest share. When a busy process shares a core with one of those
threads, that share runs at half speed and every operator waits for it, while the threads
that finished spin at the barrier (libgomp spins a few milliseconds before it sleeps) and
take CPU time from the very thread they wait for. The plan:

- Intra-op threads: one fewer than the CPUs this process may use (its affinity mask; under
  ``torchrun``, its rank's share of them), at least one, so that one competing process
  (another job, a DataLoader worker, the desktop) finds a free CPU instead of a straggler;
  ``--threads`` or the user's ``OMP_NUM_THREADS`` instead, when given (``torchrun`` sets
  the latter to 1 unless the user did).
- Inter-op threads: as many (they sleep while idle).
- DataLoader workers: one when the intra-op threads leave a CPU free (it decodes while the
  thread computes), else none (a busy worker would make a straggler of a compute thread,
  just as a competitor does).
- The OpenMP wait policy stays the runtime's (the user's ``OMP_WAIT_POLICY`` if set):
  ``PASSIVE`` makes a competitor cost a two-thread team less, but makes the team slower
  alone than a single thread; a single thread has no team to wait for.

Measured on a 2-core VM, seconds, runs during which other processes took under 0.15 CPU
(2-7 runs each, interleaved): 50 steps of small_cnn at batch 64 and 150 of a MUNIT-like net
at batch 8; then an epoch of the runner's loader on the demo's data.

| threads | alone | beside one busy process |
| --- | --- | --- |
| 2, default wait policy | 2.9-3.2 | 8.8-13.2 |
| 2, ``OMP_WAIT_POLICY=PASSIVE`` | 5.1-5.3 | 6.5-9.6 |
| 1 | 3.5-4.6 | 3.5-5.4 |
| epoch: 2 threads, no worker | 0.90-0.97 | 2.2-3.9 |
| epoch: 1 thread, no worker | 1.23-1.47 | 1.14-1.41 |
| epoch: 1 thread, 1 worker | 1.01-1.24 | 1.19-1.61 |
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from invtransfer._validation import positive_int

__all__ = [
    "ThreadPlan",
    "apply_before_torch",
    "apply_to_torch",
    "loader_workers",
    "plan_threads",
    "usable_cpus",
]


@dataclass(frozen=True)
class ThreadPlan:
    """How many CPU threads and DataLoader worker processes a run uses.

    Attributes:
        intra_op: threads of one operator (``torch.set_num_threads``, ``OMP_NUM_THREADS``).
        inter_op: threads that run independent operators (``torch.set_num_interop_threads``).
        workers: DataLoader worker processes, for a CPU the intra-op threads leave free.

    Examples:
        >>> ThreadPlan(intra_op=1, inter_op=1, workers=1).workers
        1
    """

    intra_op: int
    inter_op: int
    workers: int


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the OS has one, else all.

    Examples:
        >>> usable_cpus() >= 1
        True
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def plan_threads(
    requested: int | None = None,
    *,
    cpus: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> ThreadPlan:
    """The thread plan of a run: ``requested`` intra-op threads, else the user's
    ``OMP_NUM_THREADS``, else one fewer than ``cpus`` (at least one).

    Args:
        requested: intra-op threads (the CLI's ``--threads``); wins over the environment.
        cpus: the CPUs to plan for (default: `usable_cpus`, shared among the
            ``LOCAL_WORLD_SIZE`` processes ``torchrun`` starts on this machine).
        environ: where to read ``OMP_NUM_THREADS`` and ``LOCAL_WORLD_SIZE`` (default
            ``os.environ``).

    Examples:
        >>> plan_threads(cpus=2, environ={})  # one CPU left for a competitor or a worker
        ThreadPlan(intra_op=1, inter_op=1, workers=1)
        >>> plan_threads(cpus=8, environ={"OMP_NUM_THREADS": "8"})
        ThreadPlan(intra_op=8, inter_op=8, workers=0)
        >>> plan_threads(2, cpus=8, environ={"OMP_NUM_THREADS": "8"}).intra_op
        2
    """
    environ = os.environ if environ is None else environ
    cpus = _cpus_of_this_rank(environ) if cpus is None else positive_int("cpus", cpus)
    if requested is not None:
        positive_int("requested", requested)
    intra_op = requested or _threads_from(environ) or max(1, cpus - 1)
    return ThreadPlan(intra_op, inter_op=intra_op, workers=loader_workers(intra_op, cpus=cpus))


def loader_workers(intra_op: int | None = None, *, cpus: int | None = None) -> int:
    """DataLoader workers for a CPU run beside ``intra_op`` compute threads (default:
    torch's current count): one when they leave one of ``cpus`` free (default: as for
    `plan_threads`), else none.

    Examples:
        >>> loader_workers(1, cpus=2), loader_workers(2, cpus=2), loader_workers(1, cpus=16)
        (1, 0, 1)
    """
    if intra_op is None:
        import torch

        intra_op = torch.get_num_threads()
    cpus = _cpus_of_this_rank(os.environ) if cpus is None else positive_int("cpus", cpus)
    return 1 if positive_int("intra_op", intra_op) < cpus else 0


def apply_before_torch(plan: ThreadPlan) -> dict[str, str]:
    """Set ``OMP_NUM_THREADS``, which torch's OpenMP runtime (and any other loaded after,
    and child processes) read when they load, unless the user set it; return what it set.
    Sets nothing once torch is imported: its runtime has read the variable already.

    Examples:
        >>> import torch  # already loaded: too late
        >>> apply_before_torch(plan_threads(1, cpus=1, environ={}))
        {}
    """
    if "torch" in sys.modules or "OMP_NUM_THREADS" in os.environ:
        return {}
    os.environ["OMP_NUM_THREADS"] = str(plan.intra_op)
    return {"OMP_NUM_THREADS": str(plan.intra_op)}


def apply_to_torch(plan: ThreadPlan) -> None:
    """Give torch the plan's intra-op and inter-op threads; the inter-op count stays as it
    was when torch refuses to change it (it can be set once, before inter-op work starts).

    Examples:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> apply_to_torch(ThreadPlan(1, inter_op=torch.get_num_interop_threads(), workers=0))
        >>> torch.get_num_threads()
        1
        >>> torch.set_num_threads(before)
    """
    import torch

    torch.set_num_threads(plan.intra_op)
    if torch.get_num_interop_threads() != plan.inter_op:
        # torch refuses once it was set, or once inter-op work has started: keep it then
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(plan.inter_op)


def _cpus_of_this_rank(environ: Mapping[str, str]) -> int:
    """`usable_cpus` shared among the ``LOCAL_WORLD_SIZE`` ranks on this machine."""
    ranks = _count_from(environ.get("LOCAL_WORLD_SIZE", "")) or 1
    return max(1, usable_cpus() // ranks)


def _threads_from(environ: Mapping[str, str]) -> int | None:
    """The user's ``OMP_NUM_THREADS`` (its first level: ``"4,2"`` -> 4), if a count."""
    return _count_from(environ.get("OMP_NUM_THREADS", "").split(",")[0])


def _count_from(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None
