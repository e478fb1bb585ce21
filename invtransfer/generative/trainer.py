"""`MUNITTrainer`: single-domain MUNIT training that checkpoints atomically and resumes exactly.

The dataset is both domains, so one generator and one discriminator suffice: half the work of
the two-domain recipe. Each iteration takes one discriminator step, then one generator step,
each with fresh style codes. Every random draw is a function of ``(seed, rank, iteration)``
and of the sampler's ``(seed, epoch)``, so a run resumed from a checkpoint continues exactly as
the uninterrupted run would have.

The losses are `MUNITObjectives`'; the loop is `MUNITTrainer.fit`, and what happens between
iterations (checkpoints, sample grids, logging, whatever you add) is a `MUNITCallback`.
"""

from __future__ import annotations

import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision.utils import save_image
from tqdm.auto import tqdm

from invtransfer._distributed import barrier, rank_and_world
from invtransfer._images import ImageBatch
from invtransfer._paths import write_bytes
from invtransfer._seeding import generator_for
from invtransfer._validation import check_positive_ints, checked_device
from invtransfer.checkpoint import Checkpoints, load_module, read_json
from invtransfer.generative.config import LossWeights, MUNITConfig
from invtransfer.generative.grid import grid_images, translation_grid
from invtransfer.generative.networks import (
    MUNITDiscriminator,
    MUNITGenerator,
    check_images,
    random_styles,
)
from invtransfer.generative.objectives import MUNITObjectives
from invtransfer.labels import resolve_labels
from invtransfer.losses import NonFiniteLossError
from invtransfer.sampling import ClassBalancedSampler

__all__ = [
    "CheckpointEvery",
    "LogEvery",
    "MUNITCallback",
    "MUNITTrainer",
    "SamplesEvery",
    "latest_checkpoint",
    "load_generator",
]

log = logging.getLogger(__name__)

_HOOKS = ("on_step_end", "on_fit_end")


