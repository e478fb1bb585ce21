"""The image contract shared by every public entry point: shapes, dtypes and value ranges.

Inside the library an image batch is a float tensor ``(N, C, H, W)`` with values in [0, 1].
Public entry points also accept ``uint8`` (0..255) and single images ``(C, H, W)``, and give
back what they were given. `ImageBatch` does that round trip in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["RANGE_TOLERANCE", "ImageBatch", "skip_range_checks"]

RANGE_TOLERANCE = 1e-3
"""How far a float image may stray outside [0, 1] (rounding error) before it is rejected."""

_FLOAT_WORKING_DTYPES = (torch.float32, torch.float64)

_check_ranges = True


@contextmanager
def skip_range_checks() -> Iterator[None]:
    """Inside the block, float images are not checked to lie in [0, 1].

    The check reads the batch's minimum and maximum back to the host: on a GPU that is one
    synchronisation per call, and under ``torch.compile`` a graph break. Skip it on a hot path
    whose images you know are in range; out-of-range values are then clamped, silently, on the
    way out. Shapes and dtypes are still checked. The switch is process-wide (not per thread)
    and also works as a decorator.

    Examples:
        >>> from invtransfer.transforms import Brightness
        >>> family = Brightness()
        >>> with skip_range_checks():
        ...     y = family(torch.full((2, 1, 4, 4), 1.5))  # not refused inside the block
        >>> float(y.max()) <= 1.0
        True
    """
    global _check_ranges
    previous, _check_ranges = _check_ranges, False
    try:
        yield
    finally:
        _check_ranges = previous


@dataclass(frozen=True)
class ImageBatch:
    """A validated image batch in working form, and the way back to the caller's form.

    Examples:
        >>> x = torch.zeros(3, 8, 8, dtype=torch.uint8)
        >>> batch = ImageBatch.from_user(x)
        >>> batch.images.shape, batch.images.dtype
        (torch.Size([1, 3, 8, 8]), torch.float32)
        >>> batch.restore(batch.images).dtype
        torch.uint8
    """

    images: Tensor
    """Float ``(N, C, H, W)`` images in [0, 1]."""
    dtype: torch.dtype
    """The dtype the caller gave."""
    single: bool
    """Whether the caller gave one ``(C, H, W)`` image rather than a batch."""

    @classmethod
    def from_user(cls, x: object, name: str = "x") -> ImageBatch:
        """Validate ``x`` and convert it to a float batch in [0, 1].

        Raises:
            TypeError: ``x`` is not a tensor, or its dtype is neither ``uint8`` nor floating.
            ValueError: wrong rank, an empty dimension, or float values outside [0, 1].
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor image, received {type(x).__name__}")
        if x.dtype != torch.uint8 and not x.dtype.is_floating_point:
            raise TypeError(
                f"{name}: expected a uint8 image (0..255) or a floating image in [0, 1], "
                f"received dtype {x.dtype}"
            )
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{name}: expected an image (C, H, W) or a batch (N, C, H, W), "
                f"received shape {tuple(x.shape)}"
            )
        if x.numel() == 0:
            raise ValueError(
                f"{name}: expected a non-empty image batch, received shape {tuple(x.shape)}"
            )
        single = x.ndim == 3
        batch = x.unsqueeze(0) if single else x
        if x.dtype == torch.uint8:
            return cls(batch.float().div_(255), x.dtype, single)
        if _check_ranges:
            _check_unit_range(batch, name)
        working = batch if x.dtype in _FLOAT_WORKING_DTYPES else batch.float()
        return cls(working, x.dtype, single)

    def restore(self, images: Tensor) -> Tensor:
        """Return float ``images`` in the caller's dtype and rank, clamped to [0, 1].

        ``images`` must be a fresh result, not the caller's tensor: it is clamped in place.
        """
        images = images.clamp_(0, 1)
        if self.dtype == torch.uint8:
            images = images.mul_(255).round_().to(torch.uint8)
        else:
            images = images.to(self.dtype)
        return images.squeeze(0) if self.single else images


def _check_unit_range(x: Tensor, name: str) -> None:
    low, high = (float(v) for v in torch.aminmax(x))
    if not (low >= -RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE):
        raise ValueError(
            f"{name}: expected float values in [0, 1] (uint8 images may use 0..255), "
            f"received values in [{low:.4g}, {high:.4g}]"
        )
