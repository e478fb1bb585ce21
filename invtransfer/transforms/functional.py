"""Functional kernels: the batched transforms behind the families, with per-sample parameters.

Every family's ``apply`` ends in one of these functions, as torchvision's ``transforms.v2``
classes end in ``transforms.v2.functional`` and kornia's augmentations in its functional API.
Call them directly when you hold the parameters already (from your own schedule, a
``Params`` you stored, or a grid of strengths) and want no sampling machinery.

Each kernel takes a float ``(N, C, H, W)`` batch in [0, 1], the library's working form, and
one parameter per image: a tensor of shape ``(N,)``, or ``(N, 2)`` for a pair such as a
translation, or a Python number (a pair of numbers) that applies to every image. Row ``i`` of
a parameter acts on image ``i`` only, and the whole batch is one call.

Kernels are the cheap layer. They check shapes and dtypes, and that parameters given as
Python numbers are finite, but never read a tensor's values back to the host (only
`dilate_or_erode` must, for its kernel sizes), so they trace under ``torch.compile`` without
graph breaks: a NaN in a parameter tensor gives NaN pixels (the families' ``apply`` refuses
it). They do not convert dtypes, do not check the value range (a float image outside [0, 1]
goes through unchecked), and do not clamp their results, so a factor above 1 can move values
outside [0, 1]: clamp before a kernel that needs [0, 1] (``adjust_gamma`` of a negative
value is NaN), or at the end of a chain. The families are the validated entry point: they
accept ``uint8`` and single images, reject out-of-range floats, clamp, and give back the
dtype they were given. Every kernel returns a new tensor and leaves its input unchanged.

Examples:
    >>> import torch
    >>> from invtransfer.transforms import functional as F
    >>> x = torch.rand(4, 3, 32, 32)
    >>> y = F.rotate(x, torch.tensor([0.0, 90.0, 180.0, 270.0]))  # one angle per image
    >>> y = F.adjust_contrast(y, 1.2).clamp_(0, 1)  # one factor for every image
    >>> y.shape
    torch.Size([4, 3, 32, 32])
"""

from __future__ import annotations

import math
from typing import Literal, cast

import torch
import torch.nn.functional as nnf
from torch import Tensor

from invtransfer._validation import non_negative_int, one_of
from invtransfer.transforms._ranges import as_number

__all__ = [
    "adjust_brightness",
    "adjust_contrast",
    "adjust_gamma",
    "adjust_saturation",
    "affine",
    "background_intensity",
    "dilate_or_erode",
    "gaussian_blur",
    "horizontal_flip",
    "pad_crop",
    "rotate",
]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
_LUMA = (0.2989, 0.587, 0.114)  # ITU-R BT.601 weights as torchvision rounds them

# Geometry


def rotate(
    x: Tensor, angle: Tensor | float, interpolation: str = "bilinear", fill: float = 0.0
) -> Tensor:
    """Rotate each image about its centre by its own angle, in degrees, counter-clockwise.

    Counter-clockwise as displayed (y pointing down), as torchvision's ``rotate``; the image
    keeps its size and pixels rotated in from outside the image get ``fill``. The batch is one
    sampling grid and one ``grid_sample``. This is `Rotation`'s kernel.

    Args:
        x: float ``(N, C, H, W)`` batch in [0, 1].
        angle: ``(N,)`` angles in degrees, or one angle for every image.
        interpolation: ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        fill: the value, in [0, 1], of pixels rotated in from outside the image.

    Examples:
        >>> x = torch.tensor([[0.0, 0.25], [0.5, 0.75]]).expand(2, 1, 2, 2)
        >>> y = rotate(x, torch.tensor([90.0, -90.0]), interpolation="nearest")
        >>> y[0, 0].tolist(), y[1, 0].tolist()
        ([[0.25, 0.75], [0.0, 0.5]], [[0.5, 0.0], [0.75, 0.25]])
    """
    x = _check_batch(x)
    angle = _per_sample("angle", angle, x)
    return _warp(x, _rotation(angle), angle.new_zeros(len(x), 2), interpolation, fill)


