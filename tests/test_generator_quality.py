"""How good a generator is for GIT: class keeping and nuisance coverage against computations
by hand, the families' nuisance statistics, and families by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from invtransfer._seeding import generator_for
from invtransfer.data import Glyphs
from invtransfer.generative import (
    LearnedNuisance,
    MUNITGenerator,
    class_keeping,
    nuisance_coverage,
    preset,
)
from invtransfer.transforms import (
    FAMILIES,
    BackgroundIntensity,
    Brightness,
    Contrast,
    Morphology,
    Params,
    Rotation,
    family_by_name,
)

LEVELS = (0.15, 0.5, 0.85)
"""The mean intensity of each class of `level_images`."""


class NearestLevel(nn.Module):
    """A judge that calls an image the class whose level is nearest its mean intensity."""

    def __init__(self) -> None:
        super().__init__()
        self.levels = nn.Parameter(torch.tensor(LEVELS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -(x.mean(dim=(1, 2, 3))[:, None] - self.levels).square()


def level_images(per_class: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 grey images, class c filled with ``LEVELS[c]`` plus a little noise."""
    labels = torch.arange(len(LEVELS)).repeat_interleave(per_class)
    noise = 0.05 * torch.rand(len(labels), 1, 8, 8, generator=generator_for(seed)) - 0.025
    return torch.tensor(LEVELS)[labels, None, None, None] + noise, labels


def tiny_generator(size: int = 8, seed: int = 0) -> MUNITGenerator:
    return MUNITGenerator(preset("tiny", image_size=size, channels=1), seed=seed)


def glyphs(n: int = 6) -> torch.Tensor:
    """``n`` uint8 glyphs (1, 28, 28) on an exactly-zero background."""
    return Glyphs(num_classes=3, per_class=2).images[:n]


def spread_by_hand(measured, views) -> float:
    """The mean over images of the population standard deviation of ``measured.statistic``
    across each image's ``views`` (grouped by their source)."""
    values = measured.statistic(views.images).double()
    sources = views.source.unique().tolist()
    return float(np.mean([values[views.source == i].numpy().std() for i in sources]))


# class keeping


def test_class_keeping_against_the_judge_by_hand():
    images, labels = level_images()
    judge, generator = NearestLevel().train(), tiny_generator()
    assert (judge(images).argmax(1) == labels).all()  # perfect on the images
    kept = class_keeping(judge, generator, images, labels, styles=3, seed=5)
    views = LearnedNuisance(generator).views(images, 3, generator_for(5))
    on_translations = judge(views.images).argmax(1) == labels[views.source]
    assert kept.accuracy_on_images == 1.0
    assert kept.accuracy_on_translations == float(on_translations.float().mean())
    assert (kept.images, kept.translations) == (12, 36)
    assert kept.to_dict() == {
        "accuracy_on_images": 1.0,
        "accuracy_on_translations": kept.accuracy_on_translations,
        "images": 12,
        "translations": 36,
    }
    assert judge.training  # the judge is put back in the mode it was in
    again = class_keeping(judge, generator, (images * 255).round().byte(), labels, 3, seed=5)
    assert again.accuracy_on_images == 1.0 and again.translations == 36


def test_class_keeping_refuses_labels_that_do_not_fit():
    images, labels = level_images()
    judge, generator = NearestLevel(), tiny_generator()
    with pytest.raises(ValueError, match=r"labels: expected 12 integer class ids.*\(11,\)"):
        class_keeping(judge, generator, images, labels[:11])
    with pytest.raises(ValueError, match=r"labels: expected 12 integer .*torch.float32"):
        class_keeping(judge, generator, images, labels.float())
    with pytest.raises(ValueError, match="styles: expected"):
        class_keeping(judge, generator, images, labels, styles=0)


# nuisance coverage


def test_morphology_coverage_against_the_spreads_by_hand():
    x, generator, family = glyphs(), tiny_generator(28), Morphology()
    coverage = nuisance_coverage(generator, family, x, draws=5, seed=3)
    family_spread = spread_by_hand(family, family.views(x, 5, generator_for(3, 1)))
    # the translations are measured as floats, before any rounding to uint8
    translations = LearnedNuisance(generator).views(x.float() / 255, 5, generator_for(3, 0))
    generator_spread = spread_by_hand(family, translations)
    assert coverage.family_spread == pytest.approx(family_spread, rel=1e-9)
    assert coverage.generator_spread == pytest.approx(generator_spread, rel=1e-9)
    assert family_spread > 0 and generator_spread > 0
    assert (coverage.family, coverage.images, coverage.draws) == ("Morphology", 6, 5)
    assert coverage.ratio == coverage.generator_spread / coverage.family_spread
    assert coverage.to_dict()["ratio"] == coverage.ratio


