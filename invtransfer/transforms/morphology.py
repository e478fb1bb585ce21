"""Stroke-width nuisance: per-sample grey-level dilation or erosion with square kernels.

A ``k x k`` square is separable, so the maximum over it is a maximum over ``k`` rows of a
maximum over ``k`` columns. The windows of sizes 1, 2, 3, ... are nested, each adding one
offset to the one before, so with the batch sorted by kernel size each pass is a running
maximum in which offset ``j`` updates only the images whose kernel reaches it: one in-place
operation per offset, no loop over samples. Erosion is dilation of ``-x``.

**Anchor of even kernels.** The output at a pixel is the maximum (dilation) or minimum
(erosion) over the input at offsets ``-(k // 2) .. (k - 1) // 2`` in each direction, as
OpenCV computes with its default anchor at ``k // 2``. An odd kernel is centred. An even
kernel's window reaches one pixel further up and to the left than down and to the right, so
a dilated bright stroke grows one pixel more down and to the right. Size 1 reads the pixel
alone, so a size-1 erosion or dilation changes nothing. Pixels outside the image never win
a maximum or a minimum.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from invtransfer.transforms._ranges import as_number, as_sizes, bernoulli, choice
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.params import Params

__all__ = ["Morphology", "dilate_or_erode"]


class Morphology(TransformFamily):
    """Thicken or thin strokes: per image, dilate with probability ``dilate_p``, else erode.

    The defaults are the paper's K49-DIL recipe: with probability 0.6 dilate with a square
    kernel of size 2, 3 or 4, otherwise erode with size 1 or 2 (size 1 changes nothing).
    Parameters: ``dilate`` (bool) and ``size`` (int64 kernel width, in pixels at the image
    size the recipe was written for). See the module notes for where even kernels sit.

    Args:
        dilate_p: probability of dilation rather than erosion.
        dilate_sizes: kernel sizes a dilation draws from, uniformly.
        erode_sizes: kernel sizes an erosion draws from, uniformly.

    Examples:
        >>> family = Morphology()
        >>> x = torch.zeros(2, 1, 7, 7)
        >>> x[:, :, 3, 3] = 1.0
        >>> params = Params(dilate=torch.tensor([True, True]), size=torch.tensor([3, 2]))
        >>> family.apply(x, params).sum(dim=(1, 2, 3)).tolist()
        [9.0, 4.0]
    """

    def __init__(
        self,
        dilate_p: float = 0.6,
        dilate_sizes: Sequence[int] = (2, 3, 4),
        erode_sizes: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__()
        self.dilate_p = as_number("dilate_p", dilate_p, (0.0, 1.0))
        self.dilate_sizes = as_sizes("dilate_sizes", dilate_sizes)
        self.erode_sizes = as_sizes("erode_sizes", erode_sizes)

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        dilate = bernoulli(n, self.dilate_p, generator, device)
        dilate_size = choice(n, self.dilate_sizes, generator, device)
        erode_size = choice(n, self.erode_sizes, generator, device)
        return Params(dilate=dilate, size=torch.where(dilate, dilate_size, erode_size))

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(
            dilate=torch.zeros(n, dtype=torch.bool, device=device),
            size=torch.ones(n, dtype=torch.long, device=device),
        )

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return dilate_or_erode(x, params.size, params.dilate)

    def extra_repr(self) -> str:
        return (
            f"dilate_p={self.dilate_p}, dilate_sizes={self.dilate_sizes}, "
            f"erode_sizes={self.erode_sizes}"
        )


def dilate_or_erode(x: Tensor, size: Tensor, dilate: Tensor) -> Tensor:
    """Grey-level dilation or erosion of each image of ``x`` by a square of its own size.

    Args:
        x: float ``(N, C, H, W)`` batch.
        size: ``(N,)`` integer kernel widths, each at least 1.
        dilate: ``(N,)`` booleans: dilate (maximum) where true, erode (minimum) where false.

    Examples:
        >>> x = torch.zeros(1, 1, 5, 5)
        >>> x[0, 0, 2, 2] = 1.0
        >>> dilate_or_erode(x, torch.tensor([2]), torch.tensor([True]))[0, 0, 1:4, 1:4]
        tensor([[0., 0., 0.],
                [0., 1., 1.],
                [0., 1., 1.]])
    """
    for name, value in (("size", size), ("dilate", dilate)):
        if value.shape != (len(x),):
            raise ValueError(
                f"{name}: expected one value per image, shape ({len(x)},), received shape "
                f"{tuple(value.shape)}"
            )
    order = torch.argsort(size)
    ordered = size[order]
    smallest, largest = ordered[[0, -1]].tolist()
    if smallest < 1:
        raise ValueError(f"size: expected kernel sizes >= 1, received {size.tolist()}")
    first_of_width = torch.searchsorted(ordered, torch.arange(2, largest + 1, device=size.device))
    sign = torch.where(dilate[order], 1.0, -1.0).to(x.dtype).view(-1, 1, 1, 1)
    signed = x.index_select(0, order).mul_(sign)  # erosion is dilation of -x
    across = _grow(signed, torch.empty_like(signed), first_of_width.tolist(), dim=-1)
    grown = _grow(across, signed, first_of_width.tolist(), dim=-2)  # reuses signed's memory
    return grown.mul_(sign).index_select(0, torch.argsort(order))


def _grow(x: Tensor, out: Tensor, first_of_width: list[int], dim: int) -> Tensor:
    """Write into ``out`` the per-image maximum of ``x`` along ``dim`` over its window.

    ``x`` is sorted by kernel width ``k``, and ``first_of_width[k - 2]`` is the first row
    whose width is at least ``k``. The windows are nested, each width adding one offset to
    the one before, so a running maximum updates only the rows that need that offset.
    """
    out.copy_(x)
    length = x.shape[dim]
    for width, first in enumerate(first_of_width, start=2):
        offset = (width - 1) // 2 if width % 2 else -(width // 2)
        reach = length - abs(offset)
        if reach > 0:
            target = out[first:].narrow(dim, max(-offset, 0), reach)
            target.clamp_(min=x[first:].narrow(dim, max(offset, 0), reach))
    return out
