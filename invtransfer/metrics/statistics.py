"""Small statistics for per-class tables and studies: rank correlation, log-size slope,
bootstrap intervals, and t intervals for means and paired differences."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from invtransfer._seeding import generator_for
from invtransfer._validation import as_tensor, positive_int
from invtransfer._validation import seed as seed_check

__all__ = [
    "Interval",
    "PairedDifference",
    "bootstrap_interval",
    "log_slope",
    "mean_interval",
    "paired_difference",
    "pooled_spearman",
    "ranks",
    "size_trend",
    "spearman",
    "t_quantile",
]


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values with its two-sided confidence interval (NaN bounds for
    ``n = 1``: one value has no interval)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:.3f} (n = {self.n})"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class PairedDifference(Interval):
    """The mean of paired differences ``after - before`` with its t interval, and what it
    shows."""

    def finding(self, lower: str = "lower", higher: str = "higher") -> str:
        """The difference in words, from the interval alone.

        Examples:
            >>> PairedDifference(-0.2, -0.3, -0.1, n=5).finding()
            'lower, CI excludes 0'
            >>> PairedDifference(0.1, -0.1, 0.3, n=5).finding()
            'no detectable difference'
            >>> PairedDifference(0.1, math.nan, math.nan, n=1).finding()
            'n = 1: no interval'
        """
        if self.n < 2:
            return f"n = {self.n}: no interval"
        if self.high < 0:
            return f"{lower}, CI excludes 0"
        if self.low > 0:
            return f"{higher}, CI excludes 0"
        return "no detectable difference"


def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Exact for integer ``df`` (the closed forms of Abramowitz and Stegun 26.7.3-4, inverted by
    bisection to float64 precision).

    Examples:
        >>> round(t_quantile(0.975, 4), 4), round(t_quantile(0.975, 1), 4)
        (2.7764, 12.7062)
    """
    positive_int("df", df)
    _level("probability", probability, "a value")
    if probability < 0.5:
        return -t_quantile(1 - probability, df)
    central = 2 * probability - 1  # P(|T| <= t)
    low, high = 0.0, 1.0
    while _t_central(high, df) < central:
        low, high = high, high * 2
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        low, high = (middle, high) if _t_central(middle, df) < central else (low, middle)
    return (low + high) / 2


def mean_interval(values: Sequence[float] | Tensor, confidence: float = 0.95) -> Interval:
    """The mean of ``values`` (NaN ones left out) with its Student t interval.

    Examples:
        >>> print(mean_interval([0.61, 0.64, 0.59, 0.66, 0.62]))
        0.624 [0.590, 0.658]
        >>> print(mean_interval([0.61]))
        0.610 (n = 1)
    """
    _level("confidence", confidence)
    x = _reals("values", values)
    x = x[~x.isnan()]
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, confidence)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, confidence)
    half = t_quantile((1 + confidence) / 2, n - 1) * float(x.std()) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, confidence)


def paired_difference(
    before: Sequence[float] | Tensor,
    after: Sequence[float] | Tensor,
    confidence: float = 0.95,
) -> PairedDifference:
    """The mean of ``after - before`` over matched pairs (the same seed and class order, say)
    with its paired t interval; pairs with a NaN are left out.

    Examples:
        >>> ce = [0.42, 0.45, 0.40, 0.44, 0.43]
        >>> git = [0.39, 0.41, 0.38, 0.40, 0.41]
        >>> difference = paired_difference(ce, git)
        >>> print(difference, difference.finding())
        -0.030 [-0.042, -0.018] lower, CI excludes 0
    """
    a, b = _reals("before", before), _reals("after", after)
    if a.shape != b.shape:
        raise ValueError(
            f"after: expected as many values as before ({len(a)}), one per pair, received {len(b)}"
        )
    interval = mean_interval(b - a, confidence)
    return PairedDifference(
        interval.mean, interval.low, interval.high, interval.n, interval.confidence
    )


def ranks(values: Tensor) -> Tensor:
    """Ranks from 1, ties sharing their average rank (float64).

    Examples:
        >>> ranks(torch.tensor([10.0, 30.0, 20.0, 30.0])).tolist()
        [1.0, 3.5, 2.0, 3.5]
    """
    values = _reals("values", values)
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
    x, y = _paired_reals(x, y, "x", "y")
    return _pearson(ranks(x), ranks(y))


