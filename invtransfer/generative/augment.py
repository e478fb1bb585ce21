"""`GenerativeAugment`: replace part of each batch with translations under random styles.

The paper's Generative Invariance Transfer in a training loop: a frozen generator, trained
on the whole long-tailed dataset, re-draws the nuisance of some images of every batch while
keeping their labels, so that the small classes see the variation the large ones teach.
`LearnedNuisance` is the same generator as a transform family (every image translated), for
measuring how invariant a model is to the nuisance the generator learned.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate, get_worker_info

from invtransfer._images import ImageBatch
from invtransfer._seeding import derive_seed, generator_for, keyed_uniforms, os_seeded
from invtransfer.checkpoint import read_json, read_tensors, write_folder
from invtransfer.generative.bank import TranslationBank, check_range
from invtransfer.generative.config import MUNITConfig
from invtransfer.generative.networks import MUNITGenerator, check_images, random_styles
from invtransfer.generative.trainer import load_generator
from invtransfer.labels import check_class_counts
from invtransfer.transforms import Params, TransformFamily

__all__ = ["GATES", "AugmentCollator", "GenerativeAugment", "LearnedNuisance"]

GATES = ("below", "linear")
"""How ``size_threshold`` gates classes: ``below`` translates only classes smaller than the
threshold; ``linear`` keeps a translation with a probability that falls linearly from 1 for
the smallest class to 0 at the threshold (the paper's optional gate)."""

_BATCH_STREAM = 0  # step keys: draws from (seed, _BATCH_STREAM, epoch, step)
_INDEX_STREAM = 2  # index keys: draws from (seed, _INDEX_STREAM, epoch) and each index
_SETTINGS = ("fraction", "class_counts", "size_threshold", "gate", "start_epoch", "seed")
_INDEX_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
_ITEM_KEYS = ("image", "label", "index")


class LearnedNuisance(TransformFamily):
    """The nuisance a MUNIT generator learned, as a transform family: every image is
    translated under its own N(0, I) style code.

    Hand it to the invariance metrics to measure how much a classifier's predictions move
    under that nuisance (``invariance_curve(model, data, LearnedNuisance(generator), ...)``).
    It keeps a frozen copy of ``generator`` (``eval``, no gradients, ``no_grad``), so the
    caller's generator stays trainable. Parameters: ``style`` ``(N, style_dim)`` and
    ``translate`` ``(N,)`` bool; `identity` translates nothing.

    Examples:
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> nuisance, x = LearnedNuisance(generator), torch.rand(3, 1, 8, 8)
        >>> params = nuisance.sample(3, generator=torch.Generator().manual_seed(0))
        >>> params.style.shape, torch.equal(nuisance.apply(x, params), nuisance.apply(x, params))
        (torch.Size([3, 4]), True)
        >>> torch.equal(nuisance.apply(x, nuisance.identity(3)), x)
        True
    """

    def __init__(self, generator: MUNITGenerator) -> None:
        super().__init__()
        if not isinstance(generator, MUNITGenerator):
            raise TypeError(
                f"generator: expected a MUNITGenerator, received {type(generator).__name__}"
            )
        self.generator = copy.deepcopy(generator).eval().requires_grad_(False)
        self.config = generator.config
        self.channels = (self.config.channels,)

    def train(self, mode: bool = True) -> LearnedNuisance:
        """``nn.Module.train``, except that the generator stays in ``eval`` mode."""
        super().train(mode)
        self.generator.eval()
        return self

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
        return self._translate_rows(x, params.translate, params.style)

    def _translate_rows(self, x: Tensor, rows: Tensor, styles: Tensor) -> Tensor:
        """A copy of ``x`` with the rows of the bool mask ``rows`` translated under ``styles``."""
        out = x.clone()
        chosen = rows.nonzero().squeeze(1)
        if len(chosen):
            out[chosen] = self._translate(x[chosen], styles[chosen])
        return out

    def _translate(self, x: Tensor, styles: Tensor) -> Tensor:
        """Translate float images in [0, 1] under ``styles``, returned where ``x`` was."""
        weight = next(self.generator.parameters())
        with torch.no_grad():
            out = self.generator(x.to(weight) * 2 - 1, styles.to(weight))
        return out.add_(1).div_(2).to(x.device, x.dtype)

    def _validate(self, x: Tensor) -> ImageBatch:
        batch = super()._validate(x)
        check_images(self.config, batch.images)
        device = next(self.generator.parameters()).device
        if batch.images.device.type != device.type:
            raise ValueError(
                f"x: the generator is on {device}, received images on {batch.images.device}; "
                f"move the module with .to(device) or the images to {device}"
            )
        return batch


class _Draws(NamedTuple):
    """The random numbers of one call, one row per image."""

    styles: Tensor  # (N, style_dim) float32 style codes
    proposed: Tensor  # (N,) bool: the rows proposed for translation
    gate: Tensor  # (N,) uniforms in [0, 1): a row survives the class gate when below its rate
    entry: Tensor | None  # (N,) uniforms choosing a bank entry (index keys only)


class GenerativeAugment(nn.Module):
    """Translate a share of every batch with a frozen MUNIT generator; labels are kept.

    ``augment(x, y, key)`` returns ``(images, labels)`` like torchvision's ``CutMix`` and
    timm's ``Mixup``: the images in the dtype and range of ``x`` with some rows translated,
    the labels unchanged (``return_mask=True`` adds the translated rows). See `forward`.

    Args:
        generator: a trained `MUNITGenerator`; the augment keeps a frozen copy of it.
        fraction: the share of each batch proposed for translation (the paper's 0.5).
        class_counts: training images per class; needed by ``size_threshold``.
        size_threshold: gate the proposals by class size (see ``gate``); ``None`` lets every
            class be translated.
        gate: ``"below"`` or ``"linear"`` (see `GATES`).
        start_epoch: translate nothing before this epoch (the paper's delayed start, e.g.
            the first learning-rate step); see `set_epoch`.
        seed: the draws follow from ``(seed, epoch, key)``, so a run repeats exactly.

    Its only state is the epoch (`set_epoch`). It is part of `state_dict` (beside the frozen
    weights), so ``load_state_dict`` resumes it, and it lives in shared memory, so DataLoader
    workers that run `collate`, persistent ones included, see every `set_epoch` of the main
    process. ``copy.deepcopy`` and ``pickle`` give an augment with its own epoch;
    ``copy.copy``, like for any ``nn.Module``, shares the generator and the epoch.
    `family` is the generator as a transform family (`LearnedNuisance`).

    Examples:
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> augment = GenerativeAugment(generator, fraction=0.5, seed=0)
        >>> x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
        >>> images, labels = augment(x, y, key=0)  # key: the step, or the dataset indices
        >>> images.shape, labels.tolist()
        (torch.Size([4, 1, 8, 8]), [0, 1, 2, 3])
        >>> again, _, mask = augment(x, y, key=0, return_mask=True)
        >>> torch.equal(again, images), int(mask.sum()), torch.equal(images[~mask], x[~mask])
        (True, 2, True)
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
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise TypeError(f"fraction: expected a number in [0, 1], received {fraction!r}")
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction: expected a number in [0, 1], received {fraction!r}")
        _check_int("start_epoch", start_epoch)
        _check_int("seed", seed)
        # a frozen copy: the caller's generator (say, a trainer's) stays trainable
        self.family = LearnedNuisance(generator)
        self.config = generator.config
        self.fraction, self.start_epoch, self.seed = float(fraction), start_epoch, seed
        self.class_counts = None if class_counts is None else check_class_counts(class_counts)
        self.size_threshold, self.gate = size_threshold, gate
        self.keep_probability = _keep_probability(self.class_counts, size_threshold, gate)
        self.bank: TranslationBank | None = None
        # a plain attribute, not a buffer: it stays on the CPU, in shared memory, whatever
        # device the generator moves to (see get_extra_state for its place in state_dict)
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def generator(self) -> MUNITGenerator:
        """The frozen generator (``family.generator``)."""
        return self.family.generator

    @property
    def epoch(self) -> int:
        """The epoch `set_epoch` set last (0 before any call)."""
        return int(self._epoch)

    @property
    def active(self) -> bool:
        """Whether this epoch translates anything (``epoch >= start_epoch``)."""
        return self.epoch >= self.start_epoch

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: translations begin at ``start_epoch``, and the draws of a
        key differ from epoch to epoch. Call it before iterating the epoch's DataLoader."""
        _check_int("epoch", epoch)
        self._epoch.fill_(epoch)  # in place: the workers' copies share this memory

    def forward(
        self, x: Tensor, y: Tensor, key: int | Tensor | None = None, *, return_mask: bool = False
    ) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
        """Propose rows for translation (``round(fraction * N)`` of them for a step key, each
        with probability ``fraction`` for an index key), thin them with the class gate, translate
        them under N(0, I) styles (or take stored translations in bank mode).

        Args:
            x: ``uint8`` or float images in [0, 1], ``(N, C, H, W)``, on the generator's device.
            y: ``(N,)`` class ids; returned as they are.
            key: the source of the draws, which are a function of ``(seed, epoch, key)``:

                - an int step ``>= 0`` (e.g. the batch's position in the epoch): one stream
                  for the whole batch;
                - a 1-D integer tensor of the batch's ``N`` dataset indices: everything about
                  an image (whether it is proposed, with probability ``fraction``, its style,
                  gate draw and bank entry) follows from ``(seed, epoch, index)`` alone, so it
                  is the same whatever batch, worker or rank the image lands in; the number
                  of proposed rows is then binomial rather than fixed. Bank mode needs this
                  key.
                - ``None``: a generator seeded from the operating system, so results differ
                  from call to call (the global RNGs are never read or changed).
            return_mask: also return the ``(N,)`` bool mask of the translated rows.

        Returns:
            ``(images, y)``, or ``(images, y, mask)``: ``images`` in the dtype of ``x``.
        """
        batch = self.family._validate(x)
        n = len(batch.images)
        labels = self._check_labels(y, n)
        key = self._check_key(key, n)
        draws = self._draws(key, n)
        mask = self._choose_rows(labels.cpu(), draws)
        if self.bank is None:
            device = batch.images.device
            images = self.family._translate_rows(
                batch.images, mask.to(device), draws.styles.to(device)
            )
        else:  # _check_key made the key an index tensor, whose draws choose bank entries
            index, entry = cast(Tensor, key), cast(Tensor, draws.entry)
            images = _from_bank(self.bank, batch.images, mask, index, entry)
        out = batch.restore(images)
        return (out, y, mask.to(labels.device)) if return_mask else (out, y)

    def collate(self, items: Sequence[Any]) -> tuple[Tensor, Tensor]:
        """A DataLoader ``collate_fn``: batch ``(image, label[, index])`` items, then augment
        them with the indices as the key; ``(images, labels)``. The same as
        ``collator()(items)``: see `AugmentCollator` for the items it takes, the key it uses
        and its use in worker processes (persistent ones included)."""
        return self.collator()(items)  # type: ignore[return-value]

    def collator(
        self,
        as_dict: bool = False,
        keys: Sequence[str] = _ITEM_KEYS,
        return_mask: bool = False,
    ) -> AugmentCollator:
        """A picklable collate function over this augment (see `AugmentCollator`).

        Examples:
            >>> from invtransfer.generative import MUNITGenerator, preset
            >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
            >>> collate = GenerativeAugment(generator).collator(
            ...     as_dict=True, keys=("pixel_values", "labels")
            ... )  # e.g. Hugging Face Trainer's data_collator
            >>> items = [{"pixel_values": torch.rand(1, 8, 8), "labels": i} for i in range(4)]
            >>> batch = collate(items)
            >>> sorted(batch), batch["labels"].tolist()
            (['labels', 'pixel_values'], [0, 1, 2, 3])
        """
        return AugmentCollator(self, as_dict, keys, return_mask)

    def build_bank(
        self,
        data: Dataset | Tensor,
        k: int = 8,
        batch_size: int = 256,
        max_bytes: int = 2**31,
        progress: bool = False,
    ) -> TranslationBank:
        """Pre-generate ``k`` translations of every image of ``data`` (on this augment's
        device) and draw from them from now on; every call must then pass the batch's dataset
        indices as its ``key``.

        The bank takes ``len(data) * k * C * H * W`` bytes of CPU memory (``uint8``); a bank
        over ``max_bytes`` is refused. See `TranslationBank`.
        """
        self.bank = TranslationBank.build(
            self.family._translate, data, k, self.config.style_dim, self.seed,
            batch_size, max_bytes, progress,
        )  # fmt: skip
        return self.bank

    def save(self, path: str | Path) -> Path:
        """Write the generator, these settings and any bank to the folder ``path``
        (safetensors and JSON). The save is old-or-new: the new folder is written beside
        ``path`` and swapped with the old one in one atomic exchange, so a process killed at
        any moment leaves the old augment or the new one at ``path``, never none or half of
        one. The epoch is training state: see `state_dict`.

        Examples:
            >>> import tempfile
            >>> from invtransfer.generative import MUNITGenerator, preset
            >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
            >>> folder = tempfile.mkdtemp() + "/augment"
            >>> _ = GenerativeAugment(generator, fraction=0.25).save(folder)
            >>> _ = GenerativeAugment(generator, fraction=0.5).save(folder)  # replaces it
            >>> GenerativeAugment.load(folder).fraction
            0.5
        """
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
        """The augment `save` wrote (never unpickling anything; a generator ``config.json``
        describing more than 200 M parameters is refused before it is built).

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

    def get_extra_state(self) -> Tensor:
        """The epoch, as ``state_dict()["_extra_state"]`` (an int64 scalar tensor)."""
        return self._epoch.clone()

    def set_extra_state(self, state: Any) -> None:
        """Restore the epoch from `get_extra_state` (``load_state_dict`` calls this)."""
        if (
            not isinstance(state, Tensor)
            or state.dtype not in _INDEX_DTYPES
            or state.ndim != 0
            or int(state) < 0
        ):
            raise ValueError(
                f"_extra_state: expected the epoch as an integer scalar tensor >= 0, received "
                f"{state!r}"
            )
        self._epoch.fill_(int(state))

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._epoch.share_memory_()  # a deep copy or an unpickled augment: shared again

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

    def _check_key(self, key: object, n: int) -> int | Tensor | None:
        """``key`` checked: a step, ``None``, or the dataset indices as int64 on the CPU."""
        expected = f"an int step >= 0 or a 1-D integer tensor of the batch's {n} dataset indices"
        if self.bank is not None and not isinstance(key, Tensor):
            raise ValueError(
                f"key: in bank mode expected the batch's {n} dataset indices (a 1-D integer "
                f"tensor; items (image, label, index) for collate), received {key!r}"
            )
        if key is None:
            return None
        if isinstance(key, bool) or not isinstance(key, (int, Tensor)):
            raise TypeError(f"key: expected {expected}, received {type(key).__name__}")
        if isinstance(key, int):
            if key < 0:
                raise ValueError(f"key: expected {expected}, received {key}")
            return key
        if key.dtype not in _INDEX_DTYPES:
            raise TypeError(f"key: expected {expected}, received a tensor of dtype {key.dtype}")
        if key.shape != (n,):
            raise ValueError(f"key: expected {expected}, received shape {tuple(key.shape)}")
        index = key.cpu().long()
        check_range("key", index, len(self.bank) if self.bank is not None else None)
        return index

    @torch.compiler.disable  # host-side draws: uint64 hashing and seeding, not traceable
    def _draws(self, key: int | Tensor | None, n: int) -> _Draws:
        if isinstance(key, Tensor):
            base = derive_seed(self.seed, _INDEX_STREAM, self.epoch)
            return _index_draws(base, key, self.config.style_dim, self.fraction)
        if key is None:
            generator = os_seeded()
        else:
            generator = generator_for(self.seed, _BATCH_STREAM, self.epoch, key)
        styles = random_styles(n, self.config, generator)
        proposed = torch.zeros(n, dtype=torch.bool)
        proposed[torch.randperm(n, generator=generator)[: _round_half_up(self.fraction * n)]] = True
        return _Draws(styles, proposed, torch.rand(n, generator=generator), None)

    def _choose_rows(self, labels: Tensor, draws: _Draws) -> Tensor:
        """The proposed rows, each kept with its class's probability; nothing before
        ``start_epoch``."""
        if not self.active:
            return torch.zeros(len(labels), dtype=torch.bool)
        if self.keep_probability is None:
            return draws.proposed
        return draws.proposed & (draws.gate < self.keep_probability[labels])


class AugmentCollator:
    """A DataLoader ``collate_fn`` that batches items and augments them with a
    `GenerativeAugment` (made by `GenerativeAugment.collator`); picklable.

    Items are ``(image, label)`` or ``(image, label, index)`` tuples, or dicts whose
    ``keys[0]`` and ``keys[1]`` entries are the image and the label (and ``keys[2]``, when
    given and present, the dataset index). A batch with indices is augmented with them as
    its key, so an image's draws follow from ``(seed, epoch, index)`` and do not depend on the
    number of workers or on which worker made the batch; a batch without indices is augmented
    with fresh, non-repeatable draws (``key=None``).

    Returns ``(images, labels)``, with the mask of translated rows third when ``return_mask``.
    With ``as_dict``, a dict instead: the images under ``keys[0]``, the labels under
    ``keys[1]``, ``"mask"`` when ``return_mask``, and the other fields of dict items collated
    as they are (Hugging Face ``Trainer``'s ``data_collator`` takes such a function).

    Worker processes: the augment must stay on the CPU (no CUDA in workers; a `RuntimeError`
    says so). Call ``augment.set_epoch(epoch)`` in the main process before each epoch's
    iteration: the epoch lives in shared memory, so workers see it, persistent ones included
    (``persistent_workers=True``), under ``fork``, ``spawn`` and ``forkserver``.

    Examples:
        >>> from torch.utils.data import DataLoader
        >>> from invtransfer.generative import GenerativeAugment, MUNITGenerator, preset
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> augment = GenerativeAugment(generator, fraction=0.5)
        >>> items = [(torch.rand(1, 8, 8), i % 2, i) for i in range(8)]  # (image, label, index)
        >>> loader = DataLoader(items, batch_size=4, collate_fn=augment.collator(return_mask=True))
        >>> images, labels, mask = next(iter(loader))
        >>> images.shape, labels.tolist()
        (torch.Size([4, 1, 8, 8]), [0, 1, 0, 1])
        >>> int(mask.sum())  # each row with probability 0.5, from (seed, epoch, its index)
        3
    """

    def __init__(
        self,
        augment: GenerativeAugment,
        as_dict: bool = False,
        keys: Sequence[str] = _ITEM_KEYS,
        return_mask: bool = False,
    ) -> None:
        if not isinstance(augment, GenerativeAugment):
            raise TypeError(
                f"augment: expected a GenerativeAugment, received {type(augment).__name__}"
            )
        if (
            isinstance(keys, str)
            or not isinstance(keys, Sequence)
            or len(keys) not in (2, 3)
            or not all(isinstance(k, str) for k in keys)
            or len(set(keys)) != len(keys)
        ):
            raise ValueError(
                f"keys: expected 2 or 3 distinct names (image, label[, index]), received {keys!r}"
            )
        self.augment, self.as_dict = augment, bool(as_dict)
        self.keys, self.return_mask = tuple(keys), bool(return_mask)

    def __call__(self, items: Sequence[Any]) -> tuple[Tensor, ...] | dict[str, Any]:
        self._check_worker_device()
        x, y, index, extra = self._columns(items)
        out = self.augment(x, y, index, return_mask=self.return_mask)
        if not self.as_dict:
            return out
        named = dict(zip(self.keys[:2], out[:2], strict=True))
        return {**extra, **named, **({"mask": out[2]} if self.return_mask else {})}

    def __repr__(self) -> str:
        return (
            f"AugmentCollator(as_dict={self.as_dict}, keys={self.keys}, "
            f"return_mask={self.return_mask})"
        )

    def _check_worker_device(self) -> None:
        device = next(self.augment.generator.parameters()).device
        if get_worker_info() is not None and device.type != "cpu":
            raise RuntimeError(
                f"collate: DataLoader workers cannot use {device}; keep this augment on the "
                f"CPU for collate, or call it on the batch inside the training step"
            )

    def _columns(self, items: Sequence[Any]) -> tuple[Any, Any, Tensor | None, dict[str, Any]]:
        """Images, labels, indices (or ``None``) and any other dict fields, batched."""
        expected = (
            f"items: expected (image, label) or (image, label, index) items, or dicts with "
            f"the keys {self.keys[:2]!r}"
        )
        if not isinstance(items, Sequence) or not items:
            raise ValueError(f"{expected}, received {items!r}")
        first = items[0]
        if isinstance(first, Mapping):
            columns = dict(default_collate(list(items)))
            missing = [name for name in self.keys[:2] if name not in columns]
            if missing:
                raise ValueError(f"{expected}, received dicts with the keys {sorted(columns)}")
            image, label = (columns.pop(name) for name in self.keys[:2])
            index = columns.pop(self.keys[2], None) if len(self.keys) == 3 else None
            return image, label, index, columns
        if not isinstance(first, (list, tuple)) or len(first) not in (2, 3):
            raise ValueError(f"{expected}, received items of {type(first).__name__}")
        columns = default_collate(list(items))
        return columns[0], columns[1], columns[2] if len(columns) == 3 else None, {}


def _index_draws(base: int, index: Tensor, style_dim: int, fraction: float) -> _Draws:
    """Draws for an index key: row ``i`` from ``(base, index[i])`` alone."""
    uniforms = keyed_uniforms(base, index, 3 + style_dim)
    styles = torch.special.ndtri(uniforms[:, 3:]).float()
    return _Draws(styles, uniforms[:, 0] < fraction, uniforms[:, 1], uniforms[:, 2])


def _round_half_up(value: float) -> int:
    """``value`` rounded to the nearest int, halves up (Python's ``round`` goes to even)."""
    return math.floor(value + 0.5)


def _from_bank(
    bank: TranslationBank, x: Tensor, mask: Tensor, index: Tensor, entry: Tensor
) -> Tensor:
    """A copy of ``x`` whose ``mask`` rows are stored translations of their images, entry
    ``floor(entry * k)`` of each."""
    out = x.clone()
    rows = mask.nonzero().squeeze(1)
    choice = (entry[rows] * bank.k).long()
    out[rows.to(x.device)] = bank.select(index[rows], choice).to(x.device, x.dtype)
    return out


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
