"""The functional kernels: the families' results, per-sample parameters, broadcasting, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import seeded
from torch import Tensor

from invtransfer import transforms as T
from invtransfer.transforms import Params
from invtransfer.transforms import functional as F

Kernel = Callable[[Tensor, Params], Tensor]

CASES: dict[str, tuple[Callable[[], T.TransformFamily], Kernel]] = {
    "rotate": (
        lambda: T.Rotation(interpolation="bicubic", fill=0.25),
        lambda x, p: F.rotate(x, p.angle, "bicubic", 0.25),
    ),
    "affine": (
        lambda: T.Affine(degrees=30, translate=0.2, scale=(0.7, 1.3), shear=20, fill=0.5),
        lambda x, p: F.affine(x, p.angle, p.translate, p.scale, p.shear, fill=0.5),
    ),
    "pad_crop": (
        lambda: T.RandomCrop(padding=3, fill=0.75),
        lambda x, p: F.pad_crop(x, p.offset, padding=3, fill=0.75),
    ),
    "horizontal_flip": (T.HorizontalFlip, lambda x, p: F.horizontal_flip(x, p.flip)),
    "background_intensity": (
        lambda: T.BackgroundIntensity((0.1, 0.9), background=0.5, tolerance=0.2),
        lambda x, p: F.background_intensity(x, p.intensity, background=0.5, tolerance=0.2),
    ),
    "adjust_brightness": (T.Brightness, lambda x, p: F.adjust_brightness(x, p.factor)),
    "adjust_contrast": (T.Contrast, lambda x, p: F.adjust_contrast(x, p.factor)),
    "adjust_gamma": (T.Gamma, lambda x, p: F.adjust_gamma(x, p.gamma)),
    "adjust_saturation": (T.Saturation, lambda x, p: F.adjust_saturation(x, p.factor)),
    "gaussian_blur": (
        lambda: T.GaussianBlur((0.0, 2.0), kernel_size=7),
        lambda x, p: F.gaussian_blur(x, p.sigma, kernel_size=7),
    ),
    "dilate_or_erode": (T.Morphology, lambda x, p: F.dilate_or_erode(x, p.size, p.dilate)),
}
"""Each kernel, with the family that calls it and the call that replays the family's params."""

every_kernel = pytest.mark.parametrize("name", sorted(CASES))

SYNC_FREE = sorted(set(CASES) - {"dilate_or_erode"})
"""The kernels that never read a value back to the host."""


def batch(n: int = 5, channels: int = 3, dtype: torch.dtype = torch.float32) -> Tensor:
    """Seeded images in [0, 1] with a band of exact zeros (a background to find)."""
    x = torch.rand(n, channels, 12, 10, generator=seeded(), dtype=dtype)
    x[:, :, :3] = 0.0
    return x


def sampled(name: str, n: int) -> tuple[T.TransformFamily, Params]:
    family = CASES[name][0]()
    return family, family.sample(n, generator=seeded(1))


@every_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_is_exactly_what_the_family_applies(name, dtype):
    x = batch(dtype=dtype)
    family, params = sampled(name, len(x))
    expected = family.apply(x, params)
    out = CASES[name][1](x, params)
    assert out.dtype == dtype
    assert torch.equal(out.clamp(0, 1), expected)  # the family only adds the final clamp


@every_kernel
def test_each_row_uses_its_own_parameters(name):
    x = batch(n=6)
    _, params = sampled(name, len(x))
    kernel = CASES[name][1]
    out = kernel(x, params)
    for i in range(len(x)):
        torch.testing.assert_close(
            out[i : i + 1], kernel(x[i : i + 1], params[i]), atol=1e-6, rtol=0
        )


@every_kernel
def test_kernel_leaves_its_input_alone_and_returns_a_new_tensor(name):
    x = batch()
    before = x.clone()
    _, params = sampled(name, len(x))
    out = CASES[name][1](x, params)
    assert torch.equal(x, before)
    assert out.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()


