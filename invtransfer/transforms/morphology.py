"""Stroke-width nuisance: per-sample grey-level dilation or erosion with square kernels.

A ``k x k`` square is separable, so the maximum over it is a maximum over ``k`` rows of a
maximum over ``k`` columns. Each pass runs over the largest kernel in the batch and masks,
per sample, the offsets outside that sample's own kernel: no loop over samples, no grouping,
no host synchronisation beyond reading the largest size. Erosion is dilation of ``-x``.

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
import torch.nn.functional as F
from torch import Tensor

from invtransfer.transforms._ranges import as_number, as_sizes, bernoulli, choice
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.params import Params

__all__ = ["Morphology", "dilate"]


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

    Example:
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
        sign = torch.where(params.dilate, 1.0, -1.0).to(x.dtype).view(-1, 1, 1, 1)
        return dilate(x * sign, params.size) * sign

    def extra_repr(self) -> str:
        return (
            f"dilate_p={self.dilate_p}, dilate_sizes={self.dilate_sizes}, "
            f"erode_sizes={self.erode_sizes}"
        )


def dilate(x: Tensor, size: Tensor) -> Tensor:
    """Grey-level dilation of each image of ``x`` by a square of its own ``size``.

    Args:
        x: float ``(N, C, H, W)`` batch (any values; ``-x`` gives erosion).
        size: ``(N,)`` integer kernel widths, each at least 1.

    Example:
        >>> x = torch.zeros(1, 1, 5, 5)
        >>> x[0, 0, 2, 2] = 1.0
        >>> dilate(x, torch.tensor([2]))[0, 0, 1:4, 1:4]
        tensor([[0., 0., 0.],
                [0., 1., 1.],
                [0., 1., 1.]])
    """
    if size.ndim != 1 or len(size) != len(x):
        raise ValueError(
            f"size: expected one kernel size per image ({len(x)}), received shape "
            f"{tuple(size.shape)}"
        )
    smallest, largest = (int(v) for v in torch.aminmax(size))
    if smallest < 1:
        raise ValueError(f"size: expected kernel sizes >= 1, received {size.tolist()}")
    per_image = size.view(-1, 1, 1, 1)
    return _window_max(_window_max(x, per_image, largest, dim=-1), per_image, largest, dim=-2)


def _window_max(x: Tensor, size: Tensor, largest: int, dim: int) -> Tensor:
    """Maximum over offsets ``-(size // 2) .. (size - 1) // 2`` along ``dim``, per image."""
    if largest == 1:
        return x
    before, after = largest // 2, (largest - 1) // 2
    padding = [before, after, 0, 0] if dim == -1 else [0, 0, before, after]
    padded = F.pad(x, padding, value=float("-inf"))
    result = x
    for offset in range(-before, after + 1):
        if offset == 0:
            continue
        shifted = padded.narrow(dim, before + offset, x.shape[dim])
        inside = (-(size // 2) <= offset) & (offset <= (size - 1) // 2)
        result = torch.maximum(result, torch.where(inside, shifted, x))
    return result
