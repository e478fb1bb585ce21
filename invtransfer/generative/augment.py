"""`GenerativeAugment`: replace part of each batch with translations under random styles.

The paper's Generative Invariance Transfer in a training loop: a frozen generator, trained
on the whole long-tailed dataset, re-draws the nuisance of some images of every batch while
keeping their labels, so that the small classes see the variation the large ones teach.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, default_collate, get_worker_info

from invtransfer._images import ImageBatch
from invtransfer._seeding import generator_for
from invtransfer.generative.bank import TranslationBank
from invtransfer.generative.checkpoint import read_json, read_tensors, write_folder
from invtransfer.generative.config import MUNITConfig
from invtransfer.generative.networks import MUNITGenerator, check_images, random_styles
from invtransfer.generative.trainer import load_generator
from invtransfer.labels import check_class_counts
from invtransfer.transforms import Params, TransformFamily

__all__ = ["GATES", "GenerativeAugment"]

GATES = ("below", "linear")
"""How ``size_threshold`` gates classes: ``below`` translates only classes smaller than the
threshold; ``linear`` keeps a translation with a probability that falls linearly from 1 for
the smallest class to 0 at the threshold (the paper's optional gate)."""

_BATCH_STREAM = 0  # batch draws come from (seed, _BATCH_STREAM, epoch, batch index)
_SETTINGS = ("fraction", "class_counts", "size_threshold", "gate", "start_epoch", "seed")


class GenerativeAugment(TransformFamily):
    """Translate a share of every batch with a frozen MUNIT generator; labels are kept.

    Args:
        generator: a trained `MUNITGenerator`; the augment keeps a frozen copy of it.
        fraction: the share of each batch proposed for translation (the paper's 0.5).
        class_counts: training images per class; needed by ``size_threshold``.
        size_threshold: gate the proposals by class size (see ``gate``); ``None`` lets every
            class be translated.
        gate: ``"below"`` or ``"linear"`` (see `GATES`).
        start_epoch: translate nothing before this epoch (the paper's delayed start, e.g.
            the first learning-rate step); see `set_epoch`.
        seed: which rows are translated and their styles follow from ``(seed, epoch,
            batch index)``, so a run repeats exactly.

    Calling it with labels, ``augment(x, y)``, returns ``(images, labels, mask)``: images in
    the dtype and range of ``x`` with the rows of ``mask`` translated, and ``labels`` unchanged.
    As a `TransformFamily` (``augment(x)``, ``sample``, ``apply``, ``views``) it translates
    every image, so invariance can be measured against the learned nuisance.

    Examples:
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> augment = GenerativeAugment(generator, fraction=0.5, seed=0)
        >>> x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
        >>> images, labels, mask = augment(x, y)
        >>> images.shape, labels.tolist(), int(mask.sum())
        (torch.Size([4, 1, 8, 8]), [0, 1, 2, 3], 2)
        >>> torch.equal(images[~mask], x[~mask])
        True
    """

    def __init__(
        self,
        generator: MUNITGenerator,
        fraction: float = 0.5,
        class_counts: Tensor | list[int] | None = None,
        size_threshold: int | None = None,
        gate: str = "below",
        start_epoch: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(generator, MUNITGenerator):
            raise TypeError(
                f"generator: expected a MUNITGenerator, received {type(generator).__name__}"
            )
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise TypeError(f"fraction: expected a number in [0, 1], received {fraction!r}")
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction: expected a number in [0, 1], received {fraction!r}")
        _check_int("start_epoch", start_epoch)
        _check_int("seed", seed)
        # a frozen copy: the caller's generator (say, a trainer's) stays trainable
        self.generator = copy.deepcopy(generator).eval().requires_grad_(False)
        self.config = generator.config
        self.channels = (self.config.channels,)
        self.fraction, self.start_epoch, self.seed = float(fraction), start_epoch, seed
        self.class_counts = None if class_counts is None else check_class_counts(class_counts)
        self.size_threshold, self.gate = size_threshold, gate
        self.keep_probability = _keep_probability(self.class_counts, size_threshold, gate)
        self.epoch, self.batch_index = 0, 0
        self.bank: TranslationBank | None = None

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: translations begin at ``start_epoch``, and the batch count
        that seeds each batch restarts at 0. Call it before iterating the DataLoader."""
        _check_int("epoch", epoch)
        self.epoch, self.batch_index = epoch, 0

    @property
    def active(self) -> bool:
        """Whether this epoch translates anything (``epoch >= start_epoch``)."""
        return self.epoch >= self.start_epoch

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        index: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Any:
        """With labels: ``(images, labels, mask)`` for a training batch. Without: every image
        translated (the transform-family behaviour).

        Args:
            x: ``uint8`` or float images in [0, 1], ``(N, C, H, W)``, on the generator's device.
            y: ``(N,)`` class ids.
            index: ``(N,)`` dataset indices of the images; needed in bank mode.
            generator: a CPU generator for the draws; by default one derived from
                ``(seed, epoch, batch index)``, the batch index counting calls since
                `set_epoch`.
        """
        if y is None:
            return super().forward(x, generator)
        batch = self._validate(x)
        labels = self._check_labels(y, len(batch.images))
        generator = generator if generator is not None else self._next_generator()
        params = Params(
            style=random_styles(len(labels), self.config, generator),
            translate=self._choose_rows(labels.cpu(), generator),
        )
        if self.bank is None:
            images = self._transform(batch.images, params.to(batch.images.device))
        else:
            images = self._from_bank(self.bank, batch.images, params.translate, index, generator)
        return batch.restore(images), y, params.translate.to(labels.device)

    def collate(self, items: list[Any]) -> tuple[Tensor, Tensor, Tensor]:
        """A DataLoader ``collate_fn``: batch ``(image, label)`` or ``(image, label, index)``
        items, then augment them; returns ``(images, labels, mask)``.

        Worker-safe: in a worker process the generator must be on the CPU (no CUDA there).
        Batch ``b`` of an epoch is augmented the same way whatever the number of workers
        (workers take batches in turn), provided `set_epoch` is called before each epoch's
        iteration and workers are not persistent.
        """
        worker = get_worker_info()
        device = next(self.generator.parameters()).device
        if worker is not None and device.type != "cpu":
            raise RuntimeError(
                f"collate: DataLoader workers cannot use {device}; keep this augment on the "
                f"CPU for collate, or call it on the batch inside the training step"
            )
        columns = default_collate(items)
        if not isinstance(columns, (list, tuple)) or len(columns) not in (2, 3):
            raise ValueError(
                "items: expected (image, label) or (image, label, index) pairs, received "
                f"items of {type(items[0]).__name__}"
            )
        return self(*columns[:2], index=columns[2] if len(columns) == 3 else None)

    def build_bank(
        self,
        data: Dataset | Tensor,
        k: int = 8,
        batch_size: int = 256,
        max_bytes: int = 2**31,
        progress: bool = False,
    ) -> TranslationBank:
        """Pre-generate ``k`` translations of every image of ``data`` (on this augment's
        device) and draw from them from now on; calls must then pass ``index``.

        The bank takes ``len(data) * k * C * H * W`` bytes of CPU memory (``uint8``); a bank
        over ``max_bytes`` is refused. See `TranslationBank`.
        """
        self.bank = TranslationBank.build(
            self._translate_on_device, data, k, self.config.style_dim, self.seed,
            batch_size, max_bytes, progress,
        )  # fmt: skip
        return self.bank

    def save(self, path: str | Path) -> Path:
        """Write the generator, these settings and any bank to the folder ``path``
        (safetensors and JSON, atomically)."""
        tensors = {"generator": self.generator.state_dict()}
        if self.bank is not None:
            tensors["bank"] = {"images": self.bank.images}
        settings = {name: getattr(self, name) for name in _SETTINGS}
        if self.class_counts is not None:
            settings["class_counts"] = self.class_counts.tolist()
        documents = {"config": self.config.to_dict(), "augment": settings}
        return write_folder(path, tensors, documents)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> GenerativeAugment:
        """The augment `save` wrote (never unpickling anything).

        Examples:
            >>> import tempfile
            >>> from invtransfer.generative import MUNITGenerator, preset
            >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
            >>> folder = GenerativeAugment(generator, fraction=0.25).save(tempfile.mkdtemp())
            >>> GenerativeAugment.load(folder).fraction
            0.25
        """
        settings = read_json(path, "augment")
        expected = set(_SETTINGS)
        if not isinstance(settings, dict) or set(settings) != expected:
            raise ValueError(
                f"{path}/augment.json: expected the settings {sorted(expected)}, received "
                f"{sorted(settings) if isinstance(settings, dict) else type(settings).__name__}"
            )
        augment = cls(load_generator(path, device), **settings)
        if (Path(path) / "bank.safetensors").exists():
            augment.bank = _checked_bank(read_tensors(path, "bank"), augment.config, path)
        return augment

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        """Parameters that translate nothing."""
        return Params(
            style=torch.zeros(n, self.config.style_dim, device=device),
            translate=torch.zeros(n, dtype=torch.bool, device=device),
        )

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        styles = torch.randn(n, self.config.style_dim, generator=generator, device=device)
        return Params(style=styles, translate=torch.ones(n, dtype=torch.bool, device=device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        out = x.clone()
        rows = params.translate.nonzero().squeeze(1)
        if len(rows):
            out[rows] = self._translate_on_device(x[rows], params.style[rows])
        return out

    def _translate_on_device(self, x: Tensor, styles: Tensor) -> Tensor:
        """Translate float images in [0, 1] under ``styles``, returned where ``x`` was."""
        weight = next(self.generator.parameters())
        with torch.no_grad():
            out = self.generator(x.to(weight) * 2 - 1, styles.to(weight))
        return out.add_(1).div_(2).to(x.device, x.dtype)

    @staticmethod
    def _from_bank(
        bank: TranslationBank,
        x: Tensor,
        rows: Tensor,
        index: Tensor | None,
        generator: torch.Generator,
    ) -> Tensor:
        if index is None:
            raise ValueError(
                "index: in bank mode every call needs the dataset indices of its images "
                "(items (image, label, index) for collate), received None"
            )
        if (
            not isinstance(index, Tensor)
            or index.dtype.is_floating_point
            or index.shape != rows.shape
        ):
            raise ValueError(
                f"index: expected {len(rows)} integer dataset indices, shape ({len(rows)},), "
                f"received {getattr(index, 'dtype', type(index).__name__)} of shape "
                f"{tuple(getattr(index, 'shape', ()))}"
            )
        out = x.clone()
        chosen = index.cpu()[rows]
        out[rows.to(x.device)] = bank.draw(chosen, generator).to(x.device, x.dtype)
        return out

    def _validate(self, x: Tensor) -> ImageBatch:
        batch = super()._validate(x)
        check_images(self.config, batch.images)
        device = next(self.generator.parameters()).device
        if batch.images.device.type != device.type:
            raise ValueError(
                f"x: the generator is on {device}, received images on {batch.images.device}; "
                f"move the augment with .to(device) or the images to {device}"
            )
        return batch

    def _check_labels(self, y: Tensor, n: int) -> Tensor:
        if not isinstance(y, Tensor) or y.dtype.is_floating_point or y.shape != (n,):
            raise ValueError(
                f"y: expected {n} integer class ids, shape ({n},), received "
                f"{getattr(y, 'dtype', type(y).__name__)} of shape {tuple(getattr(y, 'shape', ()))}"
            )
        if self.keep_probability is not None and len(y):
            classes = len(self.keep_probability)
            if not 0 <= int(y.min()) <= int(y.max()) < classes:
                raise ValueError(
                    f"y: expected class ids in [0, {classes}) (len(class_counts)), received "
                    f"values in [{int(y.min())}, {int(y.max())}]"
                )
        return y

    def _choose_rows(self, labels: Tensor, generator: torch.Generator) -> Tensor:
        """Propose ``round(fraction * N)`` random rows, then keep each with its class's
        probability; nothing before ``start_epoch``."""
        n = len(labels)
        order, uniforms = torch.randperm(n, generator=generator), torch.rand(n, generator=generator)
        mask = torch.zeros(n, dtype=torch.bool)
        if not self.active:
            return mask
        mask[order[: math.floor(self.fraction * n + 0.5)]] = True
        if self.keep_probability is not None:
            mask &= uniforms < self.keep_probability[labels]
        return mask

    def _next_generator(self) -> torch.Generator:
        """The draws of the next batch. In a DataLoader worker, its k-th batch is the
        loader's batch ``k * num_workers + worker id`` (workers take batches in turn)."""
        worker = get_worker_info()
        batch = self.batch_index
        if worker is not None:
            batch = batch * worker.num_workers + worker.id
        self.batch_index += 1
        return generator_for(self.seed, _BATCH_STREAM, self.epoch, batch)


def _keep_probability(counts: Tensor | None, threshold: int | None, gate: str) -> Tensor | None:
    if gate not in GATES:
        raise ValueError(f"gate: expected one of {GATES}, received {gate!r}")
    if threshold is None:
        return None
    _check_int("size_threshold", threshold)
    if counts is None:
        raise ValueError(
            "class_counts: expected the training class sizes with size_threshold, received None"
        )
    sizes = counts.double()
    if gate == "below":
        return (sizes < threshold).double()
    smallest = float(sizes.min())
    if threshold <= smallest:
        raise ValueError(
            f"size_threshold: expected more than the smallest class size {smallest:.0f} for "
            f"the linear gate, received {threshold}"
        )
    return ((threshold - sizes) / (threshold - smallest)).clamp(0, 1)


def _checked_bank(tensors: dict[str, Tensor], config: MUNITConfig, path: object) -> TranslationBank:
    images = tensors.get("images")
    expected = (config.channels, config.image_size, config.image_size)
    if images is None or images.ndim != 5 or tuple(images.shape[2:]) != expected:
        raise ValueError(
            f"{path}/bank.safetensors: expected 'images' of shape (N, K, *{expected}), "
            f"received {None if images is None else tuple(images.shape)}"
        )
    return TranslationBank(images)


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected an int >= 0, received {value!r}")