class MUNITTrainer:
    """Train a single-domain MUNIT on a dataset (or a DataLoader) of images.

    ``step`` is one iteration of `MUNITObjectives` with two Adam optimizers; ``fit`` loops over
    it and calls the callbacks after every step: checkpoints, sample grids and log lines come
    from `CheckpointEvery`, `SamplesEvery` and `LogEvery`, and yours join them.

    Args:
        config: the architecture (see `invtransfer.generative.preset`).
        out_dir: where checkpoints (``checkpoints/iter-NNNNNNN/``) and sample grids
            (``samples/iter-NNNNNNN.png``) go.
        weights: the generator's loss weights.
        lr: Adam's learning rate for both networks (MUNIT's 1e-4).
        betas: Adam's betas (MUNIT's (0.5, 0.999)).
        weight_decay: Adam's weight decay (MUNIT's 1e-4).
        lr_step: multiply both learning rates by ``lr_gamma`` every ``lr_step`` iterations.
        lr_gamma: the factor (MUNIT halves the rates every 100k iterations).
        seed: the weights' initialisation, the batches and every style code follow from it.
        device: where to train; defaults to CUDA when available.

    Examples:
        >>> import tempfile
        >>> from invtransfer.data import Glyphs
        >>> from invtransfer.generative import preset
        >>> glyphs = Glyphs(num_classes=3, per_class=4)  # uint8 (1, 28, 28) images, labels
        >>> config = preset("tiny", image_size=28, channels=1)
        >>> trainer = MUNITTrainer(config, tempfile.mkdtemp(), device="cpu")
        >>> losses = trainer.fit(glyphs, iterations=3, batch_size=4, progress=False)
        >>> trainer.iteration, sorted(losses)[:3]
        (3, ['adversarial', 'content', 'discriminator'])
    """

    def __init__(
        self,
        config: MUNITConfig,
        out_dir: str | Path,
        weights: LossWeights | None = None,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 1e-4,
        lr_step: int = 100_000,
        lr_gamma: float = 0.5,
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.weights = weights or LossWeights()
        self.objectives = MUNITObjectives(config, self.weights)
        """The losses each `step` optimises."""
        self.seed = seed
        self.device = checked_device("device", device)
        self.hyperparameters = dict(
            lr=lr, betas=list(betas), weight_decay=weight_decay, lr_step=lr_step, lr_gamma=lr_gamma
        )
        self.generator = MUNITGenerator(config, seed=seed).to(self.device)
        self.discriminator = MUNITDiscriminator(config, seed=seed).to(self.device)
        self.optimizers = {
            name: torch.optim.Adam(net.parameters(), lr, betas, weight_decay=weight_decay)
            for name, net in self._networks().items()
        }
        self.schedulers = {
            name: torch.optim.lr_scheduler.StepLR(optimizer, lr_step, lr_gamma)
            for name, optimizer in self.optimizers.items()
        }
        self.iteration = 0
        self.rank, self.world_size = rank_and_world()
        self.data_position = {"epoch": 0, "batch": 0}
        """Where the next batch comes from: the epoch of the sampler and batches into it."""
        self._data_order: dict[str, Any] = {"batch_size": None, "balanced": None}

    def fit(
        self,
        data: Dataset | DataLoader,
        iterations: int,
        batch_size: int = 8,
        balanced: bool = True,
        num_workers: int = 0,
        checkpoint_every: int = 1000,
        sample_every: int | None = None,
        keep: int = 2,
        resume: bool = True,
        progress: bool = True,
        log_every: int | None = None,
        callbacks: Sequence[MUNITCallback] = (),
    ) -> dict[str, float]:
        """Train until ``iterations`` in all (resuming from the last checkpoint in ``out_dir``
        if ``resume``); return the last iteration's losses.

        Args:
            data: items ``(image, label, ...)`` or bare images, ``uint8`` or float in [0, 1];
                or a DataLoader of such batches (it then sets the batch size and order; for an
                exact resume its sampler should have ``set_epoch``).
            iterations: the total number of iterations, counting those already done.
            batch_size: images per iteration and rank (the paper uses 1).
            balanced: draw batches class-balanced (a class, then a member), as the paper
                does; ``False`` draws images uniformly.
            num_workers: DataLoader workers when ``data`` is a dataset.
            checkpoint_every: write a checkpoint every this many iterations, and at the end.
            sample_every: save a sample grid every this many iterations (default: with each
                checkpoint).
            keep: how many checkpoints to keep.
            resume: continue from the latest checkpoint in ``out_dir``, if any.
            progress: show a progress bar with the losses.
            log_every: log the losses (``logging``, INFO, rank 0) every this many iterations
                (default: with each checkpoint).
            callbacks: more `MUNITCallback` objects, called after the built-in ones (a
                TensorBoard writer, say); one of a built-in type replaces the one made from
                the arguments above (`SamplesEvery` with your own images, say).
        """
        sample_every = checkpoint_every if sample_every is None else sample_every
        log_every = checkpoint_every if log_every is None else log_every
        check_positive_ints(
            iterations=iterations, checkpoint_every=checkpoint_every, sample_every=sample_every,
            keep=keep, log_every=log_every,
        )  # fmt: skip
        _check_callbacks(callbacks)
        if isinstance(data, DataLoader):
            loader, order = data, None
        else:
            loader, order = self._loader(data, batch_size, balanced, num_workers), balanced
        self._data_order = {"batch_size": loader.batch_size, "balanced": order}
        if resume and (checkpoint := latest_checkpoint(self.out_dir)) is not None:
            self.load_checkpoint(checkpoint, **self._data_order)
        batches = _Batches(loader, **self.data_position)
        self._broadcast_weights()
        built_in = [
            SamplesEvery(sample_every, grid_images(loader.dataset, seed=self.seed)),
            CheckpointEvery(checkpoint_every, keep),
            LogEvery(log_every),
        ]
        callbacks = [
            *(own for own in built_in if not any(isinstance(c, type(own)) for c in callbacks)),
            *callbacks,
        ]
        losses: dict[str, float] = {}
        bar = tqdm(
            total=iterations, initial=self.iteration, disable=not progress or self.rank != 0,
            desc="MUNIT", dynamic_ncols=True,
        )  # fmt: skip
        with bar:
            while self.iteration < iterations:
                losses = self.step(next(batches))
                self.data_position = batches.position()
                bar.update()
                bar.set_postfix({key: f"{value:.3f}" for key, value in losses.items()})
                for callback in callbacks:
                    callback.on_step_end(self, losses)
        for callback in callbacks:
            callback.on_fit_end(self, losses)
        return losses

    def step(self, images: Tensor) -> dict[str, float]:
        """One iteration on a batch of images (``uint8``, or float in [0, 1]): a discriminator
        step, then a generator step, each with fresh style codes from
        ``(seed, rank, iteration)``. Returns the losses, ``generator`` being the weighted sum.

        Raises:
            NonFiniteLossError: a loss is NaN or infinite (no update is made).
        """
        real = self._prepare(images)
        draw = generator_for(self.seed, self.rank, self.iteration)
        nets = self.generator, self.discriminator
        d_loss = self.objectives.discriminator_loss(*nets, real, self._styles(len(real), draw))
        self._update("discriminator", d_loss, {"discriminator": d_loss})
        g_losses = self.objectives.generator_losses(*nets, real, self._styles(len(real), draw))
        total = self.objectives.total(g_losses)
        self._update("generator", total, g_losses)
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.iteration += 1
        values = torch.stack([d_loss.detach(), total.detach(), *g_losses.values()]).tolist()
        return dict(zip(["discriminator", "generator", *g_losses], values, strict=True))

    def save_samples(self, images: Tensor) -> Path | None:
        """Save a translation grid of ``images`` to ``samples/iter-NNNNNNN.png`` (rank 0)."""
        if self.rank != 0:
            return None
        path = self.out_dir / "samples" / f"iter-{self.iteration:07d}.png"
        png = io.BytesIO()
        save_image(translation_grid(self.generator, images, seed=self.seed), png, format="png")
        return write_bytes(path, png.getvalue(), self.out_dir)  # never through a link

    def save_checkpoint(self, keep: int = 2, losses: dict[str, float] | None = None) -> Path:
        """Write ``checkpoints/iter-NNNNNNN/`` atomically (rank 0, through `Checkpoints`) and
        keep the newest ``keep``; every rank waits until it is on disk."""
        checkpoints = _checkpoints(self.out_dir, keep)
        target = checkpoints.path(self.iteration)
        if self.rank == 0:
            checkpoints.save(
                self.iteration, self._networks(), self.optimizers, self.schedulers,
                state=self._training_state(losses), documents={"config": self.config.to_dict()},
            )  # fmt: skip
            log.info("iteration %d: checkpoint %s", self.iteration, target)
        barrier()
        return target

    def load_checkpoint(
        self, folder: str | Path, batch_size: int | None = None, balanced: bool | None = None
    ) -> None:
        """Restore weights, optimizers, schedulers, the iteration and the data position.

        Raises:
            ValueError: the checkpoint is corrupt, or was written with another config,
                other hyperparameters, batch size or number of ranks.
        """
        checkpoints = _checkpoints(self.out_dir)
        step = checkpoints.step_of(folder)  # the iteration saved must be the folder's
        training = checkpoints.read_state(folder, bounds={"iteration": (step, step)})
        self._check_compatible(folder, training, batch_size, balanced)
        checkpoints.load(folder, self._networks(), self.optimizers, self.schedulers)
        self.iteration = training["iteration"]
        self.data_position = training["data"]
        log.info("resumed from %s at iteration %d", folder, self.iteration)

    def _networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def _loader(self, data: Dataset, batch_size: int, balanced: bool, workers: int) -> DataLoader:
        check_positive_ints(batch_size=batch_size)
        # drawing uniformly needs no labels: one class holding every image does it
        labels = resolve_labels(data) if balanced else torch.zeros(len(data), dtype=torch.long)  # type: ignore[arg-type]
        sampler = ClassBalancedSampler(labels, power=0.0 if balanced else 1.0, seed=self.seed)
        if len(sampler) < batch_size:
            raise ValueError(
                f"batch_size: expected at most the {len(sampler)} images each rank draws per "
                f"epoch, received {batch_size}"
            )
        return DataLoader(
            data,
            batch_size,
            sampler=sampler,
            num_workers=workers,
            drop_last=True,
            generator=generator_for(self.seed),  # the workers' seeds; the global RNG is left alone
        )

    def _prepare(self, batch: Any) -> Tensor:
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        working = ImageBatch.from_user(images, f"images at iteration {self.iteration}").images
        check_images(self.config, working, f"images at iteration {self.iteration}")
        return working.to(self.device) * 2 - 1

    def _styles(self, n: int, draw: torch.Generator) -> Tensor:
        return random_styles(n, self.config, draw).to(self.device)

    def _update(self, name: str, loss: Tensor, parts: dict[str, Tensor]) -> None:
        if not all(bool(torch.isfinite(part)) for part in parts.values()):
            latest = latest_checkpoint(self.out_dir)
            values = {key: float(value.detach()) for key, value in parts.items()}
            raise NonFiniteLossError(
                f"iteration {self.iteration}: the {name} loss is not finite ({values}); "
                f"stopped before updating the weights. The last good checkpoint is "
                f"{latest or 'none yet'}. Blank or constant images and a high learning rate "
                f"are the usual causes."
            )
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.world_size > 1:
            _average_gradients(self._networks()[name], self.world_size)
        optimizer.step()

    def _broadcast_weights(self) -> None:
        if self.world_size > 1:
            for net in self._networks().values():
                for tensor in net.state_dict().values():
                    dist.broadcast(tensor, src=0)

    def _training_state(self, losses: dict[str, float] | None) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "seed": self.seed,
            "random_state": "every draw follows from (seed, rank, iteration) and the "
            "sampler's (seed, epoch); no other random state is used",
            "world_size": self.world_size,
            **self._data_order,
            "data": self.data_position,
            "weights": self.weights.to_dict(),
            "hyperparameters": self.hyperparameters,
            "losses": losses or {},
            "torch_version": torch.__version__,
        }

    def _check_compatible(
        self, folder: str | Path, training: dict, batch_size: int | None, balanced: bool | None
    ) -> None:
        saved = MUNITConfig.from_dict(read_json(folder, "config"))
        current = {
            "config": self.config,
            "weights": self.weights.to_dict(),
            "hyperparameters": self.hyperparameters,
            "world_size": self.world_size,
            "seed": self.seed,
            "batch_size": batch_size,
            "balanced": balanced,
        }
        saved_values = {**training, "config": saved}
        differences = [
            f"{key}: checkpoint {saved_values.get(key)!r}, now {value!r}"
            for key, value in current.items()
            if value is not None and saved_values.get(key) != value
        ]
        if differences:
            raise ValueError(
                f"{folder}: cannot resume exactly, the run differs from the checkpoint in "
                f"{'; '.join(differences)}"
            )