def test_background_coverage_draws_the_family_on_the_clean_images():
    clean = glyphs()
    family = BackgroundIntensity()
    with_nuisance = family.apply(clean, Params(intensity=torch.full((6,), 40 / 255)))
    coverage = nuisance_coverage(tiny_generator(28), family, with_nuisance, clean, draws=4)
    # the family's draws on the clean glyphs: the median pixel is the drawn level
    levels = family.views(clean, 4, generator_for(0, 1)).params.intensity.double()
    by_hand = levels.view(6, 4).numpy().std(axis=1).mean()
    assert coverage.family_spread == pytest.approx(by_hand, abs=1e-7)
    assert coverage.family_spread == pytest.approx(
        spread_by_hand(family, family.views(clean, 4, generator_for(0, 1))), rel=1e-9
    )
    # without clean images the family would draw on the images with their nuisance, whose
    # background (40/255) is no longer the family's background (0): nothing changes
    assert nuisance_coverage(tiny_generator(28), family, with_nuisance, draws=4).family_spread == 0


def test_coverage_refuses_families_without_a_statistic_and_mismatched_clean_images():
    x, generator = glyphs(), tiny_generator(28)
    with pytest.raises(ValueError, match=r"family: expected a family with a measurable .*Rotation"):
        nuisance_coverage(generator, Rotation(), x)
    with pytest.raises(ValueError, match=r"clean_images: expected the shape of images"):
        nuisance_coverage(generator, Morphology(), x, x[:5])
    with pytest.raises(ValueError, match="draws: expected"):
        nuisance_coverage(generator, Morphology(), x, draws=0)


# the families' statistics


def test_the_background_statistic_is_the_background_level():
    x = glyphs(3)
    assert ((x == 0).flatten(1).float().mean(1) > 0.5).all()  # mostly background
    level = BackgroundIntensity().apply(x, Params(intensity=torch.full((3,), 40 / 255)))
    assert level.dtype == torch.uint8 and (level[:, :, 0, 0] == 40).all()
    expected = torch.full((3,), 40.0) / 255
    assert torch.equal(BackgroundIntensity().statistic(level), expected)  # uint8 input
    assert torch.equal(BackgroundIntensity().statistic(level.float() / 255), expected)


def test_mean_and_spread_statistics():
    x = torch.rand(4, 3, 6, 6, generator=generator_for(0))
    means = x.double().numpy().mean(axis=(1, 2, 3))
    for family in (Morphology(), Brightness()):
        assert family.statistic(x).tolist() == pytest.approx(means.tolist(), rel=1e-6)
    spreads = x.double().numpy().reshape(4, -1).std(axis=1)  # population (ddof 0)
    assert Contrast().statistic(x).tolist() == pytest.approx(spreads.tolist(), rel=1e-5)
    half = torch.zeros(1, 1, 2, 2)
    half[..., 0] = 1.0
    assert Contrast().statistic(half).tolist() == [0.5]  # the sample std would be 0.577
    assert Brightness().statistic((half * 255).byte()).tolist() == [0.5]
    assert Contrast().statistic(half[0]).shape == (1,)  # a single (C, H, W) image


def test_only_four_families_have_a_statistic():
    measured = {name for name, family in FAMILIES.items() if family.statistic_name is not None}
    assert measured == {"background_intensity", "brightness", "contrast", "morphology"}
    with pytest.raises(ValueError, match="Rotation has no measurable statistic"):
        Rotation().statistic(torch.rand(1, 1, 4, 4))


# families by name


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_builds_by_name_with_its_defaults(name):
    family = family_by_name(name)
    assert type(family) is FAMILIES[name]
    assert repr(family) == repr(FAMILIES[name]())


def test_family_by_name_takes_options_and_refuses_bad_names_and_options():
    assert family_by_name("brightness", factor=[0.5, 1.5]).range == (0.5, 1.5)
    assert family_by_name("rotation", degrees=15).degrees == (-15.0, 15.0)
    with pytest.raises(ValueError, match=r"received 'brightnes'; close matches: \['brightness'\]"):
        family_by_name("brightnes")
    with pytest.raises(ValueError, match=r"family: expected one of \['affine'.*received 'zoom'$"):
        family_by_name("zoom")
    with pytest.raises(TypeError, match=r"family 'rotation': .*'angle'"):
        family_by_name("rotation", angle=15)
