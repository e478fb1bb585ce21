"""The one accumulator behind every invariance number: per-pair statistics of clean/transformed
logit pairs, and their sums by group.

`InvarianceMeter` and `InvarianceMetric` group pairs by class; `invariance_curve` groups them
by source image (for its bootstrap intervals), then regroups the images by class. All three
turn sums into means with `group_means`, so they agree by construction: a class's mean is
the sum of its pairs' values over its number of pairs.

A sums table has one row per statistic plus a last row that counts the pairs, and one column
per group; it is float64 so that long runs do not lose precision, and sums of disjoint sets of
pairs (batches, ranks) simply add up.

Examples:
    >>> clean = torch.tensor([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
    >>> transformed = torch.tensor([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    >>> targets = torch.tensor([0, 1, 1])
    >>> statistics = pair_statistics(clean, transformed, targets, ("consistency", "accuracy"))
    >>> sums = add_pairs(torch.zeros(3, 2, dtype=torch.float64), statistics, targets)
    >>> sums.tolist()  # rows: consistency, accuracy, pairs; columns: classes
    [[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]
    >>> group_means(sums).tolist()
    [[1.0, 0.0], [1.0, 0.5]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from invtransfer._validation import finite_tensor
from invtransfer.metrics.accuracy import _check_range as check_label_range
from invtransfer.metrics.accuracy import _labels as labels_tensor
from invtransfer.metrics.measures import consistency, divergence

__all__ = [
    "DIVERGENCE_KINDS",
    "PAIR_STATISTICS",
    "add_pairs",
    "check_pairs",
    "group_means",
    "pair_statistics",
    "regroup",
]

PAIR_STATISTICS = ("ekld", "symmetric_kl", "js", "consistency", "accuracy", "confidence")
"""The per-pair statistics `pair_statistics` computes: three divergences of the transformed
prediction from the clean one, their top-1 agreement, and the clean prediction's correctness
and confidence (its largest softmax probability)."""

DIVERGENCE_KINDS = {"ekld": "kl", "symmetric_kl": "symmetric_kl", "js": "js"}
"""The statistics that are divergences, with the ``kind`` `divergence` computes for each."""


def pair_statistics(
    clean_logits: Tensor,
    transformed_logits: Tensor,
    targets: Tensor,
    names: Sequence[str] = PAIR_STATISTICS,
) -> Tensor:
    """The statistics ``names`` (some of `PAIR_STATISTICS`) of every pair, as a tensor
    ``(len(names), N)``: row ``i`` of the clean logits ``(N, C)`` is paired with row ``i`` of
    the transformed ones, and ``targets[i]`` is the class of the clean image.

    Divergences come from log-probabilities in float32 (float64 for float64 logits); the result
    has that dtype and the logits' device. No gradient flows: the logits are detached.

    Examples:
        >>> clean = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> values = pair_statistics(clean, clean, torch.tensor([0, 0]))
        >>> dict(zip(PAIR_STATISTICS, values.tolist()))["accuracy"]
        [1.0, 0.0]
        >>> values[:3].abs().max().item()  # identical outputs: no divergence
        0.0
    """
    unknown = [name for name in names if name not in PAIR_STATISTICS]
    if unknown or not names:
        raise ValueError(f"names: expected some of {PAIR_STATISTICS}, received {list(names)}")
    clean, transformed = clean_logits.detach(), transformed_logits.detach()
    dtype = torch.float64 if clean.dtype == torch.float64 else torch.float32
    computed: dict[str, Callable[[], Tensor]] = {
        name: partial(divergence, clean, transformed, kind)
        for name, kind in DIVERGENCE_KINDS.items()
    }
    computed |= {
        "consistency": lambda: consistency(clean, transformed),
        "accuracy": lambda: clean.argmax(1) == targets,
        "confidence": lambda: F.log_softmax(clean.to(dtype), dim=1).amax(1).exp(),
    }
    return torch.stack([computed[name]().to(dtype) for name in names])


def add_pairs(sums: Tensor, statistics: Tensor, groups: Tensor) -> Tensor:
    """Add per-pair ``statistics`` ``(S, N)`` to a sums table ``(S + 1, G)`` in place, by group,
    and count the pairs in its last row; return the table. ``groups[i]`` is the group of pair
    ``i`` (its class, or its source image), in ``[0, G)``. The values are cast to the table's
    dtype and device.

    Examples:
        >>> sums = torch.zeros(2, 3, dtype=torch.float64)
        >>> add_pairs(sums, torch.tensor([[1.0, 2.0, 4.0]]), torch.tensor([1, 1, 0])).tolist()
        [[4.0, 3.0, 0.0], [1.0, 2.0, 0.0]]
    """
    counts = torch.ones(1, statistics.shape[1], dtype=statistics.dtype, device=statistics.device)
    values = torch.cat([statistics, counts]).to(device=sums.device, dtype=sums.dtype)
    return sums.index_add_(1, groups.to(sums.device), values)


def regroup(sums: Tensor, groups: Tensor, num_groups: int) -> Tensor:
    """Add up the columns of a table ``(R, M)`` by group: column ``j`` goes to group
    ``groups[j]``. Turns per-image sums into per-class sums, pair counts included.

    Examples:
        >>> per_image = torch.tensor([[0.5, 1.5, 2.0], [2.0, 2.0, 2.0]])  # 2 copies per image
        >>> regroup(per_image, torch.tensor([0, 0, 1]), 2).tolist()
        [[2.0, 2.0], [4.0, 2.0]]
    """
    table = torch.zeros(len(sums), num_groups, dtype=torch.float64, device=sums.device)
    return table.index_add_(1, groups.to(sums.device), sums.to(torch.float64))


def group_means(sums: Tensor) -> Tensor:
    """The mean of every statistic in every group of a sums table ``(S + 1, G)``: ``(S, G)``,
    NaN for a group without pairs. A 1-D table ``(S + 1,)`` (the table summed over groups)
    gives the means over all pairs, ``(S,)``.

    Examples:
        >>> sums = torch.tensor([[3.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
        >>> group_means(sums).tolist(), group_means(sums.sum(1)).tolist()
        ([[1.5, nan]], [1.5])
    """
    return sums[:-1] / sums[-1]


def check_pairs(
    clean_logits: Tensor,
    transformed_logits: Tensor,
    targets: Tensor | Sequence[int],
    num_classes: int,
) -> Tensor:
    """Validate a batch of pairs: floating-point logits ``(N, num_classes)`` of one shape, and
    one integer class in ``[0, num_classes)`` per pair. Return the targets as an int64 tensor on
    the logits' device.

    Examples:
        >>> check_pairs(torch.zeros(2, 3), torch.zeros(2, 3), [2, 0], num_classes=3)
        tensor([2, 0])
        >>> check_pairs(torch.zeros(2, 3), torch.zeros(2, 4), [2, 0], num_classes=3)
        Traceback (most recent call last):
        ...
        ValueError: transformed_logits: expected logits (N, num_classes=3), received shape (2, 4)
    """
    _check_logits("clean_logits", clean_logits, num_classes)
    _check_logits("transformed_logits", transformed_logits, num_classes)
    if transformed_logits.shape != clean_logits.shape:
        raise ValueError(
            f"transformed_logits: expected the shape of clean_logits "
            f"{tuple(clean_logits.shape)}, received {tuple(transformed_logits.shape)}"
        )
    target = labels_tensor(targets, "targets", clean_logits.device)
    if len(target) != len(clean_logits):
        raise ValueError(
            f"targets: expected one label per pair ({len(clean_logits)}), received {len(target)}"
        )
    check_label_range(target, num_classes, "targets")
    return target


def _check_logits(name: str, value: object, num_classes: int) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected a tensor of logits, received {type(value).__name__}")
    if value.ndim != 2 or value.shape[1] != num_classes:
        raise ValueError(
            f"{name}: expected logits (N, num_classes={num_classes}), "
            f"received shape {tuple(value.shape)}"
        )
    if not value.is_floating_point():
        raise TypeError(f"{name}: expected floating-point logits, received dtype {value.dtype}")
    finite_tensor(name, value)
