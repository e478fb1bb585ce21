"""Validated parameter ranges and the draws from them, shared by the families."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from invtransfer._validation import finite_float

Range = tuple[float, float]


def as_range(
    name: str,
    value: float | Sequence[float],
    bounds: Range = (-math.inf, math.inf),
    *,
    around: float | None = None,
) -> Range:
    """Turn ``value`` into a checked ``(low, high)`` pair inside ``bounds``.

    A single number ``v`` means ``(around - v, around + v)`` when ``around`` is given (as
    torchvision reads ``degrees=30``), and is an error otherwise.

    Examples:
        >>> as_range("degrees", 30, around=0.0)
        (-30.0, 30.0)
        >>> as_range("factor", (0.5, 1.5), (0.0, math.inf))
        (0.5, 1.5)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if around is None:
            raise TypeError(f"{name}: expected a (low, high) pair, received {value!r}")
        if value < 0:
            raise ValueError(f"{name}: expected a non-negative number, received {value!r}")
        value = (around - value, around + value)
    if not (isinstance(value, Sequence) and len(value) == 2):
        raise TypeError(f"{name}: expected a number or a (low, high) pair, received {value!r}")
    low, high = (_bound(name, bound) for bound in value)
    if low > high:
        raise ValueError(f"{name}: expected low <= high, received reversed range ({low}, {high})")
    if low < bounds[0] or high > bounds[1]:
        raise ValueError(
            f"{name}: expected a range inside [{bounds[0]}, {bounds[1]}], received ({low}, {high})"
        )
    return low, high


def as_number(name: str, value: float, bounds: Range = (-math.inf, math.inf)) -> float:
    """Check that ``value`` is a finite real number inside ``bounds`` (a probability:
    ``(0, 1)``).

    Examples:
        >>> as_number("p", 0.5, (0.0, 1.0))
        0.5
    """
    return finite_float(name, value, *bounds)


def _bound(name: str, value: object) -> float:
    """One end of a range: a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a (low, high) pair of numbers, received {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected finite bounds, received {value!r}")
    return float(value)


def as_sizes(name: str, value: Sequence[int], minimum: int = 1) -> tuple[int, ...]:
    """Check a non-empty sequence of integer sizes, each at least ``minimum``."""
    sizes = tuple(value) if isinstance(value, Sequence) else (value,)
    if not sizes or any(
        isinstance(s, bool) or not isinstance(s, int) or s < minimum for s in sizes
    ):
        raise ValueError(
            f"{name}: expected a non-empty sequence of ints >= {minimum}, received {value!r}"
        )
    return sizes


def uniform(n: int, bounds: Range, generator: torch.Generator, device: torch.device) -> Tensor:
    """``n`` float32 draws, uniform on ``bounds``."""
    low, high = bounds
    return torch.rand(n, generator=generator, device=device).mul_(high - low).add_(low)


def bernoulli(n: int, p: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """``n`` booleans, each true with probability ``p``; one uniform draw each, whatever ``p``."""
    return torch.rand(n, generator=generator, device=device) < p


def choice(
    n: int, options: Sequence[int], generator: torch.Generator, device: torch.device
) -> Tensor:
    """``n`` int64 draws, uniform over ``options``."""
    table = torch.as_tensor(options, dtype=torch.long, device=device)
    return table[torch.randint(len(table), (n,), generator=generator, device=device)]
