"""The data of an experiment: a recipe by name, its splits read lazily as ``uint8`` images,
and the replicates of a study (a seed and a class order each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from invtransfer import data as recipes
from invtransfer._validation import instance, positive_int
from invtransfer.data import LongTailSplits, NuisanceDataset
from invtransfer.experiments.config import DataConfig, ExperimentConfig
from invtransfer.transforms import TransformFamily

__all__ = ["RECIPES", "ExperimentData", "Replicate", "load_data", "replicates"]

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
"""Recipes that take a nuisance ``variant``, a ``seed`` and a ``class_order_seed`` (the K49-LT
construction: Zipf sizes given to the classes in a drawn order)."""


@dataclass(frozen=True)
class Replicate:
    """One seed and one class order of a study. Every method runs once on each replicate,
    so methods are compared pairwise within it.

    ``order`` seeds which class gets which size (``None`` for recipes whose classes have
    sizes of their own, such as CIFAR-LT's fixed profile or a folder's files).

    Examples:
        >>> Replicate(seed=1, order=3).name, Replicate(seed=1, order=None).name
        ('seed1-order3', 'seed1')
    """

    seed: int
    order: int | None

    @property
    def name(self) -> str:
        """The replicate's part of run folder names."""
        return f"seed{self.seed}" if self.order is None else f"seed{self.seed}-order{self.order}"


def replicates(config: ExperimentConfig) -> list[Replicate]:
    """The replicates of a study, as the paper separated class size from class identity.

    For recipes with drawn class orders, ``data.class_orders = None`` gives each seed its
    own order (order ``s`` for seed ``s``); ``data.class_orders = K`` runs every seed under
    each of the orders ``0 .. K-1``. Other recipes have one replicate per seed.

    Examples:
        >>> config = ExperimentConfig().with_overrides(["seeds=[0, 1]"])
        >>> [r.name for r in replicates(config)]
        ['seed0-order0', 'seed1-order1']
        >>> [r.name for r in replicates(config.with_overrides(["data.class_orders=2"]))]
        ['seed0-order0', 'seed0-order1', 'seed1-order0', 'seed1-order1']
    """
    data = instance("config", config, ExperimentConfig).data
    if data.recipe not in _WITH_VARIANTS:
        if data.class_orders is not None:
            raise ValueError(
                f"data.class_orders: the {data.recipe} recipe has no drawn class orders "
                f"(those are for {list(_WITH_VARIANTS)}); expected None, received "
                f"{data.class_orders!r}"
            )
        return [Replicate(seed, None) for seed in config.seeds]
    if "class_order_seed" in data.options:
        raise ValueError(
            "data.options.class_order_seed: a study draws its class orders from "
            "data.class_orders (and the seeds); remove class_order_seed from the options"
        )
    if data.class_orders is None:
        return [Replicate(seed, seed) for seed in config.seeds]
    orders = range(positive_int("data.class_orders", data.class_orders))
    return [Replicate(seed, order) for seed in config.seeds for order in orders]


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


def load_data(config: DataConfig, seed: int = 0, order: int | None = None) -> ExperimentData:
    """Run the recipe ``config`` names; its datasets are read lazily, item by item.

    ``order`` seeds which class gets which size, for recipes with drawn class orders (see
    `replicates`); ``None`` keeps the recipe's own order (class 0 the largest).

    Examples:
        >>> from invtransfer.experiments import DataConfig
        >>> config = DataConfig("glyphs_lt", variant="bg",
        ...                     options=dict(num_classes=3, per_class=200, test_per_class=4,
        ...                                  max_count=50))
        >>> data = load_data(config)
        >>> data.class_counts.tolist(), len(data.test), data.image_shape
        ([50, 12, 5], 12, (1, 28, 28))
    """
    instance("config", config, DataConfig)
    if config.recipe not in RECIPES:
        raise ValueError(
            f"data.recipe: expected one of {sorted(RECIPES)}, received {config.recipe!r}"
        )
    splits = _run_recipe(config, seed, order)
    clean = splits.test.dataset if isinstance(splits.test, NuisanceDataset) else splits.test
    return ExperimentData(
        splits.train, splits.val, splits.test, clean, splits.class_counts, splits.family,
        _image_shape(splits.train),
    )  # fmt: skip


def _run_recipe(config: DataConfig, seed: int, order: int | None) -> LongTailSplits:
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
        if order is not None:
            options["class_order_seed"] = order
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
