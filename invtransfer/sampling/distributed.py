"""Sample-then-shard: every rank builds the same global stream and takes its own slice.

The global stream of an epoch has ``length`` positions. As ``torch.utils.data.
DistributedSampler`` does, it is padded (by wrapping round to its start) or cut (with
``drop_last``) to a multiple of the number of replicas, and rank ``r`` takes positions
``r, r + R, r + 2R, ...``: the shards are disjoint and their union is the stream.

A stream must be sharded once. Lightning (``Trainer(use_distributed_sampler=True)``, its
default) wraps a custom sampler in a ``DistributedSampler`` and Accelerate's ``prepare()`` wraps
the batch sampler in its ``BatchSamplerShard``: both shard again. `resharding_wrapper` recognises
them, so that a sampler can warn.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler

from invtransfer._distributed import rank_and_world
from invtransfer._validation import positive_int

__all__ = ["Shard", "resharding_wrapper", "resolve_replicas"]


def resolve_replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """``(num_replicas, rank)``, defaulting to the initialised process group, else ``(1, 0)``.

    Examples:
        >>> resolve_replicas(None, None)  # no process group here
        (1, 0)
        >>> resolve_replicas(4, 3)
        (4, 3)
    """
    group_rank, group_world = rank_and_world()
    num_replicas = group_world if num_replicas is None else num_replicas
    rank = group_rank if rank is None else rank
    positive_int("num_replicas", num_replicas)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
        raise ValueError(
            f"rank: expected an int in [0, num_replicas={num_replicas}), received {rank!r}"
        )
    return num_replicas, rank


def resharding_wrapper(caller: object) -> str | None:
    """What shards a sampler's stream again, judged by ``caller``, the object whose method
    called the sampler's ``set_epoch``; ``None`` when it does not shard.

    Two callers shard for certain: a ``DistributedSampler`` over more than one replica
    (Lightning's ``DistributedSamplerWrapper`` is one, and forwards ``set_epoch``), and a
    ``DataLoader`` whose batch sampler is Accelerate's ``BatchSamplerShard`` over more than one
    process (what ``prepare()`` builds; its ``set_epoch`` reaches the sampler inside).

    Examples:
        >>> from torch.utils.data import DistributedSampler
        >>> resharding_wrapper(DistributedSampler(range(8), num_replicas=2, rank=0))
        'a DistributedSampler over 2 replicas'
        >>> resharding_wrapper(DistributedSampler(range(8), num_replicas=1, rank=0)) is None
        True
    """
    if isinstance(caller, DistributedSampler) and caller.num_replicas > 1:
        return f"a {type(caller).__name__} over {caller.num_replicas} replicas"
    accelerate = sys.modules.get("accelerate.data_loader")  # only if the caller's code loaded it
    shard_type = getattr(accelerate, "BatchSamplerShard", None)
    if (
        shard_type is not None
        and isinstance(caller, DataLoader)
        and isinstance(caller.batch_sampler, shard_type)
        and caller.batch_sampler.num_processes > 1
    ):
        return f"Accelerate's prepare() over {caller.batch_sampler.num_processes} processes"
    return None


@dataclass(frozen=True)
class Shard:
    """One rank's share of a global stream of ``length`` positions.

    Examples:
        >>> shard = Shard(length=10, num_replicas=4, rank=1, drop_last=False)
        >>> shard.num_samples, shard.positions(0, shard.num_samples).tolist()
        (3, [1, 5, 9])
        >>> Shard(10, 4, 3, drop_last=False).positions(0, 3).tolist()  # padded: wraps round
        [3, 7, 1]
    """

    length: int
    num_replicas: int
    rank: int
    drop_last: bool

    @property
    def num_samples(self) -> int:
        """How many positions this rank takes."""
        if self.drop_last:
            return self.length // self.num_replicas
        return -(-self.length // self.num_replicas)

    def blocks(self, start: int, size: int) -> Iterator[tuple[int, int]]:
        """Ranges ``(first, stop)`` of this rank's steps from ``start`` on, each covering the
        global positions of one block of ``size`` positions of the stream.

        Examples:
            >>> list(Shard(10, 2, 1, drop_last=False).blocks(0, 4))
            [(0, 2), (2, 4), (4, 5)]
        """
        step = start
        while step < self.num_samples:
            boundary = ((self.rank + step * self.num_replicas) // size + 1) * size
            stop = min(-(-(boundary - self.rank) // self.num_replicas), self.num_samples)
            yield step, stop
            step = stop

    def positions(self, start: int, stop: int) -> Tensor:
        """Global positions of this rank's steps ``start .. stop - 1`` (int64)."""
        steps = torch.arange(start, stop, dtype=torch.long)
        return (self.rank + steps * self.num_replicas) % self.length
