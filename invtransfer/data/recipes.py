"""Dataset recipes: long-tailed train splits with balanced held-out sets, from the user's files.

Every recipe returns a `LongTailSplits`. Recipes read only the files they are pointed
at (``root``); nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset
from torchvision.datasets import CIFAR10, CIFAR100, ImageFolder
from torchvision.transforms.v2.functional import pil_to_tensor

from invtransfer._seeding import derive_seed, generator_for
from invtransfer._validation import finite_float, positive_int
from invtransfer.data.glyphs import Glyphs
from invtransfer.data.images import TensorImages
from invtransfer.data.longtail import make_longtail
from invtransfer.data.nuisance import NuisanceDataset
from invtransfer.data.profiles import CountSummary, longtail_counts, summary
from invtransfer.data.readers import find_file, read_idx, read_npz
from invtransfer.labels import class_counts, resolve_labels
from invtransfer.transforms import BackgroundIntensity, Morphology, Rotation, TransformFamily

__all__ = [
    "VARIANTS",
    "LongTailSplits",
    "cifar_lt",
    "glyphs_lt",
    "grayscale_lt",
    "k49_lt",
    "longtail_with_holdout",
    "kmnist_lt",
    "mnist_lt",
    "nuisance_family",
]

VARIANTS = ("rot", "bg", "dil")
"""The paper's nuisance variants: rotation, background intensity, dilation/erosion."""

_SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class LongTailSplits:
    """A long-tailed training set with its held-out sets and class counts.

    ``class_counts`` are the training counts; ``family`` is the nuisance family every
    example of every split carries (``None`` when there is none).
    """

    train: Dataset
    val: Dataset | None
    test: Dataset
    class_counts: Tensor
    family: TransformFamily | None = None

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.class_counts)

    def summary(self) -> CountSummary:
        """Imbalance, Gini coefficient and shot groups of the training counts."""
        return summary(self.class_counts)


def nuisance_family(variant: str | None) -> TransformFamily | None:
    """The paper's family for a variant: ``"rot"``, ``"bg"``, ``"dil"``, or ``None``.

    Examples:
        >>> nuisance_family("rot")
        Rotation(degrees=(-180.0, 180.0), interpolation='bicubic', fill=0.0)
    """
    if variant is None:
        return None
    if variant == "rot":
        return Rotation(degrees=(-180.0, 180.0), interpolation="bicubic")
    if variant == "bg":
        return BackgroundIntensity()
    if variant == "dil":
        return Morphology()
    raise ValueError(f"variant: expected one of {VARIANTS} or None, received {variant!r}")


def grayscale_lt(
    train: TensorImages,
    test: TensorImages,
    variant: str | None = None,
    *,
    alpha: float = 2.0,
    max_count: int = 4800,
    min_count: int = 5,
    val_fraction: float = 0.2,
    val_per_class: int = 30,
    class_order_seed: int | None = None,
    seed: int = 0,
) -> LongTailSplits:
    """The paper's K49-LT recipe over any in-memory labelled image set.

    The training set is split ``1 - val_fraction`` / ``val_fraction`` (seeded). The
    training part gets Zipf class sizes ``max(min_count, floor(max_count / k ** alpha))``,
    reusing base images where a class has too few; the validation part keeps
    ``val_per_class`` images per class; the test set is used whole. With a ``variant``,
    every example of every split carries one fixed nuisance of that family.

    Args:
        train: the official training images.
        test: the official test images.
        variant: ``"rot"``, ``"bg"``, ``"dil"`` or ``None`` (see `nuisance_family`).
        alpha: the Zipf exponent.
        max_count: the size of the largest class.
        min_count: the floor on every class size.
        val_fraction: the share of the training set held out for validation.
        val_per_class: validation images kept per class.
        class_order_seed: shuffle which class gets which size (the paper draws 30 orders);
            ``None`` makes class 0 the largest.
        seed: the seed of the split, the selection and the nuisances.

    Examples:
        >>> images = torch.randint(0, 256, (400, 1, 8, 8), dtype=torch.uint8)
        >>> labels = torch.arange(400) % 4
        >>> splits = grayscale_lt(TensorImages(images, labels), TensorImages(images, labels),
        ...                       "rot", max_count=60, val_per_class=5)
        >>> splits.class_counts.tolist(), len(splits.val), len(splits.test)
        ([60, 15, 6, 5], 20, 400)
    """
    finite_float("val_fraction", val_fraction, 0, 1, open_low=True, open_high=True)
    positive_int("val_per_class", val_per_class)
    train_part, val_part = _split(train, val_fraction, seed)
    num_classes = int(train.targets.max()) + 1
    counts = longtail_counts(
        "zipf",
        num_classes,
        max_count,
        alpha=alpha,
        min_count=min_count,
        permutation_seed=class_order_seed,
    )
    family = nuisance_family(variant)
    fewest = int(class_counts(train.targets[val_part.indices], num_classes).min())
    if val_per_class > fewest:
        raise ValueError(
            f"val_per_class: expected at most {fewest} (the smallest class of the validation "
            f"split, val_fraction={val_fraction} of train), received {val_per_class}"
        )
    splits = {
        "train": make_longtail(train_part, counts, seed=seed, reuse=True),
        "val": make_longtail(val_part, [val_per_class] * num_classes, seed=seed),
        "test": test,
    }
    return LongTailSplits(
        **{name: _with_nuisance(data, family, seed, name) for name, data in splits.items()},
        class_counts=counts,
        family=family,
    )


