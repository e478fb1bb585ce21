"""Photometric families against torchvision's functional ops and the paper's BG recipe."""

from __future__ import annotations

import pytest
import torch
from conftest import images, seeded
from scipy.stats import chisquare
from torchvision.transforms.v2 import functional as TF

from invtransfer.transforms import (
    BackgroundIntensity,
    Brightness,
    Contrast,
    Gamma,
    GaussianBlur,
    Params,
    Saturation,
)


def test_background_recipe_sets_exact_zeros_to_one_value_in_0_99():
    x = torch.zeros(500, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 10:18, 10:18] = 200
    x[:, :, 5, 5] = 1  # not exactly background: left alone
    out = BackgroundIntensity()(x, generator=seeded())
    corner = out[:, 0, 0, 0]
    assert (out[:, :, 10:18, 10:18] == 200).all() and (out[:, :, 5, 5] == 1).all()
    assert (out[:, 0, :3, :3] == corner[:, None, None]).all()
    assert corner.min() >= 0 and corner.max() <= 99
    assert len(corner.unique()) > 80


def background_levels(family: BackgroundIntensity, n: int = 100_000) -> torch.Tensor:
    """How often each uint8 level 0..99 fills an all-background pixel over ``n`` seeded draws."""
    out = family(torch.zeros(n, 1, 1, 1, dtype=torch.uint8), generator=seeded())
    return torch.bincount(out.flatten().long(), minlength=100)


def test_background_draws_whole_levels_0_to_99_uniformly():
    # the paper's randint(0, 100): every level equally likely
    drawn = BackgroundIntensity().sample(100_000, generator=seeded()).intensity
    levels = drawn * 255
    assert torch.equal(levels.round() / 255, drawn)  # exact multiples of 1/255
    assert levels.round().unique().tolist() == list(range(100))
    counts = background_levels(BackgroundIntensity())
    assert len(counts) == 100 and counts.sum() == 100_000
    uniform = chisquare(counts.numpy())
    print(f"whole levels: chi2 = {uniform.statistic:.1f}, p = {uniform.pvalue:.3f}")
    assert uniform.pvalue > 1e-3  # 0.182 for this seed


def test_a_continuous_background_draw_halves_the_end_levels():
    # levels=None (the former draw) rounded to uint8: levels 0 and 99 get half a step each
    counts = background_levels(BackgroundIntensity(levels=None))
    assert chisquare(counts.numpy()).pvalue < 1e-6
    middle = counts[1:99].double().mean()
    assert (counts[[0, 99]] / middle).tolist() == pytest.approx([0.5, 0.5], abs=0.1)
    half_ends = torch.ones(100, dtype=torch.float64)
    half_ends[[0, 99]] = 0.5
    expected = (half_ends / half_ends.sum() * counts.sum()).numpy()
    assert chisquare(counts.numpy(), expected).pvalue > 1e-3


def test_background_levels_other_than_255():
    drawn = BackgroundIntensity((0.1, 0.5), levels=10).sample(1000, generator=seeded())
    assert (drawn.intensity * 10).round().unique().tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match=r"levels: expected a multiple of 1/4 within"):
        BackgroundIntensity(intensity=(0.1, 0.2), levels=4)
    with pytest.raises(ValueError, match="levels: expected an int >= 1, received 0"):
        BackgroundIntensity(levels=0)


def test_background_needs_every_channel_to_match():
    x = torch.zeros(1, 3, 2, 2)
    x[0, 1, 0, 0] = 0.5  # one channel off background
    out = BackgroundIntensity().apply(x, Params(intensity=torch.tensor([0.2])))
    assert out[0, :, 0, 0].tolist() == [0.0, 0.5, 0.0]
    assert out[0, :, 1, 1].tolist() == pytest.approx([0.2] * 3)


@pytest.mark.parametrize(
    ("family", "field", "reference"),
    [
        (Brightness(), "factor", TF.adjust_brightness),
        (Contrast(), "factor", TF.adjust_contrast),
        (Saturation(), "factor", TF.adjust_saturation),
        (Gamma(), "gamma", TF.adjust_gamma),
    ],
)
def test_matches_torchvision_functional(family, field, reference):
    x = images(3, 3, 10)
    values = [0.5, 1.0, 1.3]
    out = family.apply(x, Params(**{field: torch.tensor(values)}))
    expected = torch.stack([reference(img, v) for img, v in zip(x, values, strict=True)])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_contrast_of_grey_images_uses_the_channel_mean():
    x = images(2, 1, 10)
    out = Contrast().apply(x, Params(factor=torch.tensor([0.0, 0.0])))
    torch.testing.assert_close(out, x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x))


def test_blur_matches_torchvision_gaussian_blur():
    x = images(2, 3, 16)
    sigmas = [0.7, 1.4]
    out = GaussianBlur(sigma=(0.1, 1.5), kernel_size=9).apply(x, Params(sigma=torch.tensor(sigmas)))
    expected = torch.stack(
        [TF.gaussian_blur(img, [9, 9], [s, s]) for img, s in zip(x, sigmas, strict=True)]
    )
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_blur_preserves_total_intensity_away_from_borders():
    x = torch.zeros(1, 1, 21, 21)
    x[0, 0, 10, 10] = 1.0
    out = GaussianBlur().apply(x, Params(sigma=torch.tensor([1.0])))
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert out[0, 0, 10, 10] < 0.2


def test_blur_works_on_tiny_images():
    out = GaussianBlur(sigma=(2.0, 3.0))(torch.rand(2, 1, 3, 3), generator=seeded())
    assert out.shape == (2, 1, 3, 3)


def test_saturation_refuses_grey_images():
    with pytest.raises(ValueError, match=r"Saturation expects images with 3 channels, received 1"):
        Saturation()(torch.rand(2, 1, 8, 8))
