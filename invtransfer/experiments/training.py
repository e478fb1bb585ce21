"""Train one classifier with one method: the loop a user would write with the library.

A ``DataLoader`` over the recipe's training set (images decoded in its workers) draws each
epoch with a `ClassBalancedSampler` (plain shuffles for instance-balanced epochs), sharded
once, explicitly, over the ranks; the method's loss, `GenerativeAugment` keyed by the
batch's dataset indices and an optional crop/flip augmentation act on each batch; SGD with the
paper's warm-up and step schedule updates the model. Every random draw is a function of
``(seed, epoch, batch)`` or ``(seed, epoch, index)``, and a checkpoint (model, optimizer,
schedule, epoch) is written atomically after every epoch, so a killed run started again
continues from the last finished epoch and ends with exactly the weights of an uninterrupted
run. Each epoch adds a row to ``training_log.csv`` (and TensorBoard event files when
tensorboard is installed).

Each run also keeps its checkpoint at the defer epoch, where deferred methods part from plain
CE. A method that trains exactly as CE until then (CE+DRS, the GIT variants) starts from the
CE run's checkpoint there when it is given one, and ends with the weights it would have had
from scratch.

Under ``torchrun`` (an initialised process group) the model is wrapped in
``DistributedDataParallel``; the sampler gives rank ``r`` every ``world``-th index of the
epoch, so its batch ``b`` holds rows ``r, r + world, ...`` of the one-process batch ``b`` and
the ranks together train exactly the one-process batches; rank 0 writes the checkpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from invtransfer._distributed import barrier, rank_and_world
from invtransfer._paths import inside, write_bytes
from invtransfer._seeding import derive_seed, generator_for, global_rng_kept, seed_global_rngs
from invtransfer._threads import loader_workers
from invtransfer._validation import checked_device, instance
from invtransfer.checkpoint import Checkpoints, non_finite
from invtransfer.data import WithIndex
from invtransfer.experiments.config import ExperimentConfig, TrainConfig
from invtransfer.experiments.datasets import ExperimentData
from invtransfer.experiments.epoch_log import EpochLog
from invtransfer.experiments.evaluation import predict
from invtransfer.experiments.lr import warmup_step_lr
from invtransfer.experiments.methods import method_parts
from invtransfer.generative import GenerativeAugment, MUNITGenerator
from invtransfer.losses import NonFiniteLossError
from invtransfer.metrics import balanced_accuracy
from invtransfer.models import build_model
from invtransfer.sampling import ClassBalancedSampler, Schedule
from invtransfer.transforms import Compose, HorizontalFlip, RandomCrop, TransformFamily

__all__ = [
    "AMP_DTYPES",
    "AUGMENTATIONS",
    "check_settings",
    "train_run",
    "training_loader",
]

log = logging.getLogger(__name__)

AUGMENTATIONS: dict[str, Callable[[], TransformFamily]] = {
    "crop": lambda: RandomCrop(padding=4),
    "crop_flip": lambda: Compose([RandomCrop(padding=4), HorizontalFlip()]),
}
"""Training-time augmentations by name (``train.augmentation``): ``crop_flip`` is the CIFAR
recipe (pad by 4, crop back at random, flip left-right half the time), ``crop`` the same
without the flip (for traffic signs, where a flip changes the class). Each batch's draws
come from ``(seed, epoch, batch)``."""

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
"""``train.amp`` settings and the autocast dtype of each."""

_AUGMENTATION_STREAM = 2  # draws from (seed, 2, epoch, batch), apart from the sampler's
_MODEL_STREAM = 3  # the model's own draws (dropout, drop-path) in epoch e: (seed, 3, e, rank)


def check_settings(config: ExperimentConfig, data: ExperimentData, device: torch.device) -> None:
    """Refuse, before anything trains, a model that cannot be built for the data (an unknown
    name, a weights file that does not fit, an output of the wrong width), an augmentation
    that does not exist, and mixed precision the device cannot run.

    Examples:
        >>> from invtransfer.experiments import load_data
        >>> config = ExperimentConfig().with_overrides(['model.name="resnet21"'])
        >>> check_settings(config, load_data(config.data), torch.device("cpu"))
        Traceback (most recent call last):
        ...
        ValueError: model.name: expected a built-in ..., received 'resnet21'; close matches: ...
    """
    _check_config_and_data(config, data)
    try:
        build_model(config.model.name, data.num_classes, data.image_shape, 0, config.model.weights)
    except (ValueError, TypeError, ImportError, FileNotFoundError) as error:
        raise type(error)(f"model.{error}") from None  # "name: ..." -> "model.name: ..."
    _augmentation(config.train.augmentation)
    _mixed_precision(config.train.amp, device)


def training_loader(
    train: Dataset, power: Schedule | None, config: TrainConfig, seed: int, workers: int = 0
) -> DataLoader:
    """This rank's loader: items ``(image, label, dataset index)`` in batches of
    ``config.batch_size / world``, drawn by a `ClassBalancedSampler` with the method's
    sampling power (instance-balanced epochs are shuffles) and sharded over the ranks.
    Call ``loader.sampler.set_epoch(epoch)`` before each epoch.

    Examples:
        >>> from invtransfer.data import Glyphs
        >>> from invtransfer.experiments import TrainConfig
        >>> loader = training_loader(Glyphs(3, 4), None, TrainConfig(batch_size=4), seed=0)
        >>> images, labels, index = next(iter(loader))
        >>> images.shape, sorted(set(range(12)) - set(loader.sampler))  # each image once
        (torch.Size([4, 1, 28, 28]), [])
    """
    rank, world = rank_and_world()
    if config.batch_size % world:
        raise ValueError(
            f"train.batch_size: expected a multiple of the {world} ranks (each trains an equal "
            f"share of every batch), received {config.batch_size}"
        )
    sampler = ClassBalancedSampler(
        train, power=1.0, schedule=power, seed=seed, num_replicas=world, rank=rank
    )
    return DataLoader(
        WithIndex(train),
        batch_size=config.batch_size // world,
        sampler=sampler,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,
        generator=generator_for(seed),  # the loader's own seeds; the global RNG is left alone
    )


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
        ValueError: ``method`` needs GIT and no ``generator`` was given, or the AMP setting
            cannot run on ``device``.
        NonFiniteLossError: an epoch left NaN or infinite weights (a loss diverged); the
            epoch is not checkpointed, so the last checkpoint stays the run's latest.
    """
    _check_config_and_data(config, data)
    train, rank = config.train, rank_and_world()[0]
    device = checked_device("device", device)
    autocast, scaler = _mixed_precision(train.amp, device)
    parts = method_parts(method, data.class_counts, train.deferred_start)
    model = build_model(
        config.model.name, data.num_classes, data.image_shape, seed, config.model.weights
    ).to(device, memory_format=_memory_format(train))  # type: ignore[call-overload]
    loss = parts.loss.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), train.lr, momentum=train.momentum, weight_decay=train.weight_decay
    )
    schedule = warmup_step_lr(optimizer, train.warmup_epochs, train.milestones, train.gamma)
    augment = _generative_augment(config, method, generator, seed, device) if parts.git else None
    loader = training_loader(data.train, parts.sampling_power, train, seed, _workers(train))
    checkpoints = _checkpoints(Path(run_dir), train)
    state = {"model": model}, {"optimizer": optimizer}, _schedulers(schedule, scaler)
    if erm_run is not None and parts.erm_until_defer and rank == 0:
        _fork(Path(erm_run), Path(run_dir), train, method)
    barrier()
    first = 0
    if (latest := checkpoints.latest()) is not None:  # its epoch must be its folder's
        saved = checkpoints.step_of(latest)
        bounds = {"epoch": (saved, min(saved, train.epochs))}  # past the epochs: refused
        first = checkpoints.load(latest, *state, bounds=bounds)["epoch"]
    if 0 < first < train.epochs:
        log.info("%s seed %d: continuing from epoch %d of %d", method, seed, first, train.epochs)
    step = _Step(_trainable(model, train), loss, optimizer, autocast, scaler)
    batch = _Batch(device, _memory_format(train), _augmentation(train.augmentation), augment)
    with EpochLog(Path(run_dir), first, enabled=rank == 0) as epoch_log:
        for epoch in tqdm(
            range(first, train.epochs), desc=method, disable=not progress, initial=first,
            total=train.epochs,
        ):  # fmt: skip
            for part in (loader.sampler, loss, augment):
                if hasattr(part, "set_epoch"):
                    part.set_epoch(epoch)  # type: ignore[union-attr,operator]
            model.train()
            with global_rng_kept():  # the model's dropout follows the seed, not the caller
                seed_global_rngs(derive_seed(seed, _MODEL_STREAM, epoch, rank))
                totals = _train_epoch(step, batch.preparer(seed, epoch), loader)
            _check_finite(model, f"{method} seed {seed}, epoch {epoch + 1}", totals["loss"])
            learning_rate = optimizer.param_groups[0]["lr"]
            schedule.step()
            row = {**totals, "lr": learning_rate, **_validation(model, data, train)}
            epoch_log.write(epoch + 1, row)  # first: a resume rewrites rows after its checkpoint
            if rank == 0:
                checkpoints.save(epoch + 1, *state, state={"epoch": epoch + 1})
            log.info(
                "%s seed %d: epoch %d/%d, train loss %.4f",
                method, seed, epoch + 1, train.epochs, totals["loss"],
            )  # fmt: skip
    barrier()
    return model.eval()