def size_trend(sizes: Tensor, values: Tensor) -> dict[str, float]:
    """How per-class ``values`` follow class ``sizes``: Spearman's correlation, the slope
    against log size, the mean, the means of the smallest and the largest third of the
    classes (``tail_mean``, ``head_mean``) and their ratio (``tail_over_head``).

    Examples:
        >>> trend = size_trend(torch.tensor([900, 100, 20, 5]), torch.tensor([.1, .2, .3, .6]))
        >>> [round(trend[key], 3) for key in ("spearman", "tail_mean", "head_mean")]
        [-1.0, 0.6, 0.1]
    """
    sizes, values = _paired_reals(sizes, values)
    order = sizes.argsort(stable=True)
    third = max(len(order) // 3, 1)
    tail, head = values[order[:third]].mean(), values[order[-third:]].mean()
    return {
        "spearman": spearman(sizes, values),
        "log_size_slope": log_slope(sizes, values),
        "mean": float(values.mean()),
        "tail_mean": float(tail),
        "head_mean": float(head),
        "tail_over_head": float(tail / head),
    }


def pooled_spearman(
    sizes: Sequence[Tensor],
    values: Sequence[Tensor],
    seed: int = 0,
    confidence: float = 0.95,
    resamples: int = 1000,
) -> Interval:
    """Spearman's correlation over the per-class points of several runs pooled (one pair of
    ``sizes`` and ``values`` per run, e.g. one per class order), with a percentile bootstrap
    interval that resamples whole runs, since one run's points are not independent.

    Examples:
        >>> sizes = [torch.tensor([500, 50, 5])] * 4
        >>> values = [torch.tensor([0.1, 0.2, 0.4]) + 0.01 * i for i in range(4)]
        >>> pooled = pooled_spearman(sizes, values)
        >>> round(pooled.mean, 3), pooled.n, pooled.high < 0
        (-0.946, 4, True)
    """
    seed_check("seed", seed)
    _level("confidence", confidence)
    positive_int("resamples", resamples)
    if len(sizes) != len(values) or not sizes:
        raise ValueError(
            f"values: expected one tensor per run of sizes ({len(sizes)} runs), received "
            f"{len(values)}"
        )
    runs = len(sizes)
    rho = spearman(torch.cat(list(sizes)), torch.cat(list(values)))
    if runs == 1:
        return Interval(rho, math.nan, math.nan, 1, confidence)
    draws = torch.randint(runs, (resamples, runs), generator=generator_for(seed))
    resampled = torch.tensor([
        spearman(torch.cat([sizes[i] for i in d]), torch.cat([values[i] for i in d]))
        for d in draws.tolist()
    ], dtype=torch.float64)  # fmt: skip
    resampled = resampled[~resampled.isnan()]
    tail = (1 - confidence) / 2
    low, high = torch.quantile(resampled, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return Interval(rho, float(low), float(high), runs, confidence)


def log_slope(sizes: Tensor, values: Tensor) -> float:
    """The least-squares slope of ``values`` against ``log(sizes)``.

    Examples:
        >>> sizes = torch.tensor([1.0, 10.0, 100.0])
        >>> round(log_slope(sizes, torch.log(sizes) * 2 + 1), 6)
        2.0
    """
    sizes, y = _paired_reals(sizes, values)
    if len(sizes) and not bool((sizes > 0).all()):
        raise ValueError(f"sizes: expected class sizes > 0, received {sizes.min().item():g}")
    x = sizes.log()
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
    values = _reals("values", values)
    seed_check("seed", seed)
    _level("confidence", confidence)
    positive_int("resamples", resamples)
    if len(values) == 0:
        return float("nan"), float("nan")
    draws = torch.randint(len(values), (resamples, len(values)), generator=generator_for(seed))
    means = values.to(torch.float64)[draws].mean(1)
    tail = (1 - confidence) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(low), float(high)


def _level(name: str, value: object, what: str = "a level") -> float:
    """A number strictly between 0 and 1 (a confidence level, a probability)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected {what} in (0, 1), received {value!r}")
    if not 0 < value < 1:
        raise ValueError(f"{name}: expected {what} in (0, 1), received {value!r}")
    return float(value)


def _reals(name: str, values: object) -> Tensor:
    """``values`` (a tensor or a sequence of numbers) as a flat float64 tensor."""
    if isinstance(values, Tensor) and (values.dtype == torch.bool or values.is_complex()):
        raise TypeError(f"{name}: expected real numbers, received dtype {values.dtype}")
    return as_tensor(name, values, "real numbers", torch.float64).flatten()


def _paired_reals(
    sizes: object, values: object, first: str = "sizes", second: str = "values"
) -> tuple[Tensor, Tensor]:
    """Two flat float64 tensors of one length, one entry per class."""
    x, y = _reals(first, sizes), _reals(second, values)
    if len(x) != len(y):
        raise ValueError(
            f"{second}: expected one value per entry of {first} ({len(x)}), received {len(y)}"
        )
    return x, y


def _t_central(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer ``df`` (Abramowitz and Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c, s = math.cos(theta), math.sin(theta)
    if df % 2:  # odd: (2/pi) (theta + s (c + (2/3) c^3 + (2*4)/(3*5) c^5 + ...))
        term, total = c, 0.0
        for j in range(1, (df - 1) // 2 + 1):
            total += term
            term *= c * c * (2 * j) / (2 * j + 1)
        return 2 / math.pi * (theta + s * total)
    term, total = 1.0, 0.0  # even: s (1 + (1/2) c^2 + (1*3)/(2*4) c^4 + ...)
    for j in range(1, df // 2 + 1):
        total += term
        term *= c * c * (2 * j - 1) / (2 * j)
    return s * total


def _pearson(x: Tensor, y: Tensor) -> float:
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()))
