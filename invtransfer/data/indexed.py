"""`WithIndex`: items that carry their own dataset index, for per-example keys."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torch.utils.data import Dataset

from invtransfer.labels import resolve_labels

__all__ = ["WithIndex"]


class WithIndex(Dataset):
    """The items ``(image, label)`` of ``dataset`` as ``(image, label, index)``.

    The index is what keys per-example randomness: a DataLoader over it batches the indices
    beside the images, and ``GenerativeAugment.collate`` (or ``augment(x, y, key=index)``)
    then draws each image's translation from ``(seed, epoch, index)``, whatever batch or
    worker it lands in. Labels stay readable without decoding images (``targets``), so
    samplers accept the wrapped dataset as they accept the original.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = WithIndex(TensorDataset(torch.zeros(3, 1, 2, 2), torch.tensor([2, 0, 1])))
        >>> image, label, index = data[2]
        >>> label.item(), index, data.targets.tolist()
        (1, 2, [2, 0, 1])
    """

    def __init__(self, dataset: Dataset) -> None:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(
                "dataset: expected a map-style dataset (with __getitem__ and __len__), "
                f"received {type(dataset).__name__}"
            )
        self.dataset = dataset

    @property
    def targets(self) -> Tensor:
        """The labels of the wrapped dataset, resolved without decoding images."""
        return resolve_labels(self.dataset)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, Any, int]:
        image, label = self.dataset[index][:2]
        return image, label, index

    def __getitems__(self, indices: list[int]) -> list[tuple[Any, Any, int]]:
        """The items ``indices``, fetched in one call when the wrapped dataset can (a
        DataLoader fetches a batch this way)."""
        fetch = getattr(self.dataset, "__getitems__", None)
        items = fetch(indices) if fetch is not None else [self.dataset[i] for i in indices]
        return [(item[0], item[1], index) for item, index in zip(items, indices, strict=True)]
