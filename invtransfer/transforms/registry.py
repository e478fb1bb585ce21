"""Transform families by name, for configs and command lines: ``family_by_name("rotation",
degrees=15)``."""

from __future__ import annotations

from typing import Any

from invtransfer._validation import known_name
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.geometric import Affine, HorizontalFlip, RandomCrop, Rotation
from invtransfer.transforms.morphology import Morphology
from invtransfer.transforms.photometric import (
    BackgroundIntensity,
    Brightness,
    Contrast,
    Gamma,
    GaussianBlur,
    Saturation,
)

__all__ = ["FAMILIES", "family_by_name"]

FAMILIES: dict[str, type[TransformFamily]] = {
    "affine": Affine,
    "background_intensity": BackgroundIntensity,
    "brightness": Brightness,
    "contrast": Contrast,
    "gamma": Gamma,
    "gaussian_blur": GaussianBlur,
    "horizontal_flip": HorizontalFlip,
    "morphology": Morphology,
    "random_crop": RandomCrop,
    "rotation": Rotation,
    "saturation": Saturation,
}
"""The families a config can name; their keyword arguments set the ranges."""


def family_by_name(name: str, **options: Any) -> TransformFamily:
    """The family called ``name``, made with ``options`` (its ranges).

    Examples:
        >>> family_by_name("rotation", degrees=15)
        Rotation(degrees=(-15.0, 15.0), interpolation='bilinear', fill=0.0)
        >>> family_by_name("rotate")
        Traceback (most recent call last):
        ...
        ValueError: family: expected one of [...], received 'rotate'; close matches: ['rotation']
    """
    known_name("family", name, FAMILIES)
    try:
        return FAMILIES[name](**options)
    except TypeError as error:
        raise TypeError(f"family {name!r}: {error}") from None
