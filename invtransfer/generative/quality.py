"""How good a generator is for GIT: does it keep the class, and does it cover the nuisance?

A generator helps the tail only if its translations still show the class they came from
(`class_keeping`: a classifier's accuracy on translations of held-out images beside its
accuracy on the images themselves) and vary the nuisance about as much as the data does
(`nuisance_coverage`: the spread of a family's per-image statistic, such as the background
level or the ink mass, across style codes against its spread across the family's own draws on
the same images).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from invtransfer._images import ImageBatch
from invtransfer._seeding import generator_for
from invtransfer._validation import instance, positive_int
from invtransfer.generative.augment import LearnedNuisance
from invtransfer.generative.networks import MUNITGenerator
from invtransfer.transforms import TransformFamily

__all__ = ["ClassKeeping", "NuisanceCoverage", "class_keeping", "nuisance_coverage"]


@dataclass(frozen=True)
class ClassKeeping:
    """A classifier's accuracy on held-out images and on their translations."""

    accuracy_on_images: float
    accuracy_on_translations: float
    images: int
    """Held-out images translated."""
    translations: int
    """Translations classified (``styles`` per image)."""

    def to_dict(self) -> dict[str, float]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class NuisanceCoverage:
    """The spread of a nuisance statistic across style codes and across the family's draws.

    Each spread is the standard deviation of the statistic over one image's copies, averaged
    over the images; ``ratio`` is the generator's spread over the family's (1: the generator
    varies the nuisance as much as the family; near 0: it barely touches it).
    """

    family: str
    generator_spread: float
    family_spread: float
    images: int
    draws: int

    @property
    def ratio(self) -> float:
        """``generator_spread / family_spread``."""
        return self.generator_spread / self.family_spread

    def to_dict(self) -> dict[str, float | str]:
        """A JSON-ready copy, with the ratio."""
        return {**asdict(self), "ratio": self.ratio}


def class_keeping(
    classifier: nn.Module,
    generator: MUNITGenerator,
    images: Tensor,
    labels: Tensor,
    styles: int = 4,
    seed: int = 0,
    batch_size: int = 256,
) -> ClassKeeping:
    """The accuracy of ``classifier`` on ``images`` and on ``styles`` translations of each
    (random N(0, I) style codes drawn from ``seed``).

    Use held-out images and a classifier trained without the generator (the paper's CE+DRS),
    so that the translations are judged by a model that never saw them.

    Examples:
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
        >>> kept = class_keeping(classifier, generator, torch.rand(6, 1, 8, 8),
        ...                      torch.tensor([0, 0, 1, 1, 2, 2]), styles=2)
        >>> kept.images, kept.translations
        (6, 12)
    """
    instance("classifier", classifier, nn.Module)
    x = ImageBatch.from_user(images, "images").images
    positive_int("styles", styles)
    labels = instance("labels", labels, Tensor)
    if labels.shape != (len(x),) or labels.is_floating_point():
        raise ValueError(
            f"labels: expected {len(x)} integer class ids, shape ({len(x)},), received "
            f"{labels.dtype} of shape {tuple(labels.shape)}"
        )
    views = LearnedNuisance(generator).views(x, styles, generator_for(seed))
    on_images = _predictions(classifier, x, batch_size) == labels
    on_translations = _predictions(classifier, views.images, batch_size) == labels[views.source]
    return ClassKeeping(
        float(on_images.float().mean()), float(on_translations.float().mean()),
        len(x), len(views.images),
    )  # fmt: skip


def nuisance_coverage(
    generator: MUNITGenerator,
    family: TransformFamily,
    images: Tensor,
    clean_images: Tensor | None = None,
    draws: int = 8,
    seed: int = 0,
) -> NuisanceCoverage:
    """Compare the spread of ``family.statistic`` across ``draws`` style codes per image with
    its spread across ``draws`` of the family itself.

    The generator translates ``images`` as the data holds them; the family transforms
    ``clean_images``, the same images before their nuisance (``images`` when ``None``).

    Raises:
        ValueError: the family has no measurable statistic (its ``statistic_name`` is
            ``None``).

    Examples:
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> from invtransfer.transforms import Morphology
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> coverage = nuisance_coverage(generator, Morphology(), torch.rand(4, 1, 8, 8))
        >>> coverage.family, coverage.images, coverage.draws
        ('Morphology', 4, 8)
    """
    x = ImageBatch.from_user(images, "images").images
    clean = x if clean_images is None else ImageBatch.from_user(clean_images, "clean_images").images
    if clean.shape != x.shape:
        raise ValueError(
            f"clean_images: expected the shape of images {tuple(x.shape)}, received "
            f"{tuple(clean.shape)}"
        )
    positive_int("draws", draws)
    if family.statistic_name is None:
        raise ValueError(
            f"family: expected a family with a measurable statistic (statistic_name), "
            f"received {type(family).__name__}, which has none"
        )
    translated = LearnedNuisance(generator).views(x, draws, generator_for(seed, 0)).images
    drawn = family.views(clean, draws, generator_for(seed, 1)).images
    return NuisanceCoverage(
        type(family).__name__,
        _spread(family.statistic(translated), draws), _spread(family.statistic(drawn), draws),
        len(x), draws,
    )  # fmt: skip


def _spread(values: Tensor, draws: int) -> float:
    """The mean over images of the standard deviation across an image's ``draws`` views."""
    return float(values.double().view(-1, draws).std(dim=1, correction=0).mean())


def _predictions(classifier: nn.Module, images: Tensor, batch_size: int) -> Tensor:
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    with torch.no_grad():
        out = [classifier(chunk.to(device)).argmax(1).cpu() for chunk in images.split(batch_size)]
    classifier.train(was_training)
    return torch.cat(out)
