"""Schedules: values that change with the epoch (deferred re-balancing, warm-ups, decays).

A schedule is a callable ``epoch -> float``. Samplers and losses read it in ``set_epoch``,
never by counting calls, so resuming at any epoch gives the same values.
"""

from __future__ import annotations

import math

from invtransfer._validation import finite_float, non_negative_int

__all__ = ["Constant", "Cosine", "Deferred", "Linear", "Schedule"]


class Schedule:
    """A value as a function of the epoch. Subclasses implement ``__call__``."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Constant(Schedule):
    """The same value at every epoch.

    Examples:
        >>> Constant(0.5)(10)
        0.5
    """

    def __init__(self, value: float) -> None:
        self.value = finite_float("value", value)

    def __call__(self, epoch: int) -> float:
        _check_epoch(epoch)
        return self.value


class Deferred(Schedule):
    """``before`` until ``start_epoch``, then ``after``: deferred re-sampling (DRS) and
    re-weighting (DRW) switch this way at the first learning-rate step.

    Examples:
        >>> drs = Deferred(160, before=1.0, after=0.0)  # instance-balanced, then class-balanced
        >>> drs(159), drs(160)
        (1.0, 0.0)
    """

    def __init__(self, start_epoch: int, before: float, after: float) -> None:
        _check_epoch(start_epoch, "start_epoch")
        self.start_epoch = start_epoch
        self.before = finite_float("before", before)
        self.after = finite_float("after", after)

    def __call__(self, epoch: int) -> float:
        _check_epoch(epoch)
        return self.before if epoch < self.start_epoch else self.after


class _Ramp(Schedule):
    """From ``start`` at ``start_epoch`` to ``end`` at ``end_epoch``, constant outside."""

    def __init__(self, start_epoch: int, end_epoch: int, start: float, end: float) -> None:
        _check_epoch(start_epoch, "start_epoch")
        if (
            isinstance(end_epoch, bool)
            or not isinstance(end_epoch, int)
            or end_epoch <= start_epoch
        ):
            raise ValueError(
                f"end_epoch: expected an int > start_epoch ({start_epoch}), received {end_epoch!r}"
            )
        self.start_epoch, self.end_epoch = start_epoch, end_epoch
        self.start, self.end = finite_float("start", start), finite_float("end", end)

    def __call__(self, epoch: int) -> float:
        _check_epoch(epoch)
        progress = min(max((epoch - self.start_epoch) / (self.end_epoch - self.start_epoch), 0), 1)
        return self.start + (self.end - self.start) * self._shape(progress)

    def _shape(self, progress: float) -> float:
        raise NotImplementedError


class Linear(_Ramp):
    """A straight line from ``start`` to ``end`` (a progressive re-balancing, for example).

    Examples:
        >>> power = Linear(0, 10, start=1.0, end=0.0)
        >>> power(0), power(5), power(20)
        (1.0, 0.5, 0.0)
    """

    def _shape(self, progress: float) -> float:
        return progress


class Cosine(_Ramp):
    """Half a cosine from ``start`` to ``end``: slow at both ends.

    Examples:
        >>> round(Cosine(0, 10, start=1.0, end=0.0)(5), 6)
        0.5
    """

    def _shape(self, progress: float) -> float:
        return (1 - math.cos(math.pi * progress)) / 2


def as_schedule(value: float | Schedule | None, name: str) -> Schedule | None:
    """A schedule from a schedule, a constant number, or ``None``."""
    if value is None or isinstance(value, Schedule):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number or a Schedule, received {value!r}")
    return Constant(finite_float(name, value))


def _check_epoch(epoch: object, name: str = "epoch") -> None:
    non_negative_int(name, epoch)