def affine(
    x: Tensor,
    angle: Tensor | float,
    translate: Tensor | tuple[float, float],
    scale: Tensor | float,
    shear: Tensor | tuple[float, float],
    interpolation: str = "bilinear",
    fill: float = 0.0,
) -> Tensor:
    """Rotate, scale, shear and translate each image about its centre, per image.

    The forward map is ``p -> R(angle) @ scale @ Shear(shear_x, shear_y) @ p + t`` in pixel
    coordinates centred on the image, where the shear moves ``x`` by ``tan(shear_x) * y`` and
    ``y`` by ``tan(shear_y) * x``, and ``t`` is ``(translate_x * W, translate_y * H)``. Angles
    turn counter-clockwise as in `rotate` (torchvision's ``affine`` turns clockwise). This is
    `Affine`'s kernel.

    Args:
        x: float ``(N, C, H, W)`` batch in [0, 1].
        angle: ``(N,)`` rotation angles in degrees, or one for every image.
        translate: ``(N, 2)`` shifts ``(x, y)`` as fractions of the width and height, or one
            pair for every image.
        scale: ``(N,)`` isotropic scale factors, or one for every image.
        shear: ``(N, 2)`` shear angles ``(x, y)`` in degrees, or one pair for every image.

    The map must be invertible: a scale of 0, or shears with ``tan(shear_x) *
    tan(shear_y) = 1``, give NaN images (they are not checked, as that would read the
    parameters back to the host).
        interpolation: ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        fill: the value, in [0, 1], of pixels moved in from outside the image.

    Examples:
        >>> x = torch.zeros(2, 1, 8, 8)
        >>> x[:, :, 3:5, 3:5] = 1.0
        >>> y = affine(x, 0.0, torch.tensor([[0.25, 0.0], [0.0, 0.0]]), torch.tensor([1.0, 2.0]),
        ...            (0.0, 0.0), interpolation="nearest")
        >>> y[0, 0].nonzero()[[0, -1]].tolist(), y[1, 0].nonzero()[[0, -1]].tolist()
        ([[3, 5], [4, 6]], [[2, 2], [5, 5]])
    """
    x = _check_batch(x)
    angle = _per_sample("angle", angle, x)
    translate = _per_sample("translate", translate, x, pair=True)
    scale = _per_sample("scale", scale, x)
    tangents = torch.tan(torch.deg2rad(_per_sample("shear", shear, x, pair=True)))
    shear_map = torch.ones(len(x), 2, 2, device=tangents.device, dtype=tangents.dtype)
    shear_map[:, 0, 1], shear_map[:, 1, 0] = tangents[:, 0], tangents[:, 1]
    linear = _rotation(angle) * scale[:, None, None] @ shear_map
    height, width = x.shape[-2:]
    size = torch.tensor([width, height], dtype=tangents.dtype, device=tangents.device)
    return _warp(x, linear, translate * size, interpolation, fill)


