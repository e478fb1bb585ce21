"""Argument checks shared by the public entry points: what was expected, what was received.

Every check raises a ``TypeError`` (wrong kind of value) or a ``ValueError`` (right kind, bad
value) whose message starts with the argument's name: ``name: expected ..., received ...``.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # torch loads on first use: the command line's --help needs none of it
    import torch
    from torch import Tensor

__all__ = [
    "as_tensor",
    "boolean",
    "check_positive_ints",
    "checked_device",
    "finite_float",
    "finite_tensor",
    "float_tensor",
    "int_at_least",
    "instance",
    "int_tensor",
    "known_name",
    "non_negative_int",
    "one_of",
    "path_like",
    "positive_int",
    "probability",
    "seed",
]

T = TypeVar("T")


def int_at_least(name: str, value: object, minimum: int) -> int:
    """``value`` if it is an int >= ``minimum`` (a bool is not), else a ``ValueError``.

    Examples:
        >>> int_at_least("padding", 0, 0)
        0
        >>> int_at_least("padding", None, 0)
        Traceback (most recent call last):
        ...
        ValueError: padding: expected an int >= 0, received None
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, received {value!r}")
    return value


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1 (a bool is not), else a ``ValueError`` naming ``name``.

    Examples:
        >>> positive_int("num_classes", 3)
        3
        >>> positive_int("keep", 0)
        Traceback (most recent call last):
        ...
        ValueError: keep: expected an int >= 1, received 0
    """
    return int_at_least(name, value, 1)


def non_negative_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 0 (a bool is not), else a ``ValueError`` naming ``name``.

    Examples:
        >>> non_negative_int("epoch", 0)
        0
        >>> non_negative_int("epoch", -1)
        Traceback (most recent call last):
        ...
        ValueError: epoch: expected an int >= 0, received -1
    """
    return int_at_least(name, value, 0)


def seed(name: str, value: object) -> int:
    """``value`` if it is a seed: an int >= 0 (a bool is not). Check a seed with this where
    the caller passes it, so that the message names that argument rather than the keys it is
    later hashed with (`invtransfer._seeding.derive_seed`).

    Examples:
        >>> seed("seed", 7)
        7
        >>> seed("seed", None)
        Traceback (most recent call last):
        ...
        ValueError: seed: expected an int >= 0, received None
    """
    return non_negative_int(name, value)


def boolean(name: str, value: object) -> bool:
    """``value`` if it is a bool (not 0 or 1, not a string), else a ``TypeError``.

    Examples:
        >>> boolean("drop_last", True)
        True
        >>> boolean("drop_last", "no")
        Traceback (most recent call last):
        ...
        TypeError: drop_last: expected a bool, received 'no'
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, received {value!r}")
    return value


def check_positive_ints(**values: object) -> None:
    """`positive_int` on every keyword argument, by its name.

    Examples:
        >>> check_positive_ints(iterations=10, keep=2)
    """
    for name, value in values.items():
        positive_int(name, value)


def finite_float(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """``value`` as a float if it is a finite real number within the bounds, else an error:
    ``TypeError`` for a non-number (``None``, a string, a bool), ``ValueError`` for NaN, an
    infinity or a value outside ``[low, high]`` (an open end excludes its bound). The message
    writes the bounds as given (``0`` or ``0.0``).

    Examples:
        >>> finite_float("power", 1)
        1.0
        >>> finite_float("power", float("nan"))
        Traceback (most recent call last):
        ...
        ValueError: power: expected a finite number, received nan
        >>> finite_float("beta", 1.0, 0, 1, open_high=True)
        Traceback (most recent call last):
        ...
        ValueError: beta: expected a number in [0, 1), received 1.0
        >>> finite_float("beta", "0.5")
        Traceback (most recent call last):
        ...
        TypeError: beta: expected a number, received '0.5'
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, received {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: expected a finite number, received {value!r}")
    too_low = low is not None and (number <= low if open_low else number < low)
    too_high = high is not None and (number >= high if open_high else number > high)
    if too_low or too_high:
        raise ValueError(
            f"{name}: expected a number in {_interval(low, high, open_low, open_high)}, "
            f"received {value!r}"
        )
    return number


def probability(name: str, value: object) -> float:
    """``value`` as a float if it is a number in [0, 1].

    Examples:
        >>> probability("p", 0.5)
        0.5
        >>> probability("p", 2)
        Traceback (most recent call last):
        ...
        ValueError: p: expected a number in [0.0, 1.0], received 2
    """
    return finite_float(name, value, 0.0, 1.0)


def one_of(name: str, value: T, options: Sequence[T]) -> T:
    """``value`` if it is one of ``options``, else a ``ValueError`` that lists them.

    Examples:
        >>> one_of("kind", "js", ("kl", "js"))
        'js'
        >>> one_of("kind", "l2", ("kl", "js"))
        Traceback (most recent call last):
        ...
        ValueError: kind: expected one of ('kl', 'js'), received 'l2'
    """
    try:
        known = value in options
    except TypeError:  # an unhashable value against a set or dict of options
        known = False
    if not known:
        raise ValueError(f"{name}: expected one of {tuple(options)}, received {value!r}")
    return value


def known_name(name: str, value: object, known: Collection[object]) -> None:
    """Refuse ``value`` unless it is in ``known``, listing the names (``none`` for ``None``)
    and suggesting the close matches of a misspelling.

    Examples:
        >>> known_name("train.amp", "bf16", [None, "bf16", "fp16"])
        >>> known_name("train.amp", "bf17", [None, "bf16", "fp16"])
        Traceback (most recent call last):
        ...
        ValueError: train.amp: expected one of ['bf16', 'fp16', 'none'], received 'bf17'; ...
    """
    if value in known:
        return
    names = [option for option in known if isinstance(option, str)]
    close = difflib.get_close_matches(str(value), names, n=3)
    hint = f"; close matches: {close}" if close else ""
    shown = sorted(names) + (["none"] if None in known else [])
    raise ValueError(f"{name}: expected one of {shown}, received {value!r}{hint}")


def checked_device(name: str, value: object) -> torch.device:
    """The device ``value`` names (a ``torch.device``, or a string such as ``"cuda:1"``;
    ``None``: CUDA when available, else the CPU), refused when this machine lacks it.

    Examples:
        >>> checked_device("device", "cpu")
        device(type='cpu')
        >>> checked_device("device", "gpu")
        Traceback (most recent call last):
        ...
        ValueError: device: expected cpu, cuda, cuda:N, mps, ..., received 'gpu'
    """
    import torch

    if value is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(value)  # type: ignore[call-overload]
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{name}: expected cpu, cuda, cuda:N, mps, ..., received {value!r}"
        ) from None
    if chosen.type == "cuda" and (
        not torch.cuda.is_available() or (chosen.index or 0) >= torch.cuda.device_count()
    ):
        raise ValueError(
            f"{name}: expected a device this machine has ({torch.cuda.device_count()} CUDA "
            f"devices), received {value!r}"
        )
    return chosen


