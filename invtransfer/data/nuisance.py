"""`NuisanceDataset`: every example carries one fixed nuisance, drawn from ``(seed, index)``."""

from __future__ import annotations

from typing import Any

import PIL.Image
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.v2.functional import pil_to_tensor

from invtransfer._seeding import generator_for
from invtransfer.labels import resolve_labels
from invtransfer.transforms import Params, TransformFamily

__all__ = ["NuisanceDataset"]

_BLOCK = 1024
"""Parameters are drawn in blocks of this many indices, each from its own ``(seed, block)``
stream, so that an example's nuisance depends on its index alone, not on the dataset size."""


class NuisanceDataset(Dataset):
    """A dataset whose every example is transformed by its own fixed nuisance.

    The paper's K49-ROT/BG/DIL-LT construction: each example ``i`` gets one transformation
    from ``family``, drawn deterministically from ``(seed, i)`` when the dataset is built and
    recorded in ``params`` (row ``i``). Items are ``(transformed image, label)``; the clean
    image stays reachable through `clean`, which is what measuring invariance needs.

    Images come back as tensors (PIL images are converted to ``uint8``), in the dtype the
    base dataset gives.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> from invtransfer.transforms import Rotation
        >>> base = TensorDataset(torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 0]))
        >>> rotated = NuisanceDataset(base, Rotation(degrees=90), seed=0)
        >>> image, label = rotated[1]
        >>> image.shape, label.item(), rotated.params.angle.shape
        (torch.Size([1, 8, 8]), 1, torch.Size([3]))
    """

    def __init__(self, dataset: Dataset, family: TransformFamily, seed: int = 0):
        if not isinstance(family, TransformFamily):
            raise TypeError(f"family: expected a TransformFamily, received {type(family).__name__}")
        self.dataset = dataset
        self.family = family
        self.seed = seed
        self.params = _draw_params(family, len(dataset), seed)  # type: ignore[arg-type]

    @property
    def targets(self) -> Tensor:
        """The labels of the base dataset, resolved without decoding images."""
        return resolve_labels(self.dataset)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, index: int) -> tuple[Tensor, Any]:
        image, label = self.clean(index)
        return self.family.apply(image, self.params[index]), label

    def __getitems__(self, indices: list[int]) -> list[tuple[Tensor, Any]]:
        """The items ``indices``, their nuisances applied in one batched call (a DataLoader
        fetches a batch this way); the same items as ``[self[i] for i in indices]``.

        Examples:
            >>> import torch
            >>> from torch.utils.data import TensorDataset
            >>> from invtransfer.transforms import Morphology
            >>> base = TensorDataset(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1]))
            >>> dataset = NuisanceDataset(base, Morphology(), seed=0)
            >>> batch = dataset.__getitems__([3, 1])
            >>> all(torch.equal(a[0], b[0]) for a, b in zip(batch, [dataset[3], dataset[1]]))
            True
        """
        clean = [self.clean(index) for index in indices]
        images = self.family.apply(torch.stack([image for image, _ in clean]), self.params[indices])
        return [(image, label) for image, (_, label) in zip(images, clean, strict=True)]

    def clean(self, index: int) -> tuple[Tensor, Any]:
        """Example ``index`` without its nuisance."""
        image, label = self.dataset[index][:2]
        return (pil_to_tensor(image) if isinstance(image, PIL.Image.Image) else image), label


def _draw_params(family: TransformFamily, size: int, seed: int) -> Params:
    if size < 1:
        raise ValueError(f"dataset: expected a non-empty dataset, received {size} examples")
    blocks = [
        family.sample(_BLOCK, generator_for(seed, block))[: min(_BLOCK, size - start)]
        for block, start in enumerate(range(0, size, _BLOCK))
    ]
    return Params.cat(blocks)