class _Batch:
    """A loader's batch made ready for a step: on the device, float in [0, 1], augmented."""

    def __init__(
        self,
        device: torch.device,
        memory_format: torch.memory_format,
        augmentation: TransformFamily | None,
        augment: GenerativeAugment | None,
    ) -> None:
        self.device, self.memory_format = device, memory_format
        self.augmentation, self.augment = augmentation, augment

    def preparer(self, seed: int, epoch: int) -> Callable[[int, Any], tuple[Tensor, Tensor]]:
        """The function that readies batch ``b`` of ``epoch``."""

        def prepare(b: int, items: Any) -> tuple[Tensor, Tensor]:
            images, labels, index = items
            x = images.to(self.device, non_blocking=True).float().div_(255)
            y = labels.to(self.device, non_blocking=True)
            if self.augmentation is not None:
                x = _augmented(self.augmentation, x, seed, epoch, b)
            if self.augment is not None:
                x, y = self.augment(x, y, key=index)
            return x.contiguous(memory_format=self.memory_format), y

        return prepare


def _augmented(family: TransformFamily, x: Tensor, seed: int, epoch: int, b: int) -> Tensor:
    """Draws for the whole one-process batch ``b``; this rank's rows of it (the sampler gives
    rank ``r`` rows ``r, r + world, ...``)."""
    rank, world = rank_and_world()
    draws = generator_for(seed, _AUGMENTATION_STREAM, epoch, b, device=x.device)
    return family.apply(x, family.sample(len(x) * world, draws)[rank::world])


