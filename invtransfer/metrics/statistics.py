"""Small statistics for per-class tables: rank correlation, log-size slope, bootstrap intervals."""

from __future__ import annotations

import torch
from torch import Tensor

from invtransfer._seeding import generator_for

__all__ = ["bootstrap_interval", "log_slope", "ranks", "spearman"]


def ranks(values: Tensor) -> Tensor:
    """Ranks from 1, ties sharing their average rank (float64).

    Examples:
        >>> ranks(torch.tensor([10.0, 30.0, 20.0, 30.0])).tolist()
        [1.0, 3.5, 2.0, 3.5]
    """
    values = values.to(torch.float64)
    order = values.argsort()
    position = torch.empty_like(values)
    position[order] = torch.arange(1, len(values) + 1, dtype=torch.float64)
    unique, inverse = values.unique(return_inverse=True)
    total = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, position)
    count = torch.zeros(len(unique), dtype=torch.float64).index_add_(
        0, inverse, torch.ones_like(position)
    )
    return (total / count)[inverse]


def spearman(x: Tensor, y: Tensor) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (NaN when either is constant).

    Examples:
        >>> round(spearman(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.9, 0.5, 0.1])), 6)
        -1.0
    """
    return _pearson(ranks(x), ranks(y))


def log_slope(sizes: Tensor, values: Tensor) -> float:
    """The least-squares slope of ``values`` against ``log(sizes)``.

    Examples:
        >>> sizes = torch.tensor([1.0, 10.0, 100.0])
        >>> round(log_slope(sizes, torch.log(sizes) * 2 + 1), 6)
        2.0
    """
    x = sizes.to(torch.float64).log()
    y = values.to(torch.float64)
    centred = x - x.mean()
    return float((centred * (y - y.mean())).sum() / centred.square().sum())


def bootstrap_interval(
    values: Tensor, seed: int, confidence: float = 0.95, resamples: int = 1000
) -> tuple[float, float]:
    """A percentile bootstrap interval for the mean of ``values`` (NaN for no values).

    Examples:
        >>> low, high = bootstrap_interval(torch.arange(100.0), seed=0)
        >>> low < 49.5 < high
        True
    """
    if len(values) == 0:
        return float("nan"), float("nan")
    draws = torch.randint(len(values), (resamples, len(values)), generator=generator_for(seed))
    means = values.to(torch.float64)[draws].mean(1)
    tail = (1 - confidence) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(low), float(high)


def _pearson(x: Tensor, y: Tensor) -> float:
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()))
