"""`TranslationBank`: K translations of every training image, made once, drawn from cheaply.

The generator is frozen while a classifier trains, so its translations of a fixed training set
can be computed once. The bank stores them as ``uint8`` (N, K, C, H, W) on the CPU:
``N * K * C * H * W`` bytes (K = 8 translations of 10,000 28x28 gray images: 63 MB), and a
training step then pays an index lookup instead of a generator pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from invtransfer._images import ImageBatch
from invtransfer._seeding import generator_for
from invtransfer._validation import check_positive_ints

__all__ = ["TranslationBank"]

_STYLE_BLOCK = 1024
"""Style codes are drawn for blocks of this many images, each block from its own stream, so
that an image's translations depend on its index alone (not on the batch size)."""
_BANK_STREAM = 1


class TranslationBank:
    """``k`` stored translations per image: ``images[i, j]`` is translation ``j`` of image ``i``.

    Examples:
        >>> flip = lambda x, styles: x.flip(-1)  # any (images, styles) -> images in [0, 1]
        >>> bank = TranslationBank.build(flip, torch.rand(5, 1, 4, 4), k=3, style_dim=2)
        >>> bank.images.shape, bank.images.dtype, bank.nbytes
        (torch.Size([5, 3, 1, 4, 4]), torch.uint8, 240)
        >>> bank.select(torch.tensor([4, 0]), entry=torch.tensor([2, 0])).shape
        torch.Size([2, 1, 4, 4])
    """

    def __init__(self, images: Tensor) -> None:
        if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 5:
            raise ValueError(
                "images: expected a uint8 tensor (N, K, C, H, W), received "
                f"{getattr(images, 'dtype', type(images).__name__)} of shape "
                f"{tuple(getattr(images, 'shape', ()))}"
            )
        self.images = images

    @property
    def k(self) -> int:
        """Translations per image."""
        return self.images.shape[1]

    @property
    def nbytes(self) -> int:
        """Memory the stored translations take."""
        return self.images.numel()

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def build(
        cls,
        translate: Callable[[Tensor, Tensor], Tensor],
        data: Dataset | Tensor,
        k: int,
        style_dim: int,
        seed: int = 0,
        batch_size: int = 256,
        max_bytes: int = 2**31,
        progress: bool = False,
    ) -> TranslationBank:
        """Translate every image of ``data`` under ``k`` random styles, in batches.

        Args:
            translate: maps float images in [0, 1] on the CPU and ``(n, style_dim)`` styles
                to translated images in [0, 1].
            data: a tensor of images, or a dataset whose items are images or start with one;
                bank row ``i`` belongs to image ``i``.
            k: translations per image.
            style_dim: length of the style codes.
            seed: the style codes follow from ``(seed, image index)``.
            batch_size: images translated at a time (memory, not results, depends on it).
            max_bytes: refuse to build a bank larger than this.
            progress: show a progress bar.
        """
        check_positive_ints(k=k, style_dim=style_dim, batch_size=batch_size, max_bytes=max_bytes)
        if not callable(translate):
            raise TypeError(
                f"translate: expected a callable (images, styles) -> images, received "
                f"{type(translate).__name__}"
            )
        first = ImageBatch.from_user(_image(next(iter(_batches(data, 1)))), "data")
        n = len(data)  # type: ignore[arg-type]
        shape = (n, k, *first.images.shape[1:])
        needed = torch.Size(shape).numel()
        if needed > max_bytes:
            raise ValueError(
                f"k: a bank of {k} translations of {n} images of shape "
                f"{tuple(shape[2:])} takes {needed / 2**20:.0f} MiB, over max_bytes="
                f"{max_bytes / 2**20:.0f} MiB; lower k or raise max_bytes"
            )
        bank = torch.empty(shape, dtype=torch.uint8)
        start = 0
        for batch in tqdm(
            _batches(data, batch_size), desc="translation bank", disable=not progress
        ):
            x = ImageBatch.from_user(_image(batch), "data").images
            styles = _styles(seed, start, start + len(x), k, style_dim)
            out = translate(x.repeat_interleave(k, dim=0), styles.flatten(0, 1))
            bank[start : start + len(x)] = out.unflatten(0, (len(x), k)).mul(255).round_().byte()
            start += len(x)
        return cls(bank)

    def select(self, index: Tensor, entry: Tensor) -> Tensor:
        """Translation ``entry[i]`` of image ``index[i]``, for each ``i``, as float images in
        [0, 1] on the CPU.

        Examples:
            >>> bank = TranslationBank(torch.arange(4, dtype=torch.uint8).view(2, 2, 1, 1, 1))
            >>> bank.select(torch.tensor([1, 0]), torch.tensor([0, 1])).flatten().mul(255)
            tensor([2., 1.])
        """
        index = torch.as_tensor(index, dtype=torch.long).cpu()
        entry = torch.as_tensor(entry, dtype=torch.long).cpu()
        if entry.shape != index.shape:
            raise ValueError(
                f"entry: expected one entry per index, shape {tuple(index.shape)}, received "
                f"shape {tuple(entry.shape)}"
            )
        check_range("index", index, len(self))
        check_range("entry", entry, self.k)
        return self.images[index, entry].float().div_(255)


def check_range(name: str, values: Tensor, stop: int | None) -> None:
    """Raise ``ValueError`` unless every value is in ``[0, stop)`` (``>= 0`` when ``stop`` is
    ``None``)."""
    if not values.numel():
        return
    low, high = int(values.min()), int(values.max())
    if low < 0 or (stop is not None and high >= stop):
        expected = f"values in [0, {stop})" if stop is not None else "values >= 0"
        raise ValueError(f"{name}: expected {expected}, received values in [{low}, {high}]")


def _styles(seed: int, start: int, stop: int, k: int, style_dim: int) -> Tensor:
    """The ``(stop - start, k, style_dim)`` style codes of images ``start..stop-1``."""
    first, last = start // _STYLE_BLOCK, (stop - 1) // _STYLE_BLOCK
    blocks = [
        torch.randn(_STYLE_BLOCK, k, style_dim, generator=generator_for(seed, _BANK_STREAM, b))
        for b in range(first, last + 1)
    ]
    offset = first * _STYLE_BLOCK
    return torch.cat(blocks)[start - offset : stop - offset]


def _image(item: object) -> Tensor:
    return item[0] if isinstance(item, (list, tuple)) else item  # type: ignore[return-value]


def _batches(data: Dataset | Tensor, batch_size: int) -> Iterable[Any]:
    """Consecutive batches of a tensor of images or of a dataset, in order."""
    if isinstance(data, Tensor):
        return data.split(batch_size)
    return DataLoader(data, batch_size=batch_size, generator=generator_for(0))  # not the global RNG