class _Step:
    """One optimisation step: forward under autocast, backward (scaled for fp16), update."""

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        loss: nn.Module,
        optimizer: torch.optim.Optimizer,
        autocast: Callable[[], Any],
        scaler: torch.amp.GradScaler | None,
    ) -> None:
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.autocast, self.scaler = autocast, scaler

    def __call__(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        with self.autocast():
            logits = self.model(x)
            value = self.loss(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            value.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(value).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return value.detach(), logits.detach()


def _train_epoch(
    step: _Step, prepare: Callable[[int, Any], tuple[Tensor, Tensor]], loader: DataLoader
) -> dict[str, float]:
    """One pass over ``loader``; the mean training loss and accuracy of the batches trained.
    A batch of one image per rank is left out (batch norm cannot train on it)."""
    loss, correct, seen = torch.zeros((), dtype=torch.float64), torch.zeros(()), 0
    for b, items in enumerate(loader):
        if len(items[1]) < 2:
            continue
        x, y = prepare(b, items)
        value, logits = step(x, y)
        loss = loss + value.double() * len(y)  # on the device: no wait for it per step
        correct = correct + (logits.argmax(1) == y).sum()
        seen += len(y)
    return {"loss": float(loss) / max(seen, 1), "train_accuracy": float(correct) / max(seen, 1)}


def _check_config_and_data(config: object, data: object) -> None:
    instance("config", config, ExperimentConfig)
    instance("data", data, ExperimentData)


def _check_finite(model: nn.Module, where: str, loss: float) -> None:
    """Stop before a checkpoint of diverged weights is saved."""
    if bad := non_finite(model.state_dict()):
        raise NonFiniteLossError(
            f"{where}: the weights are no longer finite ({', '.join(bad[:3])}; mean training "
            f"loss {loss:.4g}); stopped before this epoch was checkpointed (earlier checkpoints "
            f"are kept); a lower train.lr may help"
        )


def _validation(model: nn.Module, data: ExperimentData, train: TrainConfig) -> dict[str, float]:
    """The balanced accuracy on the validation split, when the recipe has one."""
    if data.val is None:
        return {}
    logits, labels = predict(model, data.val, workers=_workers(train))
    return {"val_balanced_accuracy": float(balanced_accuracy(logits, labels, data.num_classes))}


def _generative_augment(
    config: ExperimentConfig,
    method: str,
    generator: MUNITGenerator | None,
    seed: int,
    device: torch.device,
) -> GenerativeAugment:
    """GIT from the defer epoch on; an image's translation follows from ``(seed, epoch,
    index)``, whichever rank trains it."""
    if generator is None:
        raise ValueError(f"generator: method {method!r} needs a generator, received None")
    return GenerativeAugment(
        generator, config.git.fraction, start_epoch=config.train.deferred_start, seed=seed
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


def _mixed_precision(
    amp: str | None, device: torch.device
) -> tuple[Callable[[], Any], torch.amp.GradScaler | None]:
    """The autocast context and, for fp16, the gradient scaler; settings the device cannot
    run are refused before anything trains."""
    if amp is None:
        return nullcontext, None
    if amp not in AMP_DTYPES:
        raise ValueError(
            f"train.amp: expected one of {sorted(AMP_DTYPES)} or None, received {amp!r}"
        )
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(
            f"train.amp: 'fp16' needs a CUDA device, received {device}; use 'bf16' on the CPU"
        )
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"train.amp: 'bf16' is not supported by {device}; use 'fp16'")
    dtype = AMP_DTYPES[amp]
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
    return (lambda: torch.autocast(device.type, dtype=dtype)), scaler


def _memory_format(train: TrainConfig) -> torch.memory_format:
    return torch.channels_last if train.channels_last else torch.contiguous_format


def _trainable(model: nn.Module, train: TrainConfig) -> Callable[[Tensor], Tensor]:
    """What the step calls: the model, wrapped for DDP under a process group, compiled if
    asked (the checkpoints hold the model's own weights)."""
    trained = DistributedDataParallel(model) if rank_and_world()[1] > 1 else model
    return torch.compile(trained) if train.compile else trained


def _workers(train: TrainConfig) -> int:
    """``train.workers``, else one worker when the intra-op threads leave a CPU free."""
    return train.workers if train.workers is not None else loader_workers()


def _checkpoints(run_dir: Path, train: TrainConfig) -> Checkpoints:
    """A run's ``checkpoints/epoch-NNNN`` folders: the latest, and the one at the defer epoch,
    where deferred methods part from plain CE."""
    return Checkpoints(
        run_dir / "checkpoints", "epoch", keep=1, spare=[train.deferred_start], digits=4
    )


def _schedulers(schedule: Any, scaler: torch.amp.GradScaler | None) -> dict[str, Any]:
    """What a checkpoint restores beside the weights and the optimizer: the learning-rate
    schedule, and the fp16 gradient scaler."""
    return {"schedule": schedule} | ({"scaler": scaler} if scaler is not None else {})


def _fork(erm_run: Path, run_dir: Path, train: TrainConfig, method: str) -> None:
    """Start from CE's checkpoint at the defer epoch, with its log, when this run has no
    checkpoint of its own."""
    checkpoints, source = _checkpoints(run_dir, train), _checkpoints(erm_run, train)
    start = source.path(train.deferred_start)
    if checkpoints.latest() is None and start.is_dir():
        checkpoints.fork(start)
        if (erm_run / EpochLog.NAME).is_file():  # rows after the defer epoch are dropped
            log_file = inside(erm_run.parent.parent, erm_run / EpochLog.NAME)
            write_bytes(run_dir / EpochLog.NAME, log_file.read_bytes(), run_dir.parent.parent)
        log.info(
            "starting %s from CE's checkpoint at epoch %d (%s): the epochs before are CE's",
            method, train.deferred_start, start,
        )  # fmt: skip
