"""The losses of single-domain MUNIT training: `MUNITObjectives` for any training loop, over
the functional terms (adversarial, LSGAN or hinge, and L1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invtransfer.generative.config import LossWeights, MUNITConfig
from invtransfer.generative.networks import MUNITGenerator, check_images

__all__ = ["MUNITObjectives", "discriminator_loss", "generator_adversarial_loss", "l1"]


@dataclass(frozen=True)
class MUNITObjectives:
    """The discriminator's loss and the generator's losses of single-domain MUNIT, for a batch
    of real images and a batch of style codes: what `MUNITTrainer` optimises, for your own
    loop (Lightning with manual optimisation, Accelerate, plain PyTorch).

    ``real`` is a float ``(N, C, H, W)`` batch in **[-1, 1]** (``images * 2 - 1`` for images in
    [0, 1]), of the shape ``config`` was built for; ``styles`` is ``(N, style_dim)``, usually
    N(0, I) draws, on the same device. Shapes and dtypes are checked; the value range is not
    (that would wait for the device on every step), so images in [0, 1] train a generator that
    never makes dark pixels. Call ``discriminator_loss`` and ``generator_losses`` with fresh
    style codes each, as MUNIT does.

    A plain frozen dataclass rather than an ``nn.Module``: it holds no parameters or buffers,
    so there is nothing to move to a device or to save, and it copies, pickles and compares by
    value (a LightningModule can keep it as an attribute without an empty submodule).

    Args:
        config: the architecture; its ``gan_loss`` (``"lsgan"`` or ``"hinge"``) picks the
            adversarial terms, and its image shape and ``style_dim`` are checked.
        weights: the generator's loss weights; a zero ``cycle`` weight skips that term.

    Examples:
        Your own loop: one discriminator step, then one generator step.

        >>> import torch
        >>> from invtransfer.generative import MUNITDiscriminator, MUNITGenerator, preset
        >>> config = preset("tiny", image_size=28, channels=1)
        >>> generator, discriminator = MUNITGenerator(config), MUNITDiscriminator(config)
        >>> g_opt = torch.optim.Adam(generator.parameters(), 1e-4, (0.5, 0.999))
        >>> d_opt = torch.optim.Adam(discriminator.parameters(), 1e-4, (0.5, 0.999))
        >>> objectives = MUNITObjectives(config)
        >>> draw = torch.Generator().manual_seed(0)
        >>> real = torch.rand(4, 1, 28, 28, generator=draw) * 2 - 1  # images in [-1, 1]
        >>> d_loss = objectives.discriminator_loss(
        ...     generator, discriminator, real, torch.randn(4, config.style_dim, generator=draw))
        >>> d_opt.zero_grad(); d_loss.backward(); d_opt.step()
        >>> losses = objectives.generator_losses(
        ...     generator, discriminator, real, torch.randn(4, config.style_dim, generator=draw))
        >>> g_opt.zero_grad(); objectives.total(losses).backward(); g_opt.step()
        >>> sorted(losses)
        ['adversarial', 'content', 'image', 'style']
    """

    config: MUNITConfig
    weights: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        for name, kind in (("config", MUNITConfig), ("weights", LossWeights)):
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise TypeError(
                    f"{name}: expected a {kind.__name__}, received {type(value).__name__}"
                )

    def discriminator_loss(
        self, generator: MUNITGenerator, discriminator: nn.Module, real: Tensor, styles: Tensor
    ) -> Tensor:
        """The discriminator's loss on ``real`` and on their translations under ``styles``
        (made under ``no_grad``: the loss reaches the discriminator's weights only).

        Examples:
            >>> import torch
            >>> from invtransfer.generative import MUNITDiscriminator, MUNITGenerator, preset
            >>> config = preset("tiny", image_size=8, channels=1)
            >>> generator, discriminator = MUNITGenerator(config), MUNITDiscriminator(config)
            >>> loss = MUNITObjectives(config).discriminator_loss(
            ...     generator, discriminator, torch.zeros(2, 1, 8, 8), torch.zeros(2, 4))
            >>> loss.shape, loss.requires_grad
            (torch.Size([]), True)
        """
        self._check(real, styles)
        with torch.no_grad():
            fake = generator(real, styles)
        return discriminator_loss(discriminator(real), discriminator(fake), self.config.gan_loss)

    def generator_losses(
        self, generator: MUNITGenerator, discriminator: nn.Module, real: Tensor, styles: Tensor
    ) -> dict[str, Tensor]:
        """The generator's unweighted losses: ``image``, ``style``, ``content``,
        ``adversarial``, and ``cycle`` when its weight is not zero (see `LossWeights`).

        The discriminator judges the translations with its parameters' ``requires_grad``
        switched off (restored afterwards), so ``backward`` leaves its gradients alone.

        Examples:
            >>> import torch
            >>> from invtransfer.generative import (LossWeights, MUNITDiscriminator,
            ...                                     MUNITGenerator, preset)
            >>> config = preset("tiny", image_size=8, channels=1)
            >>> generator, discriminator = MUNITGenerator(config), MUNITDiscriminator(config)
            >>> objectives = MUNITObjectives(config, LossWeights(cycle=10))
            >>> losses = objectives.generator_losses(
            ...     generator, discriminator, torch.zeros(2, 1, 8, 8), torch.zeros(2, 4))
            >>> list(losses)
            ['image', 'style', 'content', 'adversarial', 'cycle']
        """
        self._check(real, styles)
        content, own_style = generator.encode(real)
        translated = generator.decode(content, styles)
        content_again, style_again = generator.encode(translated)
        with _frozen(discriminator):
            losses = {
                "image": l1(generator.decode(content, own_style), real),
                "style": l1(style_again, styles),
                "content": l1(content_again, content),
                "adversarial": generator_adversarial_loss(
                    discriminator(translated), self.config.gan_loss
                ),
            }
        if self.weights.cycle:
            losses["cycle"] = l1(generator.decode(content_again, own_style), real)
        return losses

    def total(self, losses: dict[str, Tensor]) -> Tensor:
        """The weighted sum of ``generator_losses``: the generator's loss to minimise.

        Examples:
            >>> import torch
            >>> from invtransfer.generative import preset
            >>> objectives = MUNITObjectives(preset("tiny", image_size=8, channels=1))
            >>> objectives.total({"image": torch.tensor(0.5), "style": torch.tensor(2.0)})
            tensor(7.)
        """
        names = [f.name for f in fields(self.weights)]
        if not losses or not set(losses) <= set(names):
            raise ValueError(
                f"losses: expected a dict of some of the losses {names}, "
                f"received keys {list(losses)}"
            )
        return sum(getattr(self.weights, name) * loss for name, loss in losses.items())  # type: ignore[return-value]

    def _check(self, real: Tensor, styles: Tensor) -> None:
        """Shapes and dtypes only: nothing that waits for the device."""
        for name, value in (("real", real), ("styles", styles)):
            if not isinstance(value, Tensor) or not value.dtype.is_floating_point:
                kind = value.dtype if isinstance(value, Tensor) else type(value).__name__
                raise TypeError(f"{name}: expected a floating-point tensor, received {kind}")
        if real.ndim != 4:
            raise ValueError(
                f"real: expected a batch (N, C, H, W) in [-1, 1], received shape "
                f"{tuple(real.shape)}"
            )
        check_images(self.config, real, "real")
        expected = (len(real), self.config.style_dim)
        if tuple(styles.shape) != expected:
            raise ValueError(
                f"styles: expected one code per image, shape {expected}, received "
                f"{tuple(styles.shape)}"
            )


@contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Switch off ``requires_grad`` of ``module``'s parameters, then restore each flag."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def l1(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute difference.

    Examples:
        >>> import torch
        >>> l1(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0])).item()
        0.5
    """
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
