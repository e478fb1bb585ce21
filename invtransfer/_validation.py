"""Argument checks shared by the public entry points: what was expected, what was received."""

from __future__ import annotations

__all__ = ["check_positive_ints", "positive_int"]


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
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected an int >= 1, received {value!r}")
    return value


def check_positive_ints(**values: object) -> None:
    """`positive_int` on every keyword argument, by its name.

    Examples:
        >>> check_positive_ints(iterations=10, keep=2)
    """
    for name, value in values.items():
        positive_int(name, value)