@pytest.mark.parametrize(
    ("name", "with_numbers", "with_tensors"),
    [
        (
            "rotate",
            lambda x: F.rotate(x, 30.0),
            lambda x, n: F.rotate(x, torch.full((n,), 30.0)),
        ),
        (
            "affine",
            lambda x: F.affine(x, -20, (0.1, -0.2), 1.25, (5.0, 10.0)),
            lambda x, n: F.affine(
                x,
                torch.full((n,), -20.0),
                torch.tensor([[0.1, -0.2]]).repeat(n, 1),
                torch.full((n,), 1.25),
                torch.tensor([[5.0, 10.0]]).repeat(n, 1),
            ),
        ),
        (
            "pad_crop",
            lambda x: F.pad_crop(x, (1, 4), padding=2),
            lambda x, n: F.pad_crop(x, torch.tensor([[1, 4]]).repeat(n, 1), padding=2),
        ),
        (
            "horizontal_flip",
            lambda x: F.horizontal_flip(x, True),
            lambda x, n: F.horizontal_flip(x, torch.ones(n, dtype=torch.bool)),
        ),
        (
            "background_intensity",
            lambda x: F.background_intensity(x, 0.4),
            lambda x, n: F.background_intensity(x, torch.full((n,), 0.4)),
        ),
        (
            "adjust_brightness",
            lambda x: F.adjust_brightness(x, 0.7),
            lambda x, n: F.adjust_brightness(x, torch.full((n,), 0.7)),
        ),
        (
            "adjust_contrast",
            lambda x: F.adjust_contrast(x, 1.3),
            lambda x, n: F.adjust_contrast(x, torch.full((n,), 1.3)),
        ),
        (
            "adjust_gamma",
            lambda x: F.adjust_gamma(x, 2),
            lambda x, n: F.adjust_gamma(x, torch.full((n,), 2.0)),
        ),
        (
            "adjust_saturation",
            lambda x: F.adjust_saturation(x, 0.5),
            lambda x, n: F.adjust_saturation(x, torch.full((n,), 0.5)),
        ),
        (
            "gaussian_blur",
            lambda x: F.gaussian_blur(x, 1.5, 5),
            lambda x, n: F.gaussian_blur(x, torch.full((n,), 1.5), 5),
        ),
        (
            "dilate_or_erode",
            lambda x: F.dilate_or_erode(x, 3, False),
            lambda x, n: F.dilate_or_erode(x, torch.full((n,), 3), torch.zeros(n, dtype=bool)),
        ),
    ],
)
def test_a_number_applies_to_every_image(name, with_numbers, with_tensors):
    x = batch(n=4)
    out = with_numbers(x)
    assert torch.equal(out, with_tensors(x, len(x)))
    assert not torch.equal(out, x)  # the setting does something


def test_numbers_take_the_dtype_of_the_images():
    x = batch(n=2, dtype=torch.float64)
    assert torch.equal(F.rotate(x, 30.0), F.rotate(x, torch.full((2,), 30.0, dtype=torch.float64)))
    assert torch.equal(
        F.adjust_brightness(x, 0.1), x * torch.tensor(0.1, dtype=torch.float64)
    )  # 0.1 is not rounded to float32 on the way


def test_integer_parameter_tensors_are_read_as_numbers():
    x = batch(n=2)
    angles = torch.tensor([90, -90])
    assert torch.equal(F.rotate(x, angles), F.rotate(x, angles.float()))
    assert torch.equal(
        F.adjust_gamma(x, torch.tensor([2, 3])), x.pow(torch.tensor([2.0, 3.0]).view(2, 1, 1, 1))
    )


def test_kernels_compose_as_the_families_do():
    x = batch(n=4)
    family = T.Compose([T.Rotation(degrees=40), T.GaussianBlur(), T.Brightness()])
    params = family.sample(4, generator=seeded(2))
    y = F.rotate(x, params["0"].angle)
    y = F.gaussian_blur(y, params["1"].sigma, family.families[1].kernel_size)
    y = F.adjust_brightness(y, params["2"].factor)
    assert torch.equal(y.clamp_(0, 1), family.apply(x, params))


@pytest.mark.parametrize("name", SYNC_FREE)
def test_kernels_read_no_value_back_to_the_host(name):
    """Meta tensors hold no data: reading one back (``.item()``, ``.tolist()``) raises.

    The parameters stay on the CPU: the kernels move them to the images' device.
    """
    x = batch(n=3)
    _, params = sampled(name, len(x))
    out = CASES[name][1](x.to("meta"), params)
    assert out.device.type == "meta" and out.shape == x.shape


def test_every_sync_free_kernel_compiles_without_graph_breaks():
    def chain(x: Tensor, angle: Tensor, pair: Tensor, offset: Tensor, flip: Tensor) -> Tensor:
        x = F.rotate(x, angle, "bicubic", 0.5)
        x = F.affine(x, angle, pair * 0.1, angle.abs() / 90 + 0.5, pair * 10)
        x = F.pad_crop(x, offset, 2, 0.25)
        x = F.horizontal_flip(x, flip)
        x = F.background_intensity(x, angle.abs() / 90)
        x = F.adjust_contrast(F.adjust_brightness(x, 0.9), angle.abs() / 90 + 0.5)
        x = F.adjust_gamma(x.clamp(0, 1), angle.abs() / 90 + 0.5)
        return F.gaussian_blur(F.adjust_saturation(x, 1.2), angle.abs() / 90, 5)

    generator = seeded()
    args = (
        batch(n=3),
        torch.rand(3, generator=generator) * 180 - 90,
        torch.rand(3, 2, generator=generator),
        torch.randint(0, 5, (3, 2), generator=generator),
        torch.tensor([True, False, True]),
    )
    compiled = torch.compile(chain, fullgraph=True, backend="eager")  # a graph break raises
    assert torch.equal(compiled(*args), chain(*args))


