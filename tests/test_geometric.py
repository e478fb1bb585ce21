"""Rotation, Affine, RandomCrop and HorizontalFlip against torchvision and exact cases."""

from __future__ import annotations

import pytest
import torch
from conftest import images, seeded
from torchvision.transforms.v2 import functional as TF

from invtransfer.transforms import Affine, HorizontalFlip, Params, RandomCrop, Rotation


def affine_params(angle=0.0, translate=(0.0, 0.0), scale=1.0, shear=(0.0, 0.0)) -> Params:
    return Params(
        angle=torch.tensor([angle]),
        translate=torch.tensor([translate]),
        scale=torch.tensor([scale]),
        shear=torch.tensor([shear]),
    )


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 16, 24)])
def test_rotation_matches_torchvision_rotate_per_sample(interpolation, shape):
    x = torch.rand(3, *shape, generator=seeded())
    angles = [90.0, -35.0, 170.0]
    ours = Rotation(interpolation=interpolation).apply(x, Params(angle=torch.tensor(angles)))
    mode = TF.InterpolationMode(interpolation)
    theirs = torch.stack(
        [TF.rotate(img, a, interpolation=mode) for img, a in zip(x, angles, strict=True)]
    )
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_quarter_turn_is_counter_clockwise_and_exact():
    x = torch.rand(2, 1, 9, 9, generator=seeded())
    out = Rotation(interpolation="nearest").apply(x, Params(angle=torch.tensor([90.0, -90.0])))
    assert torch.equal(out[0], torch.rot90(x[0], 1, dims=(1, 2)))
    assert torch.equal(out[1], torch.rot90(x[1], -1, dims=(1, 2)))


def test_rotation_fills_corners_with_fill_value():
    x = torch.zeros(1, 1, 16, 16)
    out = Rotation(fill=0.25).apply(x, Params(angle=torch.tensor([45.0])))
    assert out[0, 0, 0, 0] == pytest.approx(0.25, abs=1e-5)
    assert out[0, 0, 8, 8] == pytest.approx(0.0, abs=1e-5)


def test_affine_rotation_equals_rotation():
    x = images(1, 3, 16)
    rotated = Rotation().apply(x, Params(angle=torch.tensor([33.0])))
    torch.testing.assert_close(Affine().apply(x, affine_params(angle=33.0)), rotated)


def test_affine_translation_is_a_fraction_of_the_image_size():
    x = images(1, 1, 16)
    out = Affine(interpolation="nearest").apply(x, affine_params(translate=(0.25, -0.125)))
    assert torch.equal(out[..., :-2, 4:], x[..., 2:, :-4])
    assert torch.equal(out[..., -2:, :], torch.zeros_like(out[..., -2:, :]))


def test_affine_scale_two_magnifies_about_the_centre():
    x = torch.zeros(1, 1, 16, 16)
    x[..., 6:10, 6:10] = 1.0
    out = Affine(interpolation="nearest").apply(x, affine_params(scale=2.0))
    assert torch.equal(out[0, 0].nonzero().amin(0), torch.tensor([4, 4]))
    assert torch.equal(out[0, 0].nonzero().amax(0), torch.tensor([11, 11]))


def test_affine_shear_moves_rows_by_tangent_times_height():
    x = torch.zeros(1, 1, 9, 9)
    x[..., :, 4] = 1.0  # a vertical line through the centre
    out = Affine(interpolation="nearest").apply(x, affine_params(shear=(45.0, 0.0)))
    columns = out[0, 0].argmax(dim=1)
    assert columns.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8]


def test_horizontal_flip_mirrors_only_flagged_images():
    x = images(2, 3, 8)
    out = HorizontalFlip().apply(x, Params(flip=torch.tensor([True, False])))
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])


def test_flip_probability_is_respected():
    flips = HorizontalFlip(p=0.2).sample(20_000, generator=seeded()).flip
    assert abs(flips.float().mean().item() - 0.2) < 0.015


def test_random_crop_matches_torchvision_pad_then_crop_at_each_offset():
    x = images(3, 3, 8)
    offsets = torch.tensor([[0, 0], [4, 1], [8, 8]])
    out = RandomCrop(padding=4, fill=0.25).apply(x, Params(offset=offsets))
    padded = TF.pad(x, [4], fill=0.25)
    for i, (top, left) in enumerate(offsets.tolist()):
        assert torch.equal(out[i], TF.crop(padded[i], top, left, 8, 8))


def test_random_crop_offsets_cover_every_shift_uniformly():
    offsets = RandomCrop(padding=2).sample(50_000, generator=seeded()).offset
    shares = torch.bincount(offsets.flatten(), minlength=5) / offsets.numel()
    assert (shares - 1 / 5).abs().max() < 0.01
    with pytest.raises(ValueError, match="padding: expected an int >= 0, received -1"):
        RandomCrop(padding=-1)


def test_rotation_angles_cover_the_range_uniformly():
    angles = Rotation(degrees=(-180, 180)).sample(50_000, generator=seeded()).angle
    assert angles.min() >= -180 and angles.max() <= 180
    counts = torch.histc(angles, bins=8, min=-180, max=180)
    assert (counts / len(angles) - 1 / 8).abs().max() < 0.01


def test_number_degrees_means_symmetric_range():
    assert Rotation(degrees=30).degrees == (-30.0, 30.0)
    assert Affine(translate=0.1).translate == (-0.1, 0.1)
