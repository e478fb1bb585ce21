"""The process group, when there is one: this process's rank, the world size, a barrier, and
the group that ``torchrun`` describes in the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist

__all__ = ["barrier", "process_group_from_env", "rank_and_world"]


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of the initialised process group, or ``(0, 1)`` without one.

    Examples:
        >>> rank_and_world()  # no process group here
        (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    """Wait for every rank of the process group; nothing without one."""
    if rank_and_world()[1] > 1:
        dist.barrier()


@contextmanager
def process_group_from_env() -> Iterator[None]:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` > 1 in the environment)
    for the duration of the block, and leave it after: NCCL with this rank's own GPU
    (``cuda:LOCAL_RANK`` becomes the current device, so ``"cuda"`` means it), else Gloo.

    Examples:
        >>> with process_group_from_env():  # not under torchrun: no group
        ...     print(rank_and_world())
        (0, 1)
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield
        return
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()
