"""Class-count profiles of long-tailed datasets, and a summary of any set of class counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from invtransfer._seeding import generator_for
from invtransfer.labels import check_class_counts, shot_groups

__all__ = ["PROFILES", "CountSummary", "longtail_counts", "summary"]

PROFILES = ("exponential", "step", "zipf")
"""The profile names `longtail_counts` understands."""


def longtail_counts(
    profile: str,
    num_classes: int,
    max_count: int,
    *,
    imbalance_ratio: float | None = None,
    minority_fraction: float = 0.5,
    alpha: float | None = None,
    min_count: int = 1,
    reverse: bool = False,
    permutation_seed: int | None = None,
) -> Tensor:
    """Examples per class for a long-tailed profile, as a 1-D int64 tensor.

    Profiles (class ``i`` counts from 0, ``C`` is ``num_classes``):

    - ``"exponential"``: ``n_i = int(max_count * (1 / imbalance_ratio) ** (i / (C - 1)))``,
      the CIFAR-LT convention (12,406 images for CIFAR-10-LT at ratio 100);
    - ``"step"``: the last ``round(minority_fraction * C)`` classes get
      ``int(max_count / imbalance_ratio)``, the others ``max_count``;
    - ``"zipf"``: ``n_i = floor(max_count / (i + 1) ** alpha)``, the paper's K49 recipe
      (with ``alpha=2``, ``max_count=4800`` and ``min_count=5``: 7,822 images in 49 classes).

    Every count is then raised to at least ``min_count``. ``reverse=True`` flips the order (the
    smallest class first: a backward, test-shift profile); ``permutation_seed`` shuffles which
    class gets which count, reproducibly.

    Examples:
        >>> longtail_counts("exponential", 10, 5000, imbalance_ratio=100).tolist()
        [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
        >>> int(longtail_counts("zipf", 49, 4800, alpha=2, min_count=5).sum())
        7822
    """
    _check_int("num_classes", num_classes, 1)
    _check_int("max_count", max_count, 1)
    _check_int("min_count", min_count, 1)
    ratio, exponent_alpha = _shape_arguments(profile, imbalance_ratio, alpha)
    ranks = torch.arange(num_classes, dtype=torch.float64)
    if profile == "exponential":
        exponent = ranks / max(num_classes - 1, 1)
        counts = (max_count * (1.0 / ratio) ** exponent).floor()
    elif profile == "step":
        counts = _step(num_classes, max_count, ratio, minority_fraction)
    else:
        counts = (max_count / (ranks + 1) ** exponent_alpha).floor()
    counts = counts.clamp_min(min_count).to(torch.long)
    if reverse:
        counts = counts.flip(0)
    if permutation_seed is not None:
        order = torch.randperm(num_classes, generator=generator_for(permutation_seed))
        counts = counts[order]
    return counts


@dataclass(frozen=True)
class CountSummary:
    """What a set of class counts looks like: size, imbalance and shot groups."""

    num_classes: int
    total: int
    max_count: int
    min_count: int
    imbalance_ratio: float
    """``max_count / min_count``."""
    gini: float
    """Gini coefficient of the counts: 0 when balanced, towards 1 when one class has all."""
    many: int
    """Classes with more than ``many_threshold`` examples."""
    medium: int
    few: int
    """Classes with fewer than ``few_threshold`` examples."""
    many_threshold: int
    few_threshold: int

    def __str__(self) -> str:
        return (
            f"{self.num_classes} classes, {self.total} examples, counts "
            f"{self.min_count}..{self.max_count} (imbalance {self.imbalance_ratio:.1f}, "
            f"Gini {self.gini:.3f}); many/medium/few: {self.many}/{self.medium}/{self.few}"
        )


def summary(counts: Tensor, many: int = 100, few: int = 20) -> CountSummary:
    """Summarise class counts: imbalance ratio, Gini coefficient and shot groups.

    Shot groups follow the long-tail convention: *many* has more than ``many`` examples,
    *few* fewer than ``few``, *medium* the rest.

    Examples:
        >>> s = summary(torch.tensor([500, 120, 60, 20, 19, 5]))
        >>> s.imbalance_ratio, (s.many, s.medium, s.few)
        (100.0, (2, 2, 2))
    """
    counts = check_class_counts(counts)
    values = counts.to(torch.float64).sort().values
    n = len(values)  # sum over pairs |x_i - x_j| = 2 sum_k (2k - n - 1) x_(k), k = 1..n sorted
    weights = 2 * torch.arange(1, n + 1, dtype=torch.float64) - n - 1
    gini = float((weights * values).sum() / (n**2 * values.mean()))  # O(n log n), no n x n
    many_classes, medium_classes, few_classes = torch.bincount(
        shot_groups(counts, many, few), minlength=3
    ).tolist()
    return CountSummary(
        num_classes=len(counts),
        total=int(counts.sum()),
        max_count=int(counts.max()),
        min_count=int(counts.min()),
        imbalance_ratio=float(counts.max()) / float(counts.min()),
        gini=gini,
        many=many_classes,
        medium=medium_classes,
        few=few_classes,
        many_threshold=many,
        few_threshold=few,
    )


def _step(num_classes: int, max_count: int, ratio: float, minority_fraction: float) -> Tensor:
    if not 0 < minority_fraction < 1:
        raise ValueError(
            f"minority_fraction: expected a fraction in (0, 1), received {minority_fraction!r}"
        )
    counts = torch.full((num_classes,), float(max_count), dtype=torch.float64)
    counts[num_classes - round(minority_fraction * num_classes) :] = math.floor(max_count / ratio)
    return counts


def _shape_arguments(
    profile: str, imbalance_ratio: float | None, alpha: float | None
) -> tuple[float, float]:
    """Check the arguments that shape ``profile``; return ``(imbalance_ratio, alpha)``."""
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {PROFILES}, received {profile!r}")
    if profile in ("exponential", "step"):
        if imbalance_ratio is None:
            raise ValueError(f"imbalance_ratio: the {profile!r} profile needs one, received None")
        if not imbalance_ratio >= 1:
            hint = (
                f" (some code passes 1 / rho, as imb_factor=0.01 does; here use "
                f"{1 / imbalance_ratio:g})"
                if 0 < imbalance_ratio < 1
                else ""
            )
            raise ValueError(
                f"imbalance_ratio: expected rho = max_count / min_count >= 1, "
                f"received {imbalance_ratio!r}{hint}"
            )
        if alpha is not None:
            raise ValueError(f"alpha: only the 'zipf' profile uses it, received {alpha!r}")
        return float(imbalance_ratio), 0.0
    if alpha is None or not alpha > 0:
        raise ValueError(f"alpha: the 'zipf' profile needs alpha > 0, received {alpha!r}")
    if imbalance_ratio is not None:
        raise ValueError(
            f"imbalance_ratio: the 'zipf' profile sets it through alpha, "
            f"received {imbalance_ratio!r}"
        )
    return 1.0, float(alpha)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, received {value!r}")
