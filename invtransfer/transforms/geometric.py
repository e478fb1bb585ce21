"""Geometric nuisances: rotation, affine warps, crops and flips, per sample in one batched call.

Every warp is one sampling grid and one ``grid_sample`` for the whole batch. Angles are in
degrees, positive counter-clockwise as displayed (torchvision's convention); translations are
fractions of the image width and height, so parameters carry across resolutions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from invtransfer.transforms._ranges import as_number, as_range, bernoulli, uniform
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.params import Params

__all__ = ["Affine", "HorizontalFlip", "RandomCrop", "Rotation"]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


class _Warp(TransformFamily):
    """A family whose samples are affine maps, applied with one grid sample per batch."""

    geometric = True

    def __init__(self, interpolation: str, fill: float) -> None:
        super().__init__()
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"interpolation: expected one of {_INTERPOLATIONS}, received {interpolation!r}"
            )
        self.interpolation = interpolation
        self.fill = as_number("fill", fill, (0.0, 1.0))

    def _forward_maps(self, params: Params, height: int, width: int) -> tuple[Tensor, Tensor]:
        """Per-sample ``(N, 2, 2)`` linear maps and ``(N, 2)`` shifts, in centred pixels."""
        raise NotImplementedError

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        height, width = x.shape[-2:]
        linear, shift = self._forward_maps(params, height, width)
        theta = _sampling_grid_matrix(linear.to(x.dtype), shift.to(x.dtype), height, width)
        grid = _affine_grid(theta, height, width)
        # Pixels from outside the image sample zeros: shift the image so that zero means fill.
        shifted = x - self.fill if self.fill else x
        warped = F.grid_sample(
            shifted, grid, mode=self.interpolation, padding_mode="zeros", align_corners=False
        )
        return warped.add_(self.fill) if self.fill else warped


class Rotation(_Warp):
    """Rotation about the image centre by a per-sample angle.

    Args:
        degrees: the angle range in degrees; a number ``d`` means ``(-d, d)``.
        interpolation: ``"bilinear"``, ``"bicubic"`` (the paper's K49-ROT) or ``"nearest"``.
        fill: the value, in [0, 1], of pixels rotated in from outside the image.

    Examples:
        >>> family = Rotation(degrees=(-180, 180), interpolation="bicubic")
        >>> params = family.sample(8, generator=torch.Generator().manual_seed(0))
        >>> params.angle.shape
        torch.Size([8])
        >>> family.apply(torch.rand(8, 1, 28, 28), params).shape
        torch.Size([8, 1, 28, 28])
    """

    def __init__(
        self,
        degrees: float | Sequence[float] = (-180.0, 180.0),
        interpolation: str = "bilinear",
        fill: float = 0.0,
    ) -> None:
        super().__init__(interpolation, fill)
        self.degrees = as_range("degrees", degrees, around=0.0)

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        return Params(angle=uniform(n, self.degrees, generator, device))

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(angle=torch.zeros(n, device=device))

    def _forward_maps(self, params: Params, height: int, width: int) -> tuple[Tensor, Tensor]:
        return _rotation(params.angle), params.angle.new_zeros(len(params), 2)

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, interpolation={self.interpolation!r}, fill={self.fill}"


class Affine(_Warp):
    """Rotation, scaling, shear and translation about the image centre, per sample.

    The forward map is ``p -> R(angle) @ S(scale) @ Shear(shear_x, shear_y) @ p + t`` in
    pixel coordinates centred on the image, where the shear moves ``x`` by
    ``tan(shear_x) * y`` and ``y`` by ``tan(shear_y) * x``, and ``t`` is
    ``(translate_x * width, translate_y * height)``. Angles turn counter-clockwise, as in
    ``Rotation`` and torchvision's ``rotate`` (torchvision's ``affine`` turns clockwise).

    Args:
        degrees: rotation range in degrees; a number ``d`` means ``(-d, d)``.
        translate: translation range as a fraction of the image size, the same for x and y;
            a number ``f`` means ``(-f, f)``.
        scale: range of the isotropic scale factor (positive).
        shear: shear range in degrees for each axis; a number ``d`` means ``(-d, d)``.
        interpolation: ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        fill: the value, in [0, 1], of pixels moved in from outside the image.

    Examples:
        >>> family = Affine(degrees=10, translate=0.1, scale=(0.9, 1.1), shear=5)
        >>> x = torch.rand(4, 3, 32, 32)
        >>> family(x, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    def __init__(
        self,
        degrees: float | Sequence[float] = 0.0,
        translate: float | Sequence[float] = 0.0,
        scale: Sequence[float] = (1.0, 1.0),
        shear: float | Sequence[float] = 0.0,
        interpolation: str = "bilinear",
        fill: float = 0.0,
    ) -> None:
        super().__init__(interpolation, fill)
        self.degrees = as_range("degrees", degrees, around=0.0)
        self.translate = as_range("translate", translate, (-1.0, 1.0), around=0.0)
        self.scale = as_range("scale", scale, (1e-3, math.inf))
        self.shear = as_range("shear", shear, (-89.0, 89.0), around=0.0)

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        return Params(
            angle=uniform(n, self.degrees, generator, device),
            translate=uniform(2 * n, self.translate, generator, device).view(n, 2),
            scale=uniform(n, self.scale, generator, device),
            shear=uniform(2 * n, self.shear, generator, device).view(n, 2),
        )

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(
            angle=torch.zeros(n, device=device),
            translate=torch.zeros(n, 2, device=device),
            scale=torch.ones(n, device=device),
            shear=torch.zeros(n, 2, device=device),
        )

    def _forward_maps(self, params: Params, height: int, width: int) -> tuple[Tensor, Tensor]:
        tangents = torch.tan(torch.deg2rad(params.shear))
        shear = torch.ones(len(params), 2, 2, device=tangents.device, dtype=tangents.dtype)
        shear[:, 0, 1], shear[:, 1, 0] = tangents[:, 0], tangents[:, 1]
        linear = _rotation(params.angle) * params.scale[:, None, None] @ shear
        size = torch.tensor([width, height], dtype=tangents.dtype, device=tangents.device)
        return linear, params.translate * size

    def extra_repr(self) -> str:
        return (
            f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
            f"shear={self.shear}, interpolation={self.interpolation!r}, fill={self.fill}"
        )


class HorizontalFlip(TransformFamily):
    """Mirror each image left to right with probability ``p``.

    Examples:
        >>> family = HorizontalFlip(p=0.5)
        >>> x = torch.rand(1, 3, 8, 8)
        >>> torch.equal(family.apply(x, Params(flip=torch.tensor([True]))), x.flip(-1))
        True
    """

    geometric = True

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = as_number("p", p, (0.0, 1.0))

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        return Params(flip=bernoulli(n, self.p, generator, device))

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(flip=torch.zeros(n, dtype=torch.bool, device=device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return torch.where(params.flip[:, None, None, None], x.flip(-1), x)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomCrop(TransformFamily):
    """Pad each image by ``padding`` pixels of ``fill`` on every side and crop it back to its
    size at a random offset: the CIFAR recipe's ``RandomCrop(32, padding=4)``, per image.

    The whole batch is one padding and one gather; the offset ``(top, left)`` is drawn
    uniformly from ``0..2 * padding`` on each axis, and ``(padding, padding)`` is the identity.

    Examples:
        >>> family = RandomCrop(padding=1)
        >>> x = torch.arange(9.0).reshape(1, 1, 3, 3) / 9
        >>> shifted = family.apply(x, Params(offset=torch.tensor([[0, 2]])))  # up-right corner
        >>> (shifted * 9).round().squeeze().tolist()
        [[0.0, 0.0, 0.0], [1.0, 2.0, 0.0], [4.0, 5.0, 0.0]]
    """

    geometric = True

    def __init__(self, padding: int = 4, fill: float = 0.0) -> None:
        super().__init__()
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding: expected an int >= 0, received {padding!r}")
        self.padding = padding
        self.fill = as_number("fill", fill, (0.0, 1.0))

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        offset = torch.randint(2 * self.padding + 1, (n, 2), generator=generator, device=device)
        return Params(offset=offset)

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(offset=torch.full((n, 2), self.padding, dtype=torch.long, device=device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        n, _, height, width = x.shape
        padded = F.pad(x, [self.padding] * 4, value=self.fill).permute(0, 2, 3, 1)
        rows = params.offset[:, :1] + torch.arange(height, device=x.device)  # (N, H)
        cols = params.offset[:, 1:] + torch.arange(width, device=x.device)  # (N, W)
        images = torch.arange(n, device=x.device)[:, None, None]
        crops = padded[images, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
        return crops.permute(0, 3, 1, 2).contiguous()

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}"


def _rotation(degrees: Tensor) -> Tensor:
    """``(N, 2, 2)`` counter-clockwise (as displayed, y pointing down) rotation matrices."""
    radians = torch.deg2rad(degrees)
    cos, sin = torch.cos(radians), torch.sin(radians)
    return torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)


def _sampling_grid_matrix(linear: Tensor, shift: Tensor, height: int, width: int) -> Tensor:
    """The ``(N, 2, 3)`` matrix ``affine_grid`` needs to realise ``p -> linear @ p + shift``.

    ``affine_grid`` maps output coordinates to input coordinates in the normalised frame
    (``align_corners=False``), so the forward map is inverted and conjugated by the
    normalisation ``diag(2 / width, 2 / height)``.
    """
    to_normalised = torch.tensor(
        [2.0 / width, 2.0 / height], dtype=linear.dtype, device=linear.device
    )
    inverse = torch.linalg.inv(linear)
    inverse_normalised = inverse * to_normalised[:, None] / to_normalised[None, :]
    offset = -(inverse @ shift.unsqueeze(-1)).squeeze(-1) * to_normalised
    return torch.cat([inverse_normalised, offset.unsqueeze(-1)], dim=-1)


def _affine_grid(theta: Tensor, height: int, width: int) -> Tensor:
    """``F.affine_grid(theta, (N, C, height, width), align_corners=False)`` by broadcasting.

    The same grid, built plane by plane with broadcast multiply-adds and handed over as a
    permuted view, which is several times faster on the CPU than a batched matrix product
    over every pixel (``grid_sample`` reads the view as it is).
    """
    xs = (torch.arange(width, dtype=theta.dtype, device=theta.device) * 2 + 1) / width - 1
    ys = (torch.arange(height, dtype=theta.dtype, device=theta.device) * 2 + 1) / height - 1
    theta = theta[:, :, None, None, :]  # (N, 2, 1, 1, 3): x, y and offset terms of x and y
    planes = (theta[..., 0] * xs + theta[..., 2]) + theta[..., 1] * ys[:, None]
    return planes.permute(0, 2, 3, 1)
