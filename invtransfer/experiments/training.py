"""Train one classifier with one method: the paper's SGD loop, checkpointed every epoch.

Every random draw is a function of ``(seed, epoch)``: the batch order, the class-balanced
draws and GIT's translations. A checkpoint (model, optimizer, schedule, epoch) is written
atomically after every epoch, so a killed run started again continues from the last
finished epoch and ends with exactly the weights of an uninterrupted run.

Each run also keeps its checkpoint at the defer epoch, where deferred methods part from plain
CE. A method that trains exactly as CE until then (CE+DRS, the GIT variants) starts from the
CE run's checkpoint there when it is given one, and ends with the weights it would have had
from scratch.

Under ``torchrun`` (an initialised process group) the model is wrapped in
``DistributedDataParallel`` and each rank trains on every ``world``-th image of each batch
(the batch size stays global), with the batch's augmentation drawn once for the whole batch;
rank 0 writes the checkpoints.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from invtransfer._distributed import barrier, rank_and_world
from invtransfer._seeding import derive_seed, generator_for
from invtransfer.experiments.config import ExperimentConfig
from invtransfer.experiments.datasets import ExperimentData
from invtransfer.experiments.lr import warmup_step_lr
from invtransfer.experiments.methods import method_parts
from invtransfer.generative import GenerativeAugment, MUNITGenerator
from invtransfer.generative.checkpoint import (
    latest_numbered,
    load_module,
    optimizer_from_files,
    optimizer_to_files,
    prune_numbered,
    read_json,
    read_tensors,
    write_folder,
)
from invtransfer.models import resnet20, resnet32, small_cnn
from invtransfer.sampling import ClassBalancedSampler, Schedule
from invtransfer.transforms import Compose, HorizontalFlip, RandomCrop, TransformFamily

__all__ = ["AUGMENTATIONS", "MODELS", "build_model", "train_run"]

log = logging.getLogger(__name__)

MODELS: dict[str, Callable[[int, int, int], nn.Module]] = {
    "resnet20": lambda classes, channels, size: resnet20(classes, channels),
    "resnet32": lambda classes, channels, size: resnet32(classes, channels),
    "small_cnn": lambda classes, channels, size: small_cnn(classes, channels, size),
}
"""Classifiers by name, built from ``(num_classes, channels, image size)``."""

AUGMENTATIONS: dict[str, Callable[[], TransformFamily]] = {
    "crop": lambda: RandomCrop(padding=4),
    "crop_flip": lambda: Compose([RandomCrop(padding=4), HorizontalFlip()]),
}
"""Training-time augmentations by name (``train.augmentation``): ``crop_flip`` is the CIFAR
recipe (pad by 4, crop back at random, flip left-right half the time), ``crop`` the same
without the flip (for traffic signs, where a flip changes the class). Each batch's draws
come from ``(seed, epoch, batch)``."""

_AUGMENTATION_STREAM = 2  # draws from (seed, 2, epoch, batch), apart from GIT's (seed, 0, ...)


def build_model(
    name: str, num_classes: int, image_shape: tuple[int, int, int], seed: int
) -> nn.Module:
    """The classifier ``name``, its initial weights a function of ``seed`` alone (the global
    RNG is left as it was).

    Examples:
        >>> model = build_model("small_cnn", 3, (1, 28, 28), seed=0)
        >>> model(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 3])
    """
    if name not in MODELS:
        raise ValueError(f"model.name: expected one of {sorted(MODELS)}, received {name!r}")
    channels, height, _ = image_shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed))
        return MODELS[name](num_classes, channels, height)


def train_run(
    config: ExperimentConfig,
    data: ExperimentData,
    method: str,
    seed: int,
    run_dir: str | Path,
    generator: MUNITGenerator | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    erm_run: str | Path | None = None,
) -> nn.Module:
    """Train a classifier on ``data.train`` with ``method``, resuming from the last epoch
    checkpointed in ``run_dir/checkpoints``; return it in eval mode.

    ``erm_run`` is the folder of the plain CE run with the same config and seed. A method
    that trains as CE until the defer epoch and has no checkpoint of its own starts from that
    run's checkpoint at the defer epoch, when there is one.

    Raises:
        ValueError: ``method`` needs GIT and no ``generator`` was given.
    """
    train, (rank, world) = config.train, rank_and_world()
    parts = method_parts(method, data.class_counts, train.deferred_start)
    model = build_model(config.model.name, data.num_classes, data.image_shape, seed).to(device)
    loss = parts.loss.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), train.lr, momentum=train.momentum, weight_decay=train.weight_decay
    )
    schedule = warmup_step_lr(optimizer, train.warmup_epochs, train.milestones, train.gamma)
    augment = _generative_augment(config, method, generator, seed, device) if parts.git else None
    augmentation = _augmentation(train.augmentation)
    set_loss_epoch = getattr(loss, "set_epoch", None)  # DRW and LDAM-DRW switch by epoch
    checkpoints = Path(run_dir) / "checkpoints"
    if erm_run is not None and parts.erm_until_defer and rank == 0:
        _fork(Path(erm_run) / "checkpoints", checkpoints, train.deferred_start)
    barrier()
    first = _resume(checkpoints, model, optimizer, schedule)
    trained = DistributedDataParallel(model) if world > 1 else model
    order = _batch_order(parts.sampling_power, data.train_labels, seed)
    for epoch in tqdm(
        range(first, train.epochs),
        desc=method,
        disable=not progress,
        initial=first,
        total=train.epochs,
    ):
        model.train()
        if set_loss_epoch is not None:
            set_loss_epoch(epoch)
        if augment is not None:
            augment.set_epoch(epoch)
        batches = _batches(data, order(epoch), train.batch_size, augmentation, seed, epoch, device)
        total = _train_epoch(trained, loss, optimizer, batches, augment)
        schedule.step()
        if rank == 0:
            _save(checkpoints, epoch + 1, model, optimizer, schedule, train.deferred_start)
        log.info(
            "%s seed %d: epoch %d/%d, train loss %.4f", method, seed, epoch + 1, train.epochs, total
        )
    barrier()
    return model.eval()


def _generative_augment(
    config: ExperimentConfig,
    method: str,
    generator: MUNITGenerator | None,
    seed: int,
    device: torch.device | str,
) -> GenerativeAugment:
    """GIT from the defer epoch on; each rank of a process group draws its own translations."""
    if generator is None:
        raise ValueError(f"generator: method {method!r} needs a generator, received None")
    rank, world = rank_and_world()
    return GenerativeAugment(
        generator,
        config.git.fraction,
        start_epoch=config.train.deferred_start,
        seed=seed if world == 1 else derive_seed(seed, rank),
    ).to(device)


def _augmentation(name: str | None) -> TransformFamily | None:
    if name is None:
        return None
    if name not in AUGMENTATIONS:
        raise ValueError(
            f"train.augmentation: expected one of {sorted(AUGMENTATIONS)} or None, "
            f"received {name!r}"
        )
    return AUGMENTATIONS[name]()


def _batches(
    data: ExperimentData,
    order: Tensor,
    batch_size: int,
    augmentation: TransformFamily | None,
    seed: int,
    epoch: int,
    device: torch.device | str,
) -> Iterator[tuple[Tensor, Tensor]]:
    """This rank's share (every ``world``-th image) of each batch of ``order`` on ``device``:
    float images in [0, 1], augmented with draws for the whole batch from ``(seed, epoch,
    batch)``, and labels. Batches that would leave a rank one image are left out (batch norm
    cannot train on one)."""
    rank, world = rank_and_world()
    for index, batch in enumerate(order.split(batch_size)):
        if len(batch) < 2 * world:
            continue
        mine = batch[rank::world]
        x = data.train_images[mine].to(device).float().div_(255)
        if augmentation is not None:
            draws = generator_for(seed, _AUGMENTATION_STREAM, epoch, index, device=x.device)
            x = augmentation.apply(x, augmentation.sample(len(batch), draws)[rank::world])
        yield x, data.train_labels[mine].to(device)


def _train_epoch(
    model: nn.Module,
    loss: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterator[tuple[Tensor, Tensor]],
    augment: GenerativeAugment | None,
) -> float:
    """One pass over ``batches``; returns the mean training loss."""
    total, seen = 0.0, 0
    for step, (x, y) in enumerate(batches):
        if augment is not None:
            x, y = augment(x, y, key=step)
        value = loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        total, seen = total + value.item() * len(y), seen + len(y)
    return total / max(seen, 1)


def _batch_order(power: Schedule | None, labels: Tensor, seed: int) -> Callable[[int], Tensor]:
    """The training indices of each epoch: a shuffle from ``(seed, epoch)`` (also for epochs
    of sampling power 1), or class-aware draws with the method's sampling power."""

    def shuffle(epoch: int) -> Tensor:
        return torch.randperm(len(labels), generator=generator_for(seed, epoch))

    if power is None:
        return shuffle
    sampler = ClassBalancedSampler(labels, schedule=power, seed=seed)

    def draws(epoch: int) -> Tensor:
        if power(epoch) == 1.0:  # instance-balanced: each image once, as plain CE draws them
            return shuffle(epoch)
        sampler.set_epoch(epoch)
        return torch.as_tensor(list(sampler))

    return draws


