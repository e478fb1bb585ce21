"""`translation_grid`: a picture of what a generator does to a few images."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.utils import make_grid

from invtransfer._images import ImageBatch
from invtransfer._seeding import generator_for
from invtransfer.generative.networks import MUNITGenerator, check_images, random_styles

__all__ = ["translation_grid"]


def translation_grid(
    generator: MUNITGenerator, images: Tensor, styles: int = 6, seed: int = 0
) -> Tensor:
    """One row per image: the image, its reconstruction (its own style), then its
    translations under ``styles`` random style codes, the same codes in every row.

    Returns a float ``(C, H', W')`` grid in [0, 1], ready for ``torchvision.utils.save_image``.

    Examples:
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
        >>> translation_grid(generator, torch.rand(3, 1, 8, 8), styles=4).shape
        torch.Size([3, 32, 62])
    """
    batch = ImageBatch.from_user(images, "images")
    check_images(generator.config, batch.images, "images")
    device = next(generator.parameters()).device
    x = batch.images.to(device) * 2 - 1
    codes = random_styles(styles, generator.config, generator_for(seed)).to(device)
    with torch.no_grad():
        content, own_style = generator.encode(x)
        columns = [x, generator.decode(content, own_style)]
        columns += [generator.decode(content, code.expand(len(x), -1)) for code in codes]
    rows = torch.stack(columns, dim=1).flatten(0, 1)
    return make_grid((rows.cpu() + 1) / 2, nrow=len(columns), pad_value=1).clamp_(0, 1)
