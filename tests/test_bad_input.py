"""Bad input gets a ValueError or TypeError that names the argument, expectation and value."""

from __future__ import annotations

import pytest
import torch
from conftest import seeded

from invtransfer.transforms import (
    Affine,
    BackgroundIntensity,
    GaussianBlur,
    Morphology,
    RandomApply,
    Rotation,
)


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (
            torch.rand(8, 8),
            ValueError,
            r"x: expected an image \(C, H, W\).*received shape \(8, 8\)",
        ),
        (torch.rand(1, 1, 1, 8, 8), ValueError, "received shape"),
        (torch.rand(0, 1, 8, 8), ValueError, "non-empty image batch"),
        (torch.rand(2, 0, 8, 8), ValueError, "non-empty image batch"),
        (torch.rand(2, 1, 8, 8) * 2, ValueError, r"float values in \[0, 1\].*received values"),
        (torch.full((1, 1, 2, 2), float("nan")), ValueError, r"float values in \[0, 1\]"),
        (torch.zeros(1, 1, 4, 4, dtype=torch.int32), TypeError, "dtype torch.int32"),
        ([[0.0]], TypeError, "received list"),
    ],
)
def test_bad_images(x, error, message):
    with pytest.raises(error, match=message):
        Rotation()(x)


def test_small_rounding_error_outside_unit_range_is_accepted():
    Rotation()(torch.full((1, 1, 4, 4), 1.0 + 1e-5))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Rotation(degrees=(30, -30)), r"degrees: expected low <= high, received reversed"),
        (lambda: Rotation(degrees=-5), "degrees: expected a non-negative number"),
        (lambda: Rotation(interpolation="area"), "interpolation: expected one of"),
        (lambda: Rotation(fill=2.0), r"fill: expected a number in \[0.0, 1.0\], received 2.0"),
        (lambda: Affine(scale=(0.0, 1.0)), "scale: expected a range inside"),
        (lambda: Affine(shear=(0, 90)), "shear: expected a range inside"),
        (lambda: BackgroundIntensity(intensity=(0.0, 1.5)), "intensity: expected a range inside"),
        (lambda: BackgroundIntensity(intensity=0.3), r"intensity: expected a \(low, high\) pair"),
        (lambda: Morphology(dilate_p=1.5), "dilate_p"),
        (lambda: Morphology(dilate_sizes=(0, 2)), "dilate_sizes: expected a non-empty sequence"),
        (lambda: Morphology(erode_sizes=()), "erode_sizes"),
        (lambda: GaussianBlur(kernel_size=4), "kernel_size: expected an odd int"),
        (lambda: RandomApply(Rotation(), p=-0.1), "p: expected a number in"),
        (lambda: Rotation(degrees=(0, float("inf"))), "degrees: expected finite bounds"),
    ],
)
def test_bad_ranges(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_bad_sample_arguments():
    family = Rotation()
    with pytest.raises(ValueError, match="n: expected a positive int, received 0"):
        family.sample(0)
    with pytest.raises(TypeError, match=r"generator: expected a torch\.Generator"):
        family.sample(2, generator=0)
    with pytest.raises(ValueError, match="generator: expected a generator on meta"):
        family.sample(2, generator=seeded(), device="meta")


def test_generator_on_another_device_than_the_images():
    images = torch.zeros(2, 1, 4, 4, dtype=torch.uint8, device="meta")
    with pytest.raises(ValueError, match=r"generator: expected a generator on meta.*on cpu"):
        Rotation()(images, generator=seeded())


def test_bad_views_and_params():
    family = Rotation()
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="k: expected a positive int number of views, received 0"):
        family.views(x, 0)
    with pytest.raises(ValueError, match="params: expected parameters for 2 images, received 3"):
        family.apply(x, family.sample(3))
    with pytest.raises(TypeError, match="params: expected Params, received dict"):
        family.apply(x, {"angle": torch.zeros(2)})
