"""Photometric nuisances: background intensity, brightness, contrast, gamma, saturation, blur.

Each family draws one scalar per image; the kernels in `invtransfer.transforms.functional`
(``background_intensity``, ``adjust_brightness``, ...) apply the whole batch with broadcast
arithmetic. Values are fractions of the [0, 1] range, so they mean the same for ``uint8`` and
float inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from invtransfer._validation import positive_int
from invtransfer.transforms import functional as F
from invtransfer.transforms._ranges import as_number, as_range, uniform
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.functional import _check_kernel_size
from invtransfer.transforms.params import Params

__all__ = ["BackgroundIntensity", "Brightness", "Contrast", "Gamma", "GaussianBlur", "Saturation"]


class _ScalarFamily(TransformFamily):
    """A family with one uniform scalar per image, named ``field``, and a fixed identity value."""

    field: str
    identity_value: float

    def __init__(self, name: str, value: float | Sequence[float], bounds: tuple[float, float]):
        super().__init__()
        self.range = as_range(name, value, bounds)

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        return Params(**{self.field: uniform(n, self.range, generator, device)})

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(**{self.field: torch.full((n,), self.identity_value, device=device)})

    def extra_repr(self) -> str:
        return f"{self.field}={self.range}"


class BackgroundIntensity(_ScalarFamily):
    """Give the background of each image one random intensity (the paper's K49-BG nuisance).

    Applied by
    [`functional.background_intensity`][invtransfer.transforms.functional.background_intensity].

    A pixel is background when every channel is within ``tolerance`` of ``background``; it is
    shifted by ``intensity - background``, so an exact background pixel becomes ``intensity``
    and the parameter ``intensity = background`` is the exact identity. The defaults reproduce
    the paper's recipe on ``uint8`` glyphs: exactly-zero pixels get one whole level in 0..99,
    each equally likely (the paper's ``randint(0, 100)``).

    Args:
        intensity: range of the new background value, in [0, 1].
        background: the background value, in [0, 1].
        tolerance: how far from ``background`` a pixel may be and still count as background;
            the default, half a ``uint8`` step, selects exactly-background ``uint8`` pixels.
        levels: draw whole multiples of ``1 / levels`` in the range, each equally likely
            (255: the ``uint8`` levels); ``None`` draws the range continuously, which, once
            rounded to ``uint8``, makes the two end levels half as likely as the others. A
            range of one value gives that value.

    Examples:
        >>> family = BackgroundIntensity()
        >>> x = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
        >>> x[:, :, 1:3, 1:3] = 255
        >>> y = family.apply(x, Params(intensity=torch.tensor([50 / 255, 99 / 255])))
        >>> y[:, 0, 0, 0].tolist(), y[:, 0, 1, 1].tolist()
        ([50, 99], [255, 255])
    """

    field = "intensity"
    statistic_name = "background level (the median pixel)"

    def __init__(
        self,
        intensity: Sequence[float] = (0.0, 99 / 255),
        background: float = 0.0,
        tolerance: float = 0.5 / 255,
        levels: int | None = 255,
    ) -> None:
        super().__init__("intensity", intensity, (0.0, 1.0))
        self.background = as_number("background", background, (0.0, 1.0))
        self.tolerance = as_number("tolerance", tolerance, (0.0, 1.0))
        self.identity_value = self.background
        self.levels = None if levels is None else positive_int("levels", levels)
        if self.range[0] == self.range[1]:
            self.levels = None  # one value: nothing to draw
        if self.levels is not None and len(range(*_whole_levels(self.range, self.levels))) == 0:
            raise ValueError(
                f"levels: expected a multiple of 1/{levels} within intensity={self.range}, "
                f"received levels={levels}, which has none"
            )

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        if self.levels is None:
            return super()._sample(n, generator, device)
        first, stop = _whole_levels(self.range, self.levels)
        level = torch.randint(first, stop, (n,), generator=generator, device=device)
        return Params(intensity=level.float() / self.levels)

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.background_intensity(x, params.intensity, self.background, self.tolerance)

    def _statistic(self, x: Tensor) -> Tensor:
        return x.flatten(1).median(dim=1).values

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, background={self.background}, "
            f"tolerance={self.tolerance}, levels={self.levels}"
        )


class Brightness(_ScalarFamily):
    """Multiply each image by a random factor (torchvision's brightness), clamped to [0, 1].

    Applied by
    [`functional.adjust_brightness`][invtransfer.transforms.functional.adjust_brightness].

    Examples:
        >>> y = Brightness((0.5, 1.5))(torch.rand(4, 3, 8, 8))
        >>> y.shape
        torch.Size([4, 3, 8, 8])
    """

    field, identity_value = "factor", 1.0
    statistic_name = "mean intensity"

    def __init__(self, factor: Sequence[float] = (0.6, 1.4)) -> None:
        super().__init__("factor", factor, (0.0, math.inf))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.adjust_brightness(x, params.factor)

    def _statistic(self, x: Tensor) -> Tensor:
        return x.mean(dim=(1, 2, 3))


class Contrast(_ScalarFamily):
    """Blend each image with its mean grey level by a random factor (torchvision's contrast).

    Applied by [`functional.adjust_contrast`][invtransfer.transforms.functional.adjust_contrast].

    ``factor`` 0 gives a flat grey image, 1 the image itself, above 1 more contrast.

    Examples:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> flat = Contrast().apply(x, Params(factor=torch.zeros(2)))
        >>> bool((flat.amax(dim=(1, 2, 3)) - flat.amin(dim=(1, 2, 3)) < 1e-6).all())
        True
    """

    field, identity_value = "factor", 1.0
    statistic_name = "intensity spread (standard deviation)"

    def __init__(self, factor: Sequence[float] = (0.6, 1.4)) -> None:
        super().__init__("factor", factor, (0.0, math.inf))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.adjust_contrast(x, params.factor)

    def _statistic(self, x: Tensor) -> Tensor:
        return x.flatten(1).std(dim=1, correction=0)


class Gamma(_ScalarFamily):
    """Raise each image to a random power ``gamma`` (below 1 brightens dark regions).

    Applied by [`functional.adjust_gamma`][invtransfer.transforms.functional.adjust_gamma].

    Examples:
        >>> x = torch.full((1, 1, 2, 2), 0.25)
        >>> Gamma().apply(x, Params(gamma=torch.tensor([0.5]))).flatten().tolist()
        [0.5, 0.5, 0.5, 0.5]
    """

    field, identity_value = "gamma", 1.0

    def __init__(self, gamma: Sequence[float] = (0.7, 1.5)) -> None:
        super().__init__("gamma", gamma, (1e-3, math.inf))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.adjust_gamma(x, params.gamma)


class Saturation(_ScalarFamily):
    """Blend each RGB image with its greyscale version by a random factor.

    Applied by
    [`functional.adjust_saturation`][invtransfer.transforms.functional.adjust_saturation].

    ``factor`` 0 gives greyscale, 1 the image itself, above 1 stronger colours.

    Examples:
        >>> grey = Saturation().apply(torch.rand(2, 3, 8, 8), Params(factor=torch.zeros(2)))
        >>> torch.allclose(grey[:, 0], grey[:, 2])
        True
    """

    field, identity_value = "factor", 1.0
    channels = (3,)

    def __init__(self, factor: Sequence[float] = (0.6, 1.4)) -> None:
        super().__init__("factor", factor, (0.0, math.inf))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.adjust_saturation(x, params.factor)


class GaussianBlur(_ScalarFamily):
    """Blur each image with a Gaussian of random standard deviation ``sigma`` (in pixels).

    Applied by [`functional.gaussian_blur`][invtransfer.transforms.functional.gaussian_blur].

    The whole batch is one separable, grouped convolution with per-image kernels, padded by
    reflection. ``sigma`` 0 leaves an image unchanged.

    Args:
        sigma: range of the standard deviation in pixels.
        kernel_size: odd kernel width; by default ``2 * ceil(3 * max sigma) + 1``, capped so
            that the reflection padding fits the image.

    Examples:
        >>> x = torch.rand(4, 1, 28, 28)
        >>> GaussianBlur((0.5, 1.5))(x).shape
        torch.Size([4, 1, 28, 28])
    """

    field, identity_value = "sigma", 0.0

    def __init__(self, sigma: Sequence[float] = (0.1, 1.5), kernel_size: int | None = None):
        super().__init__("sigma", sigma, (0.0, math.inf))
        if kernel_size is None:
            kernel_size = 2 * math.ceil(3 * self.range[1]) + 1
        self.kernel_size = _check_kernel_size(kernel_size)

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        return F.gaussian_blur(x, params.sigma, self.kernel_size)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel_size={self.kernel_size}"


def _whole_levels(bounds: tuple[float, float], levels: int) -> tuple[int, int]:
    """The whole levels ``k`` with ``k / levels`` in ``bounds`` (rounding error forgiven), as
    ``range`` arguments."""
    low, high = bounds
    return math.ceil(low * levels - 1e-6), math.floor(high * levels + 1e-6) + 1
