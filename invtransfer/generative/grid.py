"""`translation_grid`: a picture of what a generator does to a few images, and `grid_images`,
which picks those images from a dataset."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.utils import make_grid

from invtransfer._images import ImageBatch
from invtransfer._seeding import generator_for
from invtransfer._validation import instance, positive_int
from invtransfer.generative.networks import MUNITGenerator, check_images, random_styles
from invtransfer.labels import resolve_labels

__all__ = ["grid_images", "translation_grid"]

_GRID_STREAM = 1  # the grid's images come from (seed, _GRID_STREAM)


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
    instance("generator", generator, MUNITGenerator)
    positive_int("styles", styles)
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


def grid_images(dataset: Dataset, count: int = 8, seed: int = 0) -> Tensor:
    """``count`` images of ``dataset`` picked from ``seed``, from as many classes as possible
    when the labels are known without decoding images: the rows of a `translation_grid`.

    Returns the images stacked as the dataset gives them (``uint8`` or float in [0, 1]).

    Examples:
        >>> from invtransfer.data import Glyphs
        >>> grid_images(Glyphs(num_classes=3, per_class=4), count=5).shape
        torch.Size([5, 1, 28, 28])
    """
    order = torch.randperm(len(dataset), generator=generator_for(seed, _GRID_STREAM))  # type: ignore[arg-type]
    try:
        shuffled = resolve_labels(dataset)[order]
    except TypeError:  # no labels without decoding every image: any images will do
        return _images_of(dataset, order[:count])
    positions = torch.arange(len(order))
    first = torch.full((int(shuffled.max()) + 1,), len(order)).scatter_reduce(
        0, shuffled, positions, "amin"
    )  # where each class first appears in the shuffled order
    firsts = first[first < len(order)].sort().values[:count]
    others = positions[~torch.isin(positions, firsts)][: count - len(firsts)]
    return _images_of(dataset, order[torch.cat([firsts, others])])


def _images_of(dataset: Dataset, indices: Tensor) -> Tensor:
    items = [dataset[int(i)] for i in indices]
    return torch.stack([item[0] if isinstance(item, (list, tuple)) else item for item in items])
