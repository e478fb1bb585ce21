"""Stroke-width nuisance: per-sample grey-level dilation or erosion with square kernels.

The family draws a kernel width and a direction per image; the batched kernel
`invtransfer.transforms.functional.dilate_or_erode` applies them, one in-place operation per
kernel offset and no loop over samples.

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

from invtransfer.transforms import functional as F
from invtransfer.transforms._ranges import as_number, as_sizes, bernoulli, choice
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.params import Params

__all__ = ["Morphology"]


class Morphology(TransformFamily):
    """Thicken or thin strokes: per image, dilate with probability ``dilate_p``, else erode.

    Applied by [`functional.dilate_or_erode`][invtransfer.transforms.functional.dilate_or_erode].

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

    statistic_name = "ink mass (mean intensity)"

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
        return F.dilate_or_erode(x, params.size, params.dilate)

    def _statistic(self, x: Tensor) -> Tensor:
        return x.mean(dim=(1, 2, 3))

    def extra_repr(self) -> str:
        return (
            f"dilate_p={self.dilate_p}, dilate_sizes={self.dilate_sizes}, "
            f"erode_sizes={self.erode_sizes}"
        )