class MUNITCallback:
    """What to do after each step of `MUNITTrainer.fit`, and when it ends.

    Override either method; here both do nothing. ``losses`` are the floats `MUNITTrainer.step`
    returned; through ``trainer`` you reach the networks, the optimizers, ``iteration``,
    ``rank`` and ``out_dir``. Callbacks run on every rank, in the order given.

    Examples:
        A TensorBoard writer would call ``writer.add_scalars("munit", losses,
        trainer.iteration)`` in ``on_step_end``; this callback keeps the history in memory.

        >>> import tempfile
        >>> from invtransfer.data import Glyphs
        >>> from invtransfer.generative import MUNITTrainer, preset
        >>> class History(MUNITCallback):
        ...     def __init__(self):
        ...         self.rows = []
        ...     def on_step_end(self, trainer, losses):
        ...         self.rows.append((trainer.iteration, losses["generator"]))
        >>> config = preset("tiny", image_size=28, channels=1)
        >>> trainer = MUNITTrainer(config, tempfile.mkdtemp(), device="cpu")
        >>> history = History()
        >>> _ = trainer.fit(Glyphs(num_classes=3, per_class=4), 2, batch_size=4, progress=False,
        ...                 callbacks=[history])
        >>> [iteration for iteration, _ in history.rows]
        [1, 2]
    """

    def on_step_end(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        """Called after every step, with its losses."""

    def on_fit_end(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        """Called once, when ``fit`` has reached its iterations, with the last step's losses
        (empty when it had nothing left to do); not called when a step raised."""


class _Periodic(MUNITCallback, ABC):
    """Act every ``every`` iterations, and at the end of ``fit`` if it took steps since."""

    def __init__(self, every: int) -> None:
        check_positive_ints(every=every)
        self.every = every
        self._behind = False

    def on_step_end(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        self._behind = trainer.iteration % self.every != 0
        if not self._behind:
            self.act(trainer, losses)

    def on_fit_end(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        if self._behind:
            self.act(trainer, losses)
            self._behind = False

    @abstractmethod
    def act(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        """What to do at each ``every``-th iteration and at the end."""


class CheckpointEvery(_Periodic):
    """Write a checkpoint (`MUNITTrainer.save_checkpoint`) every ``every`` iterations and at the
    end of ``fit``, keeping the newest ``keep``. ``fit`` makes one from ``checkpoint_every``
    and ``keep``.

    Examples:
        >>> import tempfile
        >>> from invtransfer.data import Glyphs
        >>> from invtransfer.generative import MUNITTrainer, preset
        >>> config = preset("tiny", image_size=28, channels=1)
        >>> trainer = MUNITTrainer(config, tempfile.mkdtemp(), device="cpu")
        >>> _ = trainer.fit(Glyphs(num_classes=3, per_class=4), 3, batch_size=4, progress=False,
        ...                 callbacks=[CheckpointEvery(2, keep=5)])  # as checkpoint_every=2
        >>> sorted(p.name for p in (trainer.out_dir / "checkpoints").iterdir())
        ['iter-0000002', 'iter-0000003']
    """

    def __init__(self, every: int, keep: int = 2) -> None:
        super().__init__(every)
        check_positive_ints(keep=keep)
        self.keep = keep

    def act(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        trainer.save_checkpoint(keep=self.keep, losses=losses)


class SamplesEvery(_Periodic):
    """Save a translation grid of ``images`` (`MUNITTrainer.save_samples`) every ``every``
    iterations and at the end of ``fit``. ``fit`` makes one from ``sample_every`` and
    `grid_images` of its data; pass your own to choose the images.

    Args:
        every: iterations between grids.
        images: ``uint8`` or float images in [0, 1], one grid row each.

    Examples:
        >>> import tempfile
        >>> from invtransfer.data import Glyphs
        >>> from invtransfer.generative import MUNITTrainer, preset
        >>> glyphs = Glyphs(num_classes=3, per_class=4)
        >>> trainer = MUNITTrainer(preset("tiny", image_size=28, channels=1), tempfile.mkdtemp(),
        ...                        device="cpu")
        >>> rows = torch.stack([glyphs[i][0] for i in (0, 4, 8)])  # one image of each class
        >>> _ = trainer.fit(glyphs, 2, batch_size=4, progress=False,
        ...                 callbacks=[SamplesEvery(1, rows)])
        >>> sorted(p.name for p in (trainer.out_dir / "samples").iterdir())
        ['iter-0000001.png', 'iter-0000002.png']
    """

    def __init__(self, every: int, images: Tensor) -> None:
        super().__init__(every)
        ImageBatch.from_user(images, "images")
        self.images = images

    def act(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        trainer.save_samples(self.images)


class LogEvery(_Periodic):
    """Log the losses every ``every`` iterations and at the end of ``fit``, through
    ``logging`` (INFO, this module's logger, rank 0 only); ``logging.basicConfig(
    level=logging.INFO)`` shows them. ``fit`` makes one from ``log_every``.

    Examples:
        >>> import logging, sys, tempfile
        >>> from invtransfer.generative import MUNITTrainer, preset
        >>> logger = logging.getLogger("invtransfer.generative.trainer")
        >>> handler = logging.StreamHandler(sys.stdout)
        >>> logger.addHandler(handler); logger.setLevel(logging.INFO)
        >>> trainer = MUNITTrainer(preset("tiny", image_size=28, channels=1), tempfile.mkdtemp(),
        ...                        device="cpu")
        >>> LogEvery(1).on_step_end(trainer, {"discriminator": 0.5, "generator": 12.25})
        iteration 0: discriminator=0.5 generator=12.25
        >>> logger.removeHandler(handler); logger.setLevel(logging.NOTSET)
    """

    def act(self, trainer: MUNITTrainer, losses: dict[str, float]) -> None:
        if trainer.rank == 0:
            values = " ".join(f"{name}={value:.4g}" for name, value in losses.items())
            log.info("iteration %d: %s", trainer.iteration, values)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete ``checkpoints/iter-NNNNNNN`` folder under ``out_dir``, if any.

    Examples:
        >>> import tempfile
        >>> latest_checkpoint(tempfile.mkdtemp()) is None
        True
    """
    return _checkpoints(out_dir).latest()


_MAX_PARAMETERS = 200_000_000
"""The most parameters `load_generator` builds a generator with (the paper's 128x128 MUNIT
has about 15 M)."""

_MAX_RES_BLOCKS = 1000


def _check_size(config: MUNITConfig, source: str | Path) -> int:
    """The generator's parameter count, counted on the ``meta`` device (no memory taken);
    refused above 200 M, or with more than 1000 residual blocks, naming ``source``.

    Examples:
        >>> from invtransfer.generative import preset
        >>> import dataclasses
        >>> _check_size(preset("tiny", image_size=8, channels=1), "config.json")
        29509
        >>> _check_size(dataclasses.replace(preset("tiny", image_size=8, channels=1),
        ...                                dim=1000000), "g/config.json")
        Traceback (most recent call last):
        ...
        ValueError: g/config.json: expected a generator of at most 200000000 parameters,
        received a config of 386000448001221 (dim=1000000)
    """
    if config.n_res > _MAX_RES_BLOCKS:
        raise ValueError(
            f"{source}: expected at most {_MAX_RES_BLOCKS} residual blocks, received "
            f"n_res={config.n_res}"
        )
    with torch.device("meta"):
        count = sum(p.numel() for p in MUNITGenerator(config, seed=0).parameters())
    if count > _MAX_PARAMETERS:
        raise ValueError(
            f"{source}: expected a generator of at most {_MAX_PARAMETERS} parameters, received "
            f"a config of {count} (dim={config.dim})"
        )
    return count


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> MUNITGenerator:
    """The generator saved in ``path``: a folder holding ``config.json`` and
    ``generator.safetensors`` (a checkpoint, a saved augment), or a trainer's ``out_dir``
    (its latest checkpoint). Nothing is unpickled, and the network ``config.json`` describes
    is measured before it is built: one of more than 200 M parameters is refused
    before any memory is taken.

    Examples:
        >>> import tempfile
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> from invtransfer.checkpoint import write_folder
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> folder = write_folder(tempfile.mkdtemp() + "/g", {"generator": generator.state_dict()},
        ...                       {"config": generator.config.to_dict()})
        >>> load_generator(folder).config == generator.config
        True
    """
    folder = Path(path)
    if not (folder / "generator.safetensors").exists():
        folder = latest_checkpoint(folder) or folder  # a trainer's out_dir, else a clear error
    config = MUNITConfig.from_dict(read_json(folder, "config"))
    _check_size(config, Path(folder) / "config.json")
    generator = MUNITGenerator(config, seed=0)
    load_module(generator, folder, "generator")
    return generator.to(device)


class _Batches:
    """An endless stream of batches from a loader, epoch after epoch, starting at any
    ``(epoch, batch)`` position: exactly (through the sampler's ``load_state_dict``) or by
    drawing and discarding batches."""

    def __init__(self, loader: DataLoader, epoch: int = 0, batch: int = 0) -> None:
        self.loader = loader
        self.epoch, self.batch = epoch, batch
        self._iterator: Iterator[Any] | None = None

    def position(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch}

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._start()
        for _ in range(2):
            try:
                item = next(self._iterator)
            except StopIteration:
                self.epoch, self.batch = self.epoch + 1, 0
                self._iterator = self._start()
                continue
            self.batch += 1
            return item
        raise ValueError("data: the loader yields no batches (fewer images than batch_size?)")

    def _start(self) -> Iterator[Any]:
        sampler = self.loader.sampler
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        if self.batch and hasattr(sampler, "load_state_dict") and self.loader.batch_size:
            sampler.load_state_dict(
                {"epoch": self.epoch, "position": self.batch * self.loader.batch_size}
            )
            return iter(self.loader)
        iterator = iter(self.loader)
        for _ in range(self.batch):  # no exact seek: replay the epoch up to the position
            next(iterator)
        return iterator


def _checkpoints(out_dir: str | Path, keep: int = 2) -> Checkpoints:
    return Checkpoints(Path(out_dir) / "checkpoints", "iter", keep=keep, digits=7)


def _average_gradients(module: nn.Module, world_size: int) -> None:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def _check_callbacks(callbacks: Sequence[MUNITCallback]) -> None:
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"callbacks: expected a list of MUNITCallback objects, received "
            f"{type(callbacks).__name__}"
        )
    for index, callback in enumerate(callbacks):
        if not all(callable(getattr(callback, name, None)) for name in _HOOKS):
            raise TypeError(
                f"callbacks[{index}]: expected a MUNITCallback (with on_step_end and on_fit_end), "
                f"received {type(callback).__name__}"
            )
