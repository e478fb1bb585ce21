"""Geometric nuisances: rotation, affine warps, crops and flips, per sample in one batched call.

The families draw the parameters; the kernels in `invtransfer.transforms.functional`
(``rotate``, ``affine``, ``pad_crop``, ``horizontal_flip``) apply them, every warp as one
sampling grid and one ``grid_sample`` for the whole batch. Angles are in degrees, positive
counter-clockwise as displayed (torchvision's convention); translations are fractions of the
image width and height, so parameters carry across resolutions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from invtransfer.transforms import functional as F
from invtransfer.transforms._ranges import as_number, as_range, bernoulli, uniform
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.functional import _check_interpolation, _check_padding
from invtransfer.transforms.params import Params

__all__ = ["Affine", "HorizontalFlip", "RandomCrop", "Rotation"]


class _Warp(TransformFamily):
    """A family whose samples are affine maps, with an interpolation and a fill value."""

    geometric = True

    def __init__(self, interpolation: str, fill: float) -> None:
        super().__init__()
        self.interpolation = _check_interpolation(interpolation)
        self.fill = as_number("fill", fill, (0.0, 1.0))


class Rotation(_Warp):
    """Rotation about the image centre by a per-sample angle.

    Applied by [`functional.rotate`][invtransfer.transforms.functional.rotate].

    Args:
        degrees: the angle range in degrees; a number ``d`` means ``(-d, d)``.
        interpolation: ``"bilinear"``, ``"bicubic"`` (the paper's K49-ROT) or ``"nearest"``.
            Bicubic is ``grid_sample``'s, not PIL's: ``uint8`` results differ from the
            paper's ``Image.rotate`` by 0.8 levels on average (see the transforms guide).
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

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.rotate(x, params.angle, self.interpolation, self.fill)

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, interpolation={self.interpolation!r}, fill={self.fill}"


class Affine(_Warp):
    """Rotation, scaling, shear and translation about the image centre, per sample.

    Applied by [`functional.affine`][invtransfer.transforms.functional.affine].

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

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.affine(
            x,
            params.angle,
            params.translate,
            params.scale,
            params.shear,
            self.interpolation,
            self.fill,
        )

    def extra_repr(self) -> str:
        return (
            f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
            f"shear={self.shear}, interpolation={self.interpolation!r}, fill={self.fill}"
        )


class HorizontalFlip(TransformFamily):
    """Mirror each image left to right with probability ``p``.

    Applied by [`functional.horizontal_flip`][invtransfer.transforms.functional.horizontal_flip].

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
        return F.horizontal_flip(x, params.flip)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomCrop(TransformFamily):
    """Pad each image by ``padding`` pixels of ``fill`` on every side and crop it back to its
    size at a random offset: the CIFAR recipe's ``RandomCrop(32, padding=4)``, per image.

    Applied by [`functional.pad_crop`][invtransfer.transforms.functional.pad_crop].

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
        self.padding = _check_padding(padding)
        self.fill = as_number("fill", fill, (0.0, 1.0))

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        offset = torch.randint(2 * self.padding + 1, (n, 2), generator=generator, device=device)
        return Params(offset=offset)

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(offset=torch.full((n, 2), self.padding, dtype=torch.long, device=device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.pad_crop(x, params.offset, self.padding, self.fill)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}"
