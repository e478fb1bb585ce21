"""The losses of single-domain MUNIT training: adversarial (LSGAN or hinge) and L1 terms."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["discriminator_loss", "generator_adversarial_loss", "l1"]


def l1(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute difference."""
    return (a - b).abs().mean()


def discriminator_loss(real: list[Tensor], fake: list[Tensor], kind: str = "lsgan") -> Tensor:
    """The discriminator's loss, summed over scales: real patches toward 1, fakes toward 0
    (LSGAN), or the hinge loss with margins at +-1.

    Examples:
        >>> import torch
        >>> discriminator_loss([torch.ones(2, 1, 3, 3)], [torch.zeros(2, 1, 3, 3)]).item()
        0.0
    """
    if kind == "lsgan":
        terms = [((r - 1) ** 2).mean() + (f**2).mean() for r, f in zip(real, fake, strict=True)]
    else:
        terms = [
            F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake, strict=True)
        ]
    return sum(terms[1:], terms[0])


def generator_adversarial_loss(fake: list[Tensor], kind: str = "lsgan") -> Tensor:
    """The generator's adversarial loss, summed over scales: fakes toward 1 (LSGAN), or the
    negated mean score (hinge).

    Examples:
        >>> import torch
        >>> generator_adversarial_loss([torch.ones(2, 1, 3, 3)]).item()
        0.0
    """
    terms = [((f - 1) ** 2).mean() if kind == "lsgan" else -f.mean() for f in fake]
    return sum(terms[1:], terms[0])
