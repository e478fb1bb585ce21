"""The data of an experiment: a recipe by name, its splits read lazily as ``uint8`` images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from invtransfer import data as recipes
from invtransfer.data import LongTailSplits, NuisanceDataset
from invtransfer.experiments.config import DataConfig
from invtransfer.transforms import TransformFamily

__all__ = ["RECIPES", "ExperimentData", "load_data"]

RECIPES: dict[str, Callable[..., LongTailSplits]] = {
    "glyphs_lt": recipes.glyphs_lt,
    "mnist_lt": recipes.mnist_lt,
    "kmnist_lt": recipes.kmnist_lt,
    "k49_lt": recipes.k49_lt,
    "cifar_lt": recipes.cifar_lt,
    "gtsrb_lt": recipes.gtsrb_lt,
    "tinyimagenet_lt": recipes.tinyimagenet_lt,
    "image_folder": recipes.image_folder,
    "split_file": recipes.split_file,
}
"""The recipes an experiment can name; every one but ``glyphs_lt`` reads files from ``root``."""

_WITH_VARIANTS = ("glyphs_lt", "mnist_lt", "kmnist_lt", "k49_lt")
"""Recipes that take a nuisance ``variant`` and a ``seed`` (the K49-LT construction)."""


@dataclass(frozen=True)
class ExperimentData:
    """The splits of an experiment's recipe, as datasets whose items are decoded when read.

    ``train``, ``val`` and ``test`` carry the nuisance, as in the paper; ``clean_test`` holds
    the test images without it, which the invariance curve transforms with ``family``.
    Items are ``(uint8 image (C, H, W), label)``; labels are read without decoding images.
    """

    train: Dataset
    val: Dataset | None
    test: Dataset
    clean_test: Dataset
    class_counts: Tensor
    family: TransformFamily | None
    image_shape: tuple[int, int, int]
    """``(C, H, W)`` of the images."""

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.class_counts)


def load_data(config: DataConfig, seed: int = 0) -> ExperimentData:
    """Run the recipe ``config`` names; its datasets are read lazily, item by item.

    Examples:
        >>> from invtransfer.experiments import DataConfig
        >>> config = DataConfig("glyphs_lt", variant="bg",
        ...                     options=dict(num_classes=3, per_class=200, test_per_class=4,
        ...                                  max_count=50))
        >>> data = load_data(config)
        >>> data.class_counts.tolist(), len(data.test), data.image_shape
        ([50, 12, 5], 12, (1, 28, 28))
    """
    if config.recipe not in RECIPES:
        raise ValueError(
            f"data.recipe: expected one of {sorted(RECIPES)}, received {config.recipe!r}"
        )
    splits = _run_recipe(config, seed)
    clean = splits.test.dataset if isinstance(splits.test, NuisanceDataset) else splits.test
    return ExperimentData(
        splits.train, splits.val, splits.test, clean, splits.class_counts, splits.family,
        _image_shape(splits.train),
    )  # fmt: skip


def _run_recipe(config: DataConfig, seed: int) -> LongTailSplits:
    recipe, options = RECIPES[config.recipe], dict(config.options)
    arguments: list[object] = []
    if config.recipe != "glyphs_lt":
        if config.root is None:
            raise ValueError(
                f"data.root: the {config.recipe} recipe reads files; pass --data-root (e.g. "
                f"../shared/data/mnist), received None"
            )
        arguments.append(Path(config.root))
    if config.recipe in _WITH_VARIANTS:
        arguments.append(config.variant)
        options.setdefault("seed", seed)
    elif config.variant is not None:
        raise ValueError(
            f"data.variant: the {config.recipe} recipe has no nuisance variants (those are "
            f"for {list(_WITH_VARIANTS)}), received {config.variant!r}"
        )
    return recipe(*arguments, **options)


def _image_shape(dataset: Dataset) -> tuple[int, int, int]:
    """``(C, H, W)`` of the first image, which must be a ``uint8`` tensor (every recipe's is)."""
    image = dataset[0][0]
    if not isinstance(image, Tensor) or image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(
            "data: expected uint8 (C, H, W) images from the recipe, received "
            f"{getattr(image, 'dtype', type(image).__name__)} of shape "
            f"{tuple(getattr(image, 'shape', ()))}"
        )
    c, h, w = image.shape
    return c, h, w