def mnist_lt(root: str | Path, variant: str | None = None, **options) -> LongTailSplits:
    """MNIST-LT (the paper's K49 recipe applied to MNIST) from the four IDX files.

    ``root`` holds ``train-images-idx3-ubyte`` and the three other files (``.gz`` or not),
    directly or in torchvision's ``MNIST/raw/`` layout. ``options`` are those of
    `grayscale_lt`.
    """
    train, test = _idx_pair(root, "MNIST")
    return grayscale_lt(train, test, variant, **options)


def kmnist_lt(root: str | Path, variant: str | None = None, **options) -> LongTailSplits:
    """Kuzushiji-MNIST-LT from its four IDX files (directly in ``root`` or in ``KMNIST/raw/``).

    ``options`` are those of `grayscale_lt`.
    """
    train, test = _idx_pair(root, "KMNIST")
    return grayscale_lt(train, test, variant, **options)


def k49_lt(root: str | Path, variant: str | None = None, **options) -> LongTailSplits:
    """K49-LT, the paper's recipe, from ``k49-{train,test}-{imgs,labels}.npz`` in ``root``.

    ``options`` are those of `grayscale_lt`.
    """
    root = Path(root)
    train, test = (
        _tensor_images(
            read_npz(find_file(root, [f"k49-{split}-imgs.npz"]), kind="images"),
            read_npz(find_file(root, [f"k49-{split}-labels.npz"]), kind="labels"),
        )
        for split in ("train", "test")
    )
    return grayscale_lt(train, test, variant, **options)


def glyphs_lt(
    variant: str | None = None,
    num_classes: int = 49,
    per_class: int = 1000,
    test_per_class: int = 100,
    **options,
) -> LongTailSplits:
    """Glyphs-LT: the paper's K49-LT recipe on the embedded procedural `Glyphs` (no files).

    ``per_class`` glyphs of each class are drawn for training (the recipe reuses them where
    a class needs more) and ``test_per_class`` for a balanced test set; ``options`` are those
    of `grayscale_lt` (``max_count``, ``alpha``, ``min_count``, ``seed``, ...), whose ``seed``
    also picks the glyph shapes.

    Examples:
        >>> splits = glyphs_lt("bg", num_classes=4, per_class=200, test_per_class=10,
        ...                    max_count=100)
        >>> splits.class_counts.tolist(), len(splits.test)
        ([100, 25, 11, 6], 40)
    """
    seed = options.get("seed", 0)
    train, test = (
        Glyphs(num_classes, count, seed=seed, split=split)
        for count, split in ((per_class, "train"), (test_per_class, "test"))
    )
    return grayscale_lt(
        TensorImages(train.images, train.targets),
        TensorImages(test.images, test.targets),
        variant,
        **options,
    )


def cifar_lt(
    root: str | Path | None = None,
    *,
    train: Dataset | None = None,
    test: Dataset | None = None,
    imbalance_ratio: float = 100.0,
    max_count: int | None = None,
    seed: int | None = None,
    val_per_class: int = 0,
) -> LongTailSplits:
    """CIFAR-10/100-LT: an exponential profile over any labelled training set.

    Reads ``root`` as an ImageFolder pair (``root/train/<class>/…``, ``root/test/<class>/…``)
    or as torchvision's CIFAR-10/100 folder (``cifar-10-batches-py`` or ``cifar-100-python``),
    or takes ``train`` and ``test`` datasets directly. Images come back as ``uint8`` tensors.

    Args:
        root: the data folder; or give ``train`` and ``test``.
        train: a labelled training set (labels are read without decoding images).
        test: the balanced test set, used whole.
        imbalance_ratio: ``n_max / n_min`` (100 in the paper).
        max_count: the size of the largest class; by default the largest class of ``train``
            (5,000 for CIFAR-10, 500 for CIFAR-100).
        seed: ``None`` keeps the first ``n_i`` images of each class in dataset order (the
            CIFAR-LT convention); an int selects them at random, reproducibly.
        val_per_class: if positive, a balanced validation set of this many images per class,
            set aside from the training images before the long-tailed selection.
    """
    if root is not None:
        if train is not None or test is not None:
            raise ValueError("root, train, test: expected root or train and test, received both")
        train, test = _read_cifar(Path(root))
    if train is None or test is None:
        raise ValueError("train, test: expected both datasets (or root), received None")
    return longtail_with_holdout(train, test, imbalance_ratio, max_count, seed, val_per_class)


