"""ClassBalancedSampler under DistributedDataParallel: balanced, disjoint shards per rank.

A plain DDP training loop on the CPU (gloo backend) over Glyphs-LT (the embedded procedural
glyphs, Zipf class sizes, no files): every rank builds ``ClassBalancedSampler(labels,
power=0, seed=...)``, which reads the rank and world size from the process group, draws
every class equally often (a class, then a member of it), and gives each rank its own strided
slice of one shared stream. Each epoch calls ``sampler.set_epoch(epoch)``, trains a
``small_cnn`` wrapped in ``DistributedDataParallel``, then gathers what every rank drew;
rank 0 logs the class histogram of the epoch's draws over all ranks (about equal, although
the dataset is long-tailed), that the ranks' stream positions are disjoint and together
rebuild the single-process stream, and the test balanced accuracy at the end.

Run it with torchrun, or as a plain script, which starts ``--world-size`` CPU processes
itself with ``torch.multiprocessing`` (``--start-method spawn``, or ``fork``: faster to
start, as the processes need not import everything again) and a ``file://`` rendezvous in a
temporary folder. The defaults take well under a minute on a 2-core CPU:

    torchrun --nproc_per_node=2 examples/balanced_sampler_ddp.py
    python examples/balanced_sampler_ddp.py --world-size 2
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, TensorDataset

from invtransfer.data import glyphs_lt
from invtransfer.metrics import balanced_accuracy
from invtransfer.models import small_cnn
from invtransfer.sampling import ClassBalancedSampler

log = logging.getLogger("balanced_sampler_ddp")


def in_memory(dataset: Dataset) -> tuple[Tensor, Tensor]:
    """Every image (``uint8``) and label of ``dataset``."""
    items = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
    return torch.stack([image for image, _ in items]), torch.as_tensor([int(y) for _, y in items])


def gather(values: Tensor) -> Tensor:
    """``values`` of every rank, stacked by rank (each rank holds as many: the sampler pads)."""
    out = [torch.empty_like(values) for _ in range(dist.get_world_size())]
    dist.all_gather(out, values)
    return torch.stack(out)


def check_epoch(drawn: Tensor, labels: Tensor, args: argparse.Namespace, epoch: int) -> None:
    """Rank 0: the class histogram of one epoch's draws over all ranks, and whether rank
    ``r`` drew exactly positions ``r, r + R, ...`` of the single-process stream."""
    world = len(drawn)
    histogram = labels[drawn.flatten()].bincount(minlength=int(labels.max()) + 1)
    log.info(
        "epoch %d: %d draws over %d ranks, per class %s (dataset: %s)",
        epoch, drawn.numel(), world, histogram.tolist(), labels.bincount().tolist(),
    )  # fmt: skip
    # Position p of the shared stream went to rank p % world: interleave the ranks back.
    interleaved = drawn.T.flatten()
    reference = ClassBalancedSampler(labels, power=0, seed=args.seed, num_replicas=1, rank=0)
    reference.set_epoch(epoch)
    stream = torch.as_tensor(list(reference))
    rebuilt = torch.equal(interleaved[: len(stream)], stream)
    log.info(
        "epoch %d: rank r drew stream positions r, r+%d, ... (disjoint, %d each): "
        "interleaved they %s the single-process stream",
        epoch, world, drawn.shape[1], "rebuild" if rebuilt else "DO NOT rebuild",
    )  # fmt: skip
    if not rebuilt:
        raise RuntimeError("the ranks' shards do not rebuild the global stream")


def train(args: argparse.Namespace) -> None:
    """One rank's work, inside an initialised process group."""
    rank = dist.get_rank()
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"[rank {rank}] %(message)s")  # fmt: skip
    torch.set_num_threads(1)  # the ranks share the machine's cores
    splits = glyphs_lt(
        None, num_classes=args.classes, per_class=args.per_class,
        test_per_class=args.test_per_class, max_count=args.max_count,
        val_per_class=1, seed=args.seed,  # this example uses no validation split
    )  # fmt: skip
    images, labels = in_memory(splits.train)  # every rank builds the same data
    dataset = TensorDataset(images, labels, torch.arange(len(labels)))  # index: what was drawn

    sampler = ClassBalancedSampler(labels, power=0, seed=args.seed)  # rank, world: from dist
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    torch.manual_seed(args.seed)  # initial weights (DDP copies rank 0's to every rank)
    model = DistributedDataParallel(small_cnn(splits.num_classes))
    optimizer = torch.optim.SGD(model.parameters(), args.lr, momentum=0.9)
    log.info(
        "%d ranks; each draws %d of the %d indices of an epoch", dist.get_world_size(),
        len(sampler), len(labels),
    )  # fmt: skip
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new stream, the same on every rank
        model.train()
        indices = []
        for x, y, index in loader:
            loss = torch.nn.functional.cross_entropy(model(x.float() / 255), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # DDP averages the gradients over the ranks
            optimizer.step()
            indices.append(index)
        drawn = gather(torch.cat(indices))  # (world, indices per rank)
        if rank == 0:
            check_epoch(drawn, labels, args, epoch)
        log.info("epoch %d: last loss %.4f", epoch, loss.item())

    if rank == 0:  # every rank holds the same weights after each step
        test_images, test_labels = in_memory(splits.test)
        with torch.no_grad():
            logits = model.module.eval()(test_images.float() / 255)
        log.info("test balanced accuracy %.3f", balanced_accuracy(logits, test_labels))


def spawned(rank: int, world: int, init_method: str, args: argparse.Namespace) -> None:
    """Entry point of a process started by `main` (no torchrun)."""
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world)
    try:
        train(args)
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-size", type=int, default=2, help="processes, without torchrun")
    parser.add_argument(
        "--start-method", choices=["spawn", "fork"], default="spawn",
        help="how processes start, without torchrun: fork starts faster (Linux, CPU only)",
    )  # fmt: skip
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=300, help="glyphs drawn per class")
    parser.add_argument("--test-per-class", type=int, default=50)
    parser.add_argument("--max-count", type=int, default=400, help="largest class size")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
        dist.init_process_group("gloo")  # env:// rendezvous
        try:
            train(args)
        finally:
            dist.destroy_process_group()
        return
    with tempfile.TemporaryDirectory() as folder:
        init_method = (Path(folder) / "rendezvous").as_uri()  # file:///...: no port to pick
        mp.start_processes(
            spawned, args=(args.world_size, init_method, args), nprocs=args.world_size,
            start_method=args.start_method,
        )  # fmt: skip


if __name__ == "__main__":
    main()
