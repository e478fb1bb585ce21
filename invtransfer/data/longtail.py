"""Long-tailed views of labelled datasets: a seeded selection of each class's examples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from invtransfer._seeding import generator_for
from invtransfer.labels import check_class_counts, class_counts, resolve_labels

__all__ = ["LongTailSubset", "make_longtail"]


class LongTailSubset(Dataset):
    """A view of ``dataset`` that keeps ``indices``, with the labels and class counts at hand.

    Items are the parent's items; ``targets`` and ``class_counts`` are known without decoding
    a single image. Build one with `make_longtail`.
    """

    def __init__(self, dataset: Dataset, indices: Tensor, targets: Tensor, num_classes: int):
        self.dataset = dataset
        self.indices = indices
        self.targets = targets
        self.class_counts = class_counts(targets, num_classes)

    @property
    def num_classes(self) -> int:
        """The number of classes, empty ones included."""
        return len(self.class_counts)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]


def make_longtail(
    dataset: Dataset,
    counts: Sequence[int] | Tensor,
    seed: int | None = 0,
    reuse: bool = False,
    labels: Sequence[int] | Tensor | None = None,
) -> LongTailSubset:
    """Keep ``counts[c]`` examples of every class ``c`` of ``dataset``.

    Args:
        dataset: a labelled map-style dataset (labels are resolved without decoding images).
        counts: examples to keep per class, one entry per class, each at least 1.
        seed: which examples: a seeded random selection within each class, or ``None`` for
            the first ``counts[c]`` in dataset order (the CIFAR-LT convention).
        reuse: when a class has fewer examples than asked for, cycle through them again (as
            the paper's K49 recipe does); otherwise asking for more is an error.
        labels: explicit labels, if the dataset cannot tell them.

    Examples:
        >>> from torch.utils.data import TensorDataset
        >>> base = TensorDataset(torch.arange(12.0))
        >>> base.targets = torch.arange(12) % 3
        >>> subset = make_longtail(base, counts=[4, 2, 1], seed=0)
        >>> len(subset), subset.class_counts.tolist()
        (7, [4, 2, 1])
    """
    targets = resolve_labels(dataset, labels)
    counts = check_class_counts(counts)
    num_classes = len(counts)
    available = class_counts(targets, max(num_classes, int(targets.max()) + 1))
    if len(available) > num_classes:
        raise ValueError(
            f"counts: expected one count per class ({len(available)} classes in the labels), "
            f"received {num_classes}"
        )
    short = (available < counts).nonzero().flatten().tolist()
    missing = [c for c in short if available[c] == 0]
    if missing or (short and not reuse):
        raise ValueError(
            f"counts: classes {short} ask for {counts[short].tolist()} examples but have "
            f"{available[short].tolist()}; pass reuse=True to cycle through them"
            + (f" (classes {missing} have none at all)" if missing else "")
        )
    members_by_class = torch.argsort(targets, stable=True).split(available.tolist())
    generator = None if seed is None else generator_for(seed)
    chosen = [
        _choose(members, int(count), generator)
        for members, count in zip(members_by_class, counts, strict=True)
    ]
    indices = torch.cat(chosen)
    return LongTailSubset(dataset, indices, targets[indices], num_classes)


def _choose(members: Tensor, count: int, generator: torch.Generator | None) -> Tensor:
    """``count`` of ``members``: in order or shuffled, cycling when there are too few."""
    if generator is not None:
        members = members[torch.randperm(len(members), generator=generator)]
    return members[torch.arange(count) % len(members)]