def longtail_with_holdout(
    train: Dataset,
    test: Dataset,
    imbalance_ratio: float,
    max_count: int | None = None,
    seed: int | None = None,
    val_per_class: int = 0,
    labels: Tensor | None = None,
) -> LongTailSplits:
    """An exponential long-tailed view of ``train``, after setting a balanced val set aside.

    The shared core of the folder-based recipes (see `cifar_lt` for the arguments).
    ``val_per_class`` images of every class are held out first (seeded), so the long-tailed
    set never sees them. The ``i``-th largest count of the profile goes to the ``i``-th
    largest class that remains (ties keep class order, so on a balanced set class 0 is the
    largest), and ``max_count`` defaults to the size of the largest class.

    Examples:
        >>> from torch.utils.data import TensorDataset
        >>> base = TensorDataset(torch.zeros(60, 1))
        >>> splits = longtail_with_holdout(base, base, imbalance_ratio=10, val_per_class=2,
        ...                                labels=torch.arange(60) % 3)
        >>> splits.class_counts.tolist(), len(splits.val)
        ([18, 5, 1], 6)
    """
    labels = resolve_labels(train, labels)
    val = None
    if val_per_class > 0:
        num_classes = len(class_counts(labels))
        val = make_longtail(train, [val_per_class] * num_classes, seed=seed or 0, labels=labels)
        kept = torch.ones(len(labels), dtype=torch.bool)
        kept[val.indices] = False
        train, labels = Subset(train, kept.nonzero().flatten().tolist()), labels[kept]
    available = class_counts(labels)
    profile = longtail_counts(
        "exponential",
        len(available),
        int(available.max()) if max_count is None else max_count,
        imbalance_ratio=imbalance_ratio,
    )
    counts = torch.empty_like(profile)
    counts[torch.argsort(available, descending=True, stable=True)] = profile
    longtail = make_longtail(train, counts, seed=seed, labels=labels)
    return LongTailSplits(train=longtail, val=val, test=test, class_counts=counts)


def _read_cifar(root: Path) -> tuple[Dataset, Dataset]:
    if (root / "train").is_dir() and (root / "test").is_dir():
        return tuple(  # type: ignore[return-value]
            ImageFolder(str(root / split), transform=pil_to_tensor) for split in ("train", "test")
        )
    for folder, reader in (("cifar-10-batches-py", CIFAR10), ("cifar-100-python", CIFAR100)):
        if (root / folder).is_dir():
            return tuple(  # type: ignore[return-value]
                reader(str(root), train=train, download=False, transform=pil_to_tensor)
                for train in (True, False)
            )
    raise FileNotFoundError(
        f"{root}: expected train/ and test/ class folders, cifar-10-batches-py/ or "
        "cifar-100-python/ (nothing is downloaded)"
    )


def _idx_pair(root: str | Path, layout: str) -> tuple[TensorImages, TensorImages]:
    def read(stem: str) -> Tensor:
        names = [f"{folder}{stem}{ext}" for folder in ("", f"{layout}/raw/") for ext in ("", ".gz")]
        kind = "images" if "images" in stem else "labels"  # converted without loss, or refused
        return read_idx(find_file(root, names), kind=kind)

    train, test = (
        _tensor_images(read(f"{prefix}-images-idx3-ubyte"), read(f"{prefix}-labels-idx1-ubyte"))
        for prefix in ("train", "t10k")
    )
    return train, test


def _tensor_images(images: Tensor, labels: Tensor) -> TensorImages:
    if images.ndim == 3:
        images = images.unsqueeze(1)
    if len(images) != len(labels):
        raise ValueError(
            f"labels: expected one label per image ({len(images)}), received {len(labels)}"
        )
    return TensorImages(images.to(torch.uint8), labels.to(torch.long))


def _split(data: TensorImages, val_fraction: float, seed: int) -> tuple[Subset, Subset]:
    order = torch.randperm(len(data), generator=generator_for(seed, _SPLIT_KEYS["val"]))
    cut = len(data) - round(val_fraction * len(data))
    return Subset(data, order[:cut].tolist()), Subset(data, order[cut:].tolist())


def _with_nuisance(data: Dataset, family: TransformFamily | None, seed: int, split: str) -> Dataset:
    if family is None:
        return data
    return NuisanceDataset(data, family, seed=derive_seed(seed, _SPLIT_KEYS[split]))