def _save(folder: Path, epoch: int, model: nn.Module, optimizer, schedule, defer: int) -> None:
    """Write the checkpoint of ``epoch``; keep it and the one at the defer epoch only."""
    optimizer_tensors, optimizer_document = optimizer_to_files(optimizer.state_dict())
    write_folder(
        folder / _epoch_name(epoch),
        {"model": model.state_dict(), "optimizer": optimizer_tensors},
        {
            "training": {
                "epoch": epoch,
                "optimizer": optimizer_document,
                "schedule": schedule.state_dict(),  # plain numbers: JSON as it is
            }
        },
    )
    prune_numbered(folder, "epoch", keep=1, spare=_epoch_name(defer))


def _epoch_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}"


def _fork(erm_checkpoints: Path, checkpoints: Path, defer: int) -> None:
    """Copy CE's checkpoint at the defer epoch into an empty ``checkpoints`` folder."""
    source = erm_checkpoints / _epoch_name(defer)
    if latest_numbered(checkpoints, "epoch") is not None or not source.is_dir():
        return
    checkpoints.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}.partial-", dir=checkpoints))
    shutil.copytree(source, staging, dirs_exist_ok=True)
    os.replace(staging, checkpoints / source.name)
    log.info("starting from plain CE's checkpoint %s", source)


def _resume(folder: Path, model: nn.Module, optimizer, schedule) -> int:
    """Load the latest checkpoint, if any; return the number of epochs it finished."""
    latest = latest_numbered(folder, "epoch")
    if latest is None:
        return 0
    training = read_json(latest, "training")
    load_module(model, latest, "model")
    optimizer.load_state_dict(
        optimizer_from_files(read_tensors(latest, "optimizer"), training["optimizer"])
    )
    schedule.load_state_dict(training["schedule"])
    log.info("resumed from %s", latest)
    return int(training["epoch"])