def instance(name: str, value: T, kind: type | tuple[type, ...]) -> T:
    """``value`` if it is an instance of ``kind``, else a ``TypeError`` naming ``name``.

    Examples:
        >>> instance("config", "x", int)
        Traceback (most recent call last):
        ...
        TypeError: config: expected an int, received str
    """
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(_article(k.__name__) for k in kinds)
        raise TypeError(f"{name}: expected {expected}, received {type(value).__name__}")
    return value


def path_like(name: str, value: object) -> Path:
    """``value`` as a ``Path`` if it is a string or ``os.PathLike`` (not empty), else a
    ``TypeError`` naming ``name``.

    Examples:
        >>> path_like("root", "data").name
        'data'
        >>> path_like("root", None)
        Traceback (most recent call last):
        ...
        TypeError: root: expected a path (str or os.PathLike), received None
    """
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path (str or os.PathLike), received {value!r}")
    if str(value) == "":
        raise ValueError(f"{name}: expected a path, received an empty string")
    return Path(value)


def as_tensor(name: str, value: object, expected: str, dtype: torch.dtype | None = None) -> Tensor:
    """``torch.as_tensor(value, dtype)``, or a ``TypeError`` naming ``name`` for what torch
    cannot read as a tensor (``None``, strings, ragged lists).

    Examples:
        >>> as_tensor("counts", [3, 1], "class counts").tolist()
        [3, 1]
        >>> as_tensor("counts", [[3], [1, 2]], "class counts")
        Traceback (most recent call last):
        ...
        TypeError: counts: expected class counts, received [[3], [1, 2]]
    """
    import torch

    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise TypeError(f"{name}: expected {expected}, received {value!r:.80}") from None


def float_tensor(name: str, value: object, ndim: int | None = None) -> Tensor:
    """``value`` if it is a floating-point tensor (with ``ndim`` dimensions when given).

    Examples:
        >>> import torch
        >>> float_tensor("logits", torch.zeros(2, 3), ndim=2).shape
        torch.Size([2, 3])
        >>> float_tensor("logits", torch.zeros(2, dtype=torch.long))
        Traceback (most recent call last):
        ...
        TypeError: logits: expected a floating-point tensor, received a tensor of dtype torch.int64
    """
    value = _tensor(name, value, "a floating-point tensor", ndim)
    if not value.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point tensor, received a tensor of dtype {value.dtype}"
        )
    return value


def int_tensor(name: str, value: object, ndim: int | None = None) -> Tensor:
    """``value`` if it is an integer (not bool) tensor (with ``ndim`` dimensions when given).

    Examples:
        >>> import torch
        >>> int_tensor("labels", torch.tensor([1, 2]), ndim=1).tolist()
        [1, 2]
        >>> int_tensor("labels", torch.tensor([0.5]))
        Traceback (most recent call last):
        ...
        TypeError: labels: expected an integer tensor, received a tensor of dtype torch.float32
    """
    import torch

    value = _tensor(name, value, "an integer tensor", ndim)
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(
            f"{name}: expected an integer tensor, received a tensor of dtype {value.dtype}"
        )
    return value


def finite_tensor(name: str, value: Tensor) -> Tensor:
    """``value`` if every entry is finite (reads one flag back from the device), else a
    ``ValueError`` that gives the first bad entry.

    Examples:
        >>> import torch
        >>> finite_tensor("angle", torch.tensor([1.0, 2.0])).tolist()
        [1.0, 2.0]
        >>> finite_tensor("angle", torch.tensor([1.0, float("inf")]))
        Traceback (most recent call last):
        ...
        ValueError: angle: expected finite values, received inf
    """
    import torch

    if value.is_floating_point() or value.is_complex():
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            bad = value[~finite].flatten()[0].item()
            raise ValueError(f"{name}: expected finite values, received {bad}")
    return value


def _tensor(name: str, value: object, expected: str, ndim: int | None) -> Tensor:
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected {expected}, received {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(
            f"{name}: expected {expected} with {ndim} dimensions, "
            f"received shape {tuple(value.shape)}"
        )
    return value


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0].lower() in "aeiou" else f"a {noun}"


def _interval(low: float | None, high: float | None, open_low: bool, open_high: bool) -> str:
    left = "(" if open_low or low is None else "["
    right = ")" if open_high or high is None else "]"
    start = -math.inf if low is None else low
    end = math.inf if high is None else high
    return f"{left}{start!r}, {end!r}{right}"