@pytest.mark.parametrize(
    ("x", "error", "received"),
    [
        ([[0.0]], TypeError, "list"),
        (
            torch.zeros(2, 1, 4, 4, dtype=torch.uint8),
            TypeError,
            r"a uint8 tensor of shape \(2, 1, 4, 4\)",
        ),
        (torch.zeros(1, 4, 4), ValueError, r"a float32 tensor of shape \(1, 4, 4\)"),
        (torch.zeros(0, 1, 4, 4), ValueError, r"an empty float32 tensor of shape \(0, 1, 4, 4\)"),
    ],
)
@every_kernel
def test_kernels_reject_what_is_not_a_float_batch(name, x, error, received):
    params = CASES[name][0]().identity(2)
    with pytest.raises(
        error, match=r"x: expected a float \(N, C, H, W\) batch, received " + received
    ):
        CASES[name][1](x, params)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda x: F.rotate(x, torch.zeros(3)),
            ValueError,
            r"angle: expected one value per image, shape \(2,\), received shape \(3,\)",
        ),
        (
            lambda x: F.adjust_brightness(x, torch.ones(2, 1)),
            ValueError,
            r"factor: expected one value per image, shape \(2,\), received shape \(2, 1\)",
        ),
        (
            lambda x: F.affine(x, 0.0, torch.zeros(2), 1.0, (0.0, 0.0)),
            ValueError,
            r"translate: expected one pair per image, shape \(2, 2\), received shape \(2,\)",
        ),
        (
            lambda x: F.affine(x, 0.0, 0.1, 1.0, (0.0, 0.0)),
            TypeError,
            r"translate: expected a tensor of shape \(2, 2\) or a pair of numbers, received 0.1",
        ),
        (
            lambda x: F.rotate(x, "30"),
            TypeError,
            r"angle: expected a tensor of shape \(2,\) or a number, received '30'",
        ),
        (
            lambda x: F.pad_crop(x, torch.zeros(2, 2), padding=1),
            TypeError,
            "offset: expected an integer dtype, received torch.float32",
        ),
        (
            lambda x: F.pad_crop(x, (0.5, 1), padding=1),
            TypeError,
            r"offset: expected a tensor of shape \(2, 2\) or a pair of ints, received \(0.5, 1\)",
        ),
        (
            lambda x: F.pad_crop(x, (0, 0), padding=-1),
            ValueError,
            "padding: expected an int >= 0, received -1",
        ),
        (
            lambda x: F.horizontal_flip(x, torch.tensor([1, 0])),
            TypeError,
            "flip: expected a bool dtype, received torch.int64",
        ),
        (
            lambda x: F.horizontal_flip(x, 1),
            TypeError,
            r"flip: expected a tensor of shape \(2,\) or a bool, received 1",
        ),
        (
            lambda x: F.adjust_gamma(x, torch.tensor([True, False])),
            TypeError,
            "gamma: expected a real dtype, received torch.bool",
        ),
        (
            lambda x: F.rotate(x, 0.0, interpolation="area"),
            ValueError,
            r"interpolation: expected one of \('nearest', 'bilinear', 'bicubic'\), received 'area'",
        ),
        (
            lambda x: F.affine(x, 0.0, (0.0, 0.0), 1.0, (0.0, 0.0), fill=2.0),
            ValueError,
            r"fill: expected a number in \[0.0, 1.0\], received 2.0",
        ),
        (
            lambda x: F.gaussian_blur(x, 1.0, kernel_size=4),
            ValueError,
            "kernel_size: expected an odd int >= 1, received 4",
        ),
        (
            lambda x: F.gaussian_blur(x, 1.0, kernel_size=None),
            TypeError,
            "kernel_size: expected an odd int, received None",
        ),
        (
            lambda x: F.background_intensity(x, 0.5, tolerance=torch.tensor(0.1)),
            TypeError,
            "tolerance: expected a number",
        ),
        (
            lambda x: F.adjust_saturation(x[:, :1], 0.5),
            ValueError,
            r"x: expected RGB images, a \(N, 3, H, W\) batch, received shape \(2, 1, 12, 10\)",
        ),
        (
            lambda x: F.dilate_or_erode(x, torch.tensor([0, 2]), True),
            ValueError,
            r"size: expected kernel sizes >= 1, received \[0, 2\]",
        ),
        (
            lambda x: F.dilate_or_erode(x, torch.tensor([1.0, 2.0]), True),
            TypeError,
            "size: expected an integer dtype, received torch.float32",
        ),
    ],
)
def test_bad_parameters_are_named_in_the_error(call, error, message):
    with pytest.raises(error, match=message):
        call(batch(n=2))


def test_functional_is_a_public_module_of_the_package():
    assert T.functional is F
    assert T.dilate_or_erode is F.dilate_or_erode
    assert set(F.__all__) == set(CASES)
    assert all(getattr(F, name).__doc__ and ">>>" in getattr(F, name).__doc__ for name in F.__all__)
