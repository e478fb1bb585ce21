"""`TensorImages`: an in-memory image dataset with its labels at hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from invtransfer._validation import instance

__all__ = ["TensorImages"]


class TensorImages(Dataset):
    """Images held in one ``uint8`` tensor ``(N, C, H, W)`` with integer ``targets``.

    Items are ``(image, label)`` with the image a ``(C, H, W)`` uint8 tensor (after the
    optional ``transform``) and the label an ``int``.

    Examples:
        >>> data = TensorImages(torch.zeros(5, 1, 28, 28, dtype=torch.uint8), torch.arange(5))
        >>> image, label = data[3]
        >>> image.shape, label
        (torch.Size([1, 28, 28]), 3)
    """

    def __init__(
        self, images: Tensor, targets: Tensor, transform: Callable[[Tensor], Any] | None = None
    ):
        instance("images", images, Tensor)
        instance("targets", targets, Tensor)
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images: expected a uint8 tensor (N, C, H, W), received {images.dtype} "
                f"of shape {tuple(images.shape)}"
            )
        if targets.shape != (len(images),):
            raise ValueError(
                f"targets: expected one label per image, shape ({len(images)},), received "
                f"shape {tuple(targets.shape)}"
            )
        self.images = images
        self.targets = targets.to(torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.targets[index])