def pad_crop(
    x: Tensor, offset: Tensor | tuple[int, int], padding: int, fill: float = 0.0
) -> Tensor:
    """Pad each image by ``padding`` pixels of ``fill`` and crop it back at its own offset.

    The CIFAR recipe's ``RandomCrop(32, padding=4)`` with the offsets given: one padding and
    one gather for the whole batch. ``offset`` is ``(top, left)`` in the padded image, from 0
    to ``2 * padding`` on each axis, and ``(padding, padding)`` leaves an image unchanged.
    Offsets are not range-checked, since that would read them back to the host: outside that
    range the gather raises ``IndexError`` on the CPU and fails a device assertion on CUDA.
    This is `RandomCrop`'s kernel.

    Args:
        x: float ``(N, C, H, W)`` batch in [0, 1].
        offset: ``(N, 2)`` integer ``(top, left)`` offsets, or one pair for every image.
        padding: the padding in pixels on every side, an int >= 0.
        fill: the value, in [0, 1], of the padding.

    Examples:
        >>> x = torch.tensor([[0.0, 0.25], [0.5, 0.75]]).expand(2, 1, 2, 2)
        >>> y = pad_crop(x, torch.tensor([[0, 2], [1, 1]]), padding=1)  # up-right; identity
        >>> y[0, 0].tolist(), y[1, 0].tolist()
        ([[0.0, 0.0], [0.25, 0.0]], [[0.0, 0.25], [0.5, 0.75]])
    """
    x = _check_batch(x)
    offset = _per_sample("offset", offset, x, pair=True, kind="int")
    padding = _check_padding(padding)
    fill = as_number("fill", fill, (0.0, 1.0))
    n, _, height, width = x.shape
    padded = nnf.pad(x, [padding] * 4, value=fill).permute(0, 2, 3, 1)
    rows = offset[:, :1] + torch.arange(height, device=x.device)  # (N, H)
    cols = offset[:, 1:] + torch.arange(width, device=x.device)  # (N, W)
    images = torch.arange(n, device=x.device)[:, None, None]
    crops = padded[images, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return crops.permute(0, 3, 1, 2).contiguous()


def horizontal_flip(x: Tensor, flip: Tensor | bool) -> Tensor:
    """Mirror left to right the images where ``flip`` is true. `HorizontalFlip`'s kernel.

    Args:
        x: float ``(N, C, H, W)`` batch.
        flip: ``(N,)`` bool mask, or one bool for every image.

    Examples:
        >>> x = torch.tensor([[[[0.0, 1.0]]], [[[0.0, 1.0]]]])
        >>> horizontal_flip(x, torch.tensor([True, False])).flatten(1).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    x = _check_batch(x)
    flip = _per_sample("flip", flip, x, kind="bool")
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


# Intensity


def adjust_brightness(x: Tensor, factor: Tensor | float) -> Tensor:
    """Multiply each image by its own factor, as torchvision's ``adjust_brightness``.

    The kernel of `Brightness`; unlike torchvision's function it does not clamp, so factors
    above 1 give values above 1.

    Args:
        x: float ``(N, C, H, W)`` batch.
        factor: ``(N,)`` non-negative factors, or one for every image.

    Examples:
        >>> x = torch.full((2, 1, 2, 2), 0.5)
        >>> adjust_brightness(x, torch.tensor([0.5, 1.5]))[:, 0, 0, 0].tolist()
        [0.25, 0.75]
    """
    x = _check_batch(x)
    return x * _per_image("factor", factor, x)


def adjust_contrast(x: Tensor, factor: Tensor | float) -> Tensor:
    """Blend each image with its mean grey level by its own factor, as torchvision does.

    ``factor`` 0 gives a flat grey image, 1 the image itself, above 1 more contrast (and
    values outside [0, 1]). The grey level is the BT.601 luma for RGB images and the channel
    mean otherwise. `Contrast`'s kernel.

    Args:
        x: float ``(N, C, H, W)`` batch.
        factor: ``(N,)`` non-negative factors, or one for every image.

    Examples:
        >>> x = torch.tensor([[[[0.0, 1.0]]]])
        >>> adjust_contrast(x, 0.5).flatten().tolist()
        [0.25, 0.75]
    """
    x = _check_batch(x)
    mean = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
    return torch.lerp(mean, x, _per_image("factor", factor, x))


def adjust_gamma(x: Tensor, gamma: Tensor | float) -> Tensor:
    """Raise each image to its own power ``gamma`` (below 1 brightens dark regions).

    The values must not be negative (a negative value to a fractional power is NaN): clamp
    the output of a kernel that can undershoot, such as `adjust_contrast`, first.
    `Gamma`'s kernel.

    Args:
        x: float ``(N, C, H, W)`` batch in [0, 1].
        gamma: ``(N,)`` positive exponents, or one for every image.

    Examples:
        >>> x = torch.full((2, 1, 1, 1), 0.25)
        >>> adjust_gamma(x, torch.tensor([0.5, 2.0])).flatten().tolist()
        [0.5, 0.0625]
    """
    x = _check_batch(x)
    return x.pow(_per_image("gamma", gamma, x))


def adjust_saturation(x: Tensor, factor: Tensor | float) -> Tensor:
    """Blend each RGB image with its greyscale version (BT.601 luma) by its own factor.

    ``factor`` 0 gives greyscale, 1 the image itself, above 1 stronger colours (and values
    outside [0, 1]). `Saturation`'s kernel.

    Args:
        x: float ``(N, 3, H, W)`` batch of RGB images.
        factor: ``(N,)`` non-negative factors, or one for every image.

    Examples:
        >>> x = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)  # one red pixel
        >>> grey = adjust_saturation(x, 0.0)  # its grey level in every channel
        >>> [round(value, 4) for value in grey.flatten().tolist()]
        [0.2989, 0.2989, 0.2989]
    """
    x = _check_batch(x)
    if x.shape[1] != 3:
        raise ValueError(
            f"x: expected RGB images, a (N, 3, H, W) batch, received shape {tuple(x.shape)}"
        )
    return torch.lerp(_grey(x), x, _per_image("factor", factor, x))


def gaussian_blur(x: Tensor, sigma: Tensor | float, kernel_size: int) -> Tensor:
    """Blur each image with a Gaussian of its own standard deviation ``sigma``, in pixels.

    One separable, grouped convolution for the whole batch, with one normalised kernel per
    image, padded by reflection; the kernel radius is capped at one pixel less than the
    image's height and width so that the padding fits. ``sigma`` 0 leaves an image unchanged.
    Matches torchvision's ``gaussian_blur`` with ``kernel_size`` and ``sigma`` for both axes.
    `GaussianBlur`'s kernel.

    Args:
        x: float ``(N, C, H, W)`` batch.
        sigma: ``(N,)`` standard deviations in pixels, or one for every image.
        kernel_size: odd kernel width, shared by the batch.

    Examples:
        >>> x = torch.zeros(2, 1, 9, 9)
        >>> x[:, :, 4, 4] = 1.0
        >>> y = gaussian_blur(x, torch.tensor([0.0, 1.0]), kernel_size=5)
        >>> y[0, 0, 4, 4].item(), round(y[1, 0, 4, 4].item(), 4), round(y[1].sum().item(), 4)
        (1.0, 0.1621, 1.0)
    """
    x = _check_batch(x)
    kernel_size = _check_kernel_size(kernel_size)
    sigma = _per_sample("sigma", sigma, x).to(x.dtype).clamp_min(1e-6)[:, None]
    n, c, height, width = x.shape
    radius = min(kernel_size // 2, height - 1, width - 1)
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.softmax(-(offsets**2) / (2 * sigma**2), dim=1)  # (N, 2r+1), sums to 1
    kernel = kernel.repeat_interleave(c, dim=0)  # one kernel per (image, channel)
    flat = nnf.pad(x.reshape(1, n * c, height, width), [radius] * 4, mode="reflect")
    flat = nnf.conv2d(flat, kernel[:, None, :, None], groups=n * c)
    flat = nnf.conv2d(flat, kernel[:, None, None, :], groups=n * c)
    return flat.view(n, c, height, width)


def background_intensity(
    x: Tensor, intensity: Tensor | float, background: float = 0.0, tolerance: float = 0.5 / 255
) -> Tensor:
    """Give the background of each image its own intensity (the paper's K49-BG nuisance).

    A pixel is background when every channel is within ``tolerance`` of ``background``; it
    is shifted by ``intensity - background``, so an exact background pixel becomes
    ``intensity`` and ``intensity = background`` changes nothing. `BackgroundIntensity`'s
    kernel.

    Args:
        x: float ``(N, C, H, W)`` batch in [0, 1].
        intensity: ``(N,)`` new background values in [0, 1], or one for every image.
        background: the background value, in [0, 1].
        tolerance: how far from ``background`` a pixel may be and still count as background;
            the default, half a ``uint8`` step, selects pixels that were exactly background
            as ``uint8``.

    Examples:
        >>> x = torch.tensor([[[[0.0, 1.0]]], [[[0.0, 1.0]]]])
        >>> background_intensity(x, torch.tensor([0.25, 0.5])).flatten(1).tolist()
        [[0.25, 1.0], [0.5, 1.0]]
    """
    x = _check_batch(x)
    background = as_number("background", background, (0.0, 1.0))
    tolerance = as_number("tolerance", tolerance, (0.0, 1.0))
    is_background = ((x - background).abs() <= tolerance).all(dim=1, keepdim=True)
    shift = _per_image("intensity", intensity, x) - background
    return torch.where(is_background, x + shift, x)


# Stroke width


def dilate_or_erode(x: Tensor, size: Tensor | int, dilate: Tensor | bool) -> Tensor:
    """Grey-level dilation or erosion of each image by a square of its own size.

    Dilation takes the maximum over a ``k x k`` window, erosion the minimum; the window
    covers offsets ``-(k // 2) .. (k - 1) // 2`` in each direction (OpenCV's default anchor),
    so an odd kernel is centred and an even one reaches one pixel further up and left. Size
    1 changes nothing, and pixels outside the image never win. `Morphology`'s kernel.

    A square is separable, so the maximum over it is a maximum over ``k`` rows of a maximum
    over ``k`` columns. The windows of sizes 1, 2, 3, ... are nested, each adding one offset
    to the one before, so with the batch sorted by kernel size each pass is a running
    maximum in which offset ``j`` updates only the images whose kernel reaches it: one
    in-place operation per offset, no loop over images. Erosion is dilation of ``-x``. The
    number of offsets depends on the sizes, so this kernel reads them back to the host.

    Args:
        x: float ``(N, C, H, W)`` batch.
        size: ``(N,)`` integer kernel widths, each at least 1, or one width for every image.
        dilate: ``(N,)`` booleans: dilate (maximum) where true, erode (minimum) where false;
            or one bool for every image.

    Examples:
        >>> x = torch.zeros(1, 1, 5, 5)
        >>> x[0, 0, 2, 2] = 1.0
        >>> dilate_or_erode(x, torch.tensor([2]), torch.tensor([True]))[0, 0, 1:4, 1:4]
        tensor([[0., 0., 0.],
                [0., 1., 1.],
                [0., 1., 1.]])
    """
    x = _check_batch(x)
    size = _per_sample("size", size, x, kind="int")
    dilate = _per_sample("dilate", dilate, x, kind="bool")
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


# Checks of the settings, which the families also make when they are built


def _check_interpolation(interpolation: object) -> str:
    """Return ``interpolation`` if ``grid_sample`` supports it, else raise ``ValueError``."""
    return str(one_of("interpolation", interpolation, _INTERPOLATIONS))


def _check_padding(padding: object) -> int:
    """Return ``padding`` if it is an int >= 0, else raise ``ValueError``."""
    return non_negative_int("padding", padding)


def _check_kernel_size(kernel_size: object) -> int:
    """Return ``kernel_size`` if it is an odd int >= 1, else raise."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise TypeError(f"kernel_size: expected an odd int, received {kernel_size!r}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size: expected an odd int >= 1, received {kernel_size}")
    return kernel_size


# Helpers


def _check_batch(x: object) -> Tensor:
    """``x`` itself if it is a non-empty float ``(N, C, H, W)`` tensor, else raise."""
    if not isinstance(x, Tensor) or not x.dtype.is_floating_point:
        raise TypeError(f"x: expected a float (N, C, H, W) batch, received {_describe(x)}")
    if x.ndim != 4 or x.numel() == 0:
        raise ValueError(f"x: expected a float (N, C, H, W) batch, received {_describe(x)}")
    return x


def _describe(x: object) -> str:
    if not isinstance(x, Tensor):
        return type(x).__name__
    empty = "an empty " if x.numel() == 0 else "a "
    return f"{empty}{str(x.dtype).removeprefix('torch.')} tensor of shape {tuple(x.shape)}"


def _per_sample(
    name: str,
    value: object,
    x: Tensor,
    *,
    pair: bool = False,
    kind: Literal["real", "int", "bool"] = "real",
) -> Tensor:
    """``value`` as one entry per image of ``x``, ``(N,)`` or ``(N, 2)``, on ``x``'s device.

    A tensor must have that shape and a dtype of the ``kind``; a real tensor keeps its
    floating dtype (an integer one takes ``x``'s). A Python value, or a pair of them for
    ``pair``, is repeated for every image, in ``x``'s dtype for reals.
    """
    shape = (len(x), 2) if pair else (len(x),)
    if isinstance(value, Tensor):
        if tuple(value.shape) != shape:
            what = "one pair per image" if pair else "one value per image"
            raise ValueError(
                f"{name}: expected {what}, shape {shape}, received shape {tuple(value.shape)}"
            )
        return _checked_dtype(name, value, kind, x).to(x.device)
    values = list(value) if pair and isinstance(value, (tuple, list)) else [value]
    if len(values) != (2 if pair else 1) or not all(_is_scalar(v, kind) for v in values):
        scalar = _SCALARS[kind][1] if pair else _SCALARS[kind][0]
        raise TypeError(
            f"{name}: expected a tensor of shape {shape} or {scalar}, received {value!r}"
        )
    if kind == "real" and not all(math.isfinite(float(v)) for v in values):  # type: ignore[arg-type]
        raise ValueError(f"{name}: expected finite values, received {value!r}")
    dtype = {"real": x.dtype, "int": torch.long, "bool": torch.bool}[kind]
    # Filled on the device, not copied from the host.
    columns = [torch.full((len(x),), cast(float, v), dtype=dtype, device=x.device) for v in values]
    return torch.stack(columns, dim=1) if pair else columns[0]


_SCALARS = {
    "real": ("a number", "a pair of numbers"),
    "int": ("an int", "a pair of ints"),
    "bool": ("a bool", "a pair of bools"),
}


def _is_scalar(value: object, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    types = (int, float) if kind == "real" else (int,)
    return isinstance(value, types) and not isinstance(value, bool)


def _checked_dtype(name: str, value: Tensor, kind: str, x: Tensor) -> Tensor:
    """``value`` if its dtype suits ``kind``; an integer tensor of reals in ``x``'s dtype."""
    boolean = value.dtype == torch.bool
    integer = not (value.dtype.is_floating_point or value.dtype.is_complex or boolean)
    if kind == "real" and integer:
        return value.to(x.dtype)
    if {"real": value.dtype.is_floating_point, "int": integer, "bool": boolean}[kind]:
        return value
    expected = {"real": "a real", "int": "an integer", "bool": "a bool"}[kind]
    raise TypeError(f"{name}: expected {expected} dtype, received {value.dtype}")


def _per_image(name: str, value: object, x: Tensor) -> Tensor:
    """One value per image in ``x``'s dtype, shaped ``(N, 1, 1, 1)`` to broadcast."""
    return _per_sample(name, value, x).to(x.dtype).view(-1, 1, 1, 1)


def _grey(x: Tensor) -> Tensor:
    """``(N, 1, H, W)`` grey levels: luma for RGB, the channel mean otherwise."""
    if x.shape[1] == 3:
        weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * weights).sum(dim=1, keepdim=True)
    return x.mean(dim=1, keepdim=True)


def _warp(x: Tensor, linear: Tensor, shift: Tensor, interpolation: str, fill: float) -> Tensor:
    """Apply ``p -> linear @ p + shift`` (centred pixels) per image: one grid, one sample."""
    interpolation = _check_interpolation(interpolation)
    fill = as_number("fill", fill, (0.0, 1.0))
    height, width = x.shape[-2:]
    theta = _sampling_grid_matrix(linear.to(x.dtype), shift.to(x.dtype), height, width)
    grid = _affine_grid(theta, height, width)
    # Pixels from outside the image sample zeros: shift the image so that zero means fill.
    shifted = x - fill if fill else x
    warped = nnf.grid_sample(
        shifted, grid, mode=interpolation, padding_mode="zeros", align_corners=False
    )
    return warped.add_(fill) if fill else warped


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
    inverse = torch.linalg.inv_ex(linear).inverse  # linalg.inv would sync to check for errors
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
