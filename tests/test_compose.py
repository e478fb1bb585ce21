"""Compose, RandomChoice and RandomApply: nesting, selection, and draws that do not shift."""

from __future__ import annotations

import pytest
import torch
from conftest import images, seeded

from invtransfer.transforms import (
    BackgroundIntensity,
    Brightness,
    Compose,
    Contrast,
    Gamma,
    Morphology,
    Params,
    RandomApply,
    RandomChoice,
    Rotation,
    Saturation,
)


def test_compose_applies_in_order():
    family = Compose([Brightness(), BackgroundIntensity()])
    x = torch.zeros(1, 1, 4, 4)
    x[..., 1, 1] = 0.5
    params = Params(
        **{"0": Params(factor=torch.tensor([2.0])), "1": Params(intensity=torch.tensor([0.3]))}
    )
    out = family.apply(x, params)
    assert out[0, 0, 1, 1].item() == pytest.approx(1.0)
    assert out[0, 0, 0, 0].item() == pytest.approx(0.3)


def test_random_apply_draws_do_not_depend_on_p():
    low, high = RandomApply(Rotation(), p=0.1), RandomApply(Rotation(), p=0.9)
    a, b = low.sample(50, generator=seeded()), high.sample(50, generator=seeded())
    assert torch.equal(a.family.angle, b.family.angle)
    assert a.applied.sum() < b.applied.sum()
    assert (a.applied <= b.applied).all()  # one uniform per image, thresholded at p


def test_random_apply_leaves_unselected_images_alone():
    x = images(4, 1)
    params = Params(
        applied=torch.tensor([True, False, True, False]),
        family=Params(angle=torch.full((4,), 90.0)),
    )
    out = RandomApply(Rotation(interpolation="nearest")).apply(x, params)
    assert torch.equal(out[1], x[1]) and torch.equal(out[3], x[3])
    assert torch.equal(out[0], torch.rot90(x[0], 1, dims=(1, 2)))


def test_random_apply_probability_is_respected():
    applied = RandomApply(Brightness(), p=0.3).sample(20_000, generator=seeded()).applied
    assert abs(applied.float().mean().item() - 0.3) < 0.015


def test_random_choice_uses_each_family_on_its_own_rows():
    family = RandomChoice([Brightness(), BackgroundIntensity()])
    x = torch.full((2, 1, 3, 3), 0.5)
    x[..., 0, 0] = 0.0
    params = Params(
        choice=torch.tensor([0, 1]),
        **{
            "0": Params(factor=torch.tensor([2.0, 2.0])),
            "1": Params(intensity=torch.tensor([0.25, 0.25])),
        },
    )
    out = family.apply(x, params)
    assert out[0, 0, 1, 1].item() == pytest.approx(1.0) and out[0, 0, 0, 0].item() == 0.0
    assert out[1, 0, 1, 1].item() == 0.5 and out[1, 0, 0, 0].item() == pytest.approx(0.25)


def test_random_choice_frequencies_follow_weights():
    family = RandomChoice([Brightness(), Rotation(), Morphology()], p=[1, 2, 5])
    choice = family.sample(40_000, generator=seeded()).choice
    frequencies = torch.bincount(choice, minlength=3).float() / len(choice)
    torch.testing.assert_close(frequencies, torch.tensor([1, 2, 5]) / 8, atol=0.01, rtol=0)


def test_composites_check_every_child_for_channels():
    with pytest.raises(ValueError, match="3 channels"):
        Compose([Rotation(), Saturation()])(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="3 channels"):
        RandomApply(Saturation())(torch.rand(1, 1, 8, 8))


def test_composites_are_geometric_when_a_child_is():
    assert Compose([Brightness(), Rotation()]).geometric
    assert not RandomChoice([Brightness(), Morphology()]).geometric
    assert RandomApply(Rotation()).geometric


def test_composites_reject_non_families():
    with pytest.raises(TypeError, match="from_torchvision"):
        Compose([Rotation(), torch.nn.Identity()])
    with pytest.raises(ValueError, match="at least one"):
        RandomChoice([])
    with pytest.raises(ValueError, match="p: expected 2 non-negative weights"):
        RandomChoice([Rotation(), Brightness()], p=[1.0])
    with pytest.raises(ValueError, match="positive sum"):
        RandomChoice([Rotation(), Brightness()], p=[0.0, 0.0])


def test_compose_hands_every_step_images_in_the_unit_range():
    # Contrast 1.4 pushes dark pixels below 0; a fractional gamma of a negative value is NaN
    family = Compose([Contrast(), Gamma()])
    params = Params(
        **{"0": Params(factor=torch.full((4,), 1.4)), "1": Params(gamma=torch.full((4,), 0.7))}
    )
    x = torch.rand(4, 3, 8, 8, generator=seeded())
    y = family.apply(x, params)
    expected = Gamma().apply(Contrast().apply(x, params["0"]), params["1"])
    assert torch.isfinite(y).all() and torch.equal(y, expected)
