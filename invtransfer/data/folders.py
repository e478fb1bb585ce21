"""Image files decoded on demand (`ImageFiles`), and the recipes over folders of them: your
own class folders (`image_folder`) and Tiny-ImageNet-LT.

The recipes read only the files they are pointed at (nothing is downloaded) and take every
label from folder names and annotation files, without decoding an image.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from invtransfer.data._files import (
    IMAGE_SUFFIXES,
    decode_image,
    first_image_settings,
    image_size_pair,
    images_under,
)
from invtransfer.data.longtail import make_longtail
from invtransfer.data.profiles import longtail_counts
from invtransfer.data.readers import find_file
from invtransfer.data.recipes import LongTailSplits, longtail_with_holdout
from invtransfer.labels import class_counts, resolve_labels

__all__ = ["ImageFiles", "image_folder", "tinyimagenet_lt"]

_JPEG_SUFFIXES = (".jpeg", ".jpg")


class ImageFiles(Dataset):
    """Image files decoded on demand, with their integer ``targets`` at hand.

    Items are ``(image, label)``: the image a ``uint8`` tensor ``(channels, H, W)`` (after
    the optional ``transform``), the label an ``int``. Nothing is decoded until an item is
    read, and the labels never need an image. Files of any PIL mode are converted to
    grayscale (``channels=1``) or RGB (``channels=3``). The paths are held in one NumPy array
    rather than a list of objects, so that DataLoader workers do not copy them page by page.

    Args:
        paths: one image file per example.
        targets: one integer label per example.
        transform: applied to each decoded image.
        channels: 1 (grayscale) or 3 (RGB).
        image_size: ``(height, width)``, or an int for a square: every image is resized to
            it (antialiased bilinear; the aspect ratio is not kept), or, with
            ``resize=False``, must already have it (reading one of another size is a
            ``ValueError`` that names the file).
        resize: whether ``image_size`` is a size to resize to or a size to check.

    Examples:
        >>> import tempfile, PIL.Image
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "gray.png"
        ...     PIL.Image.new("L", (6, 4)).save(path)
        ...     rgb = ImageFiles([path], [7])[0]
        ...     small = ImageFiles([path], [7], channels=1, image_size=2)[0]
        >>> rgb[0].shape, rgb[0].dtype, rgb[1], small[0].shape
        (torch.Size([3, 4, 6]), torch.uint8, 7, torch.Size([1, 2, 2]))
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        targets: Sequence[int] | Tensor,
        transform: Callable[[Tensor], Any] | None = None,
        *,
        channels: int = 3,
        image_size: int | tuple[int, int] | None = None,
        resize: bool = True,
    ):
        targets = resolve_labels(labels=targets)
        if len(targets) != len(paths):
            raise ValueError(
                f"targets: expected one label per path ({len(paths)}), received {len(targets)}"
            )
        if isinstance(channels, bool) or channels not in (1, 3):
            raise ValueError(f"channels: expected 1 (grayscale) or 3 (RGB), received {channels!r}")
        self.files = np.array([os.fsencode(path) for path in paths], dtype=np.bytes_)
        self.targets = targets
        self.transform = transform
        self.channels = channels
        self.image_size = image_size_pair(image_size)
        self.resize = resize

    def path(self, index: int) -> Path:
        """The file of example ``index``."""
        return Path(os.fsdecode(self.files[index]))

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path = self.path(index)
        image = decode_image(path, self.channels, self.image_size if self.resize else None)
        if self.image_size is not None and tuple(image.shape[1:]) != self.image_size:
            raise ValueError(
                f"{path}: expected an image of {self.image_size[0]}x{self.image_size[1]} "
                f"pixels (height x width), received {image.shape[1]}x{image.shape[2]}; give "
                "image_size to resize every image to one size"
            )
        return (self.transform(image) if self.transform else image), int(self.targets[index])


def image_folder(
    root: str | Path,
    image_size: int | tuple[int, int] | None = None,
    profile: str | None = None,
    *,
    imbalance_ratio: float | None = None,
    alpha: float | None = None,
    minority_fraction: float | None = None,
    min_count: int | None = None,
    max_count: int | None = None,
    channels: int | None = None,
    seed: int | None = 0,
) -> LongTailSplits:
    """Splits from your own class folders: ``root/train/<class>/…`` to train on,
    ``root/test/<class>/…`` to test on and, when present, ``root/val/<class>/…``.

    Class ``i`` is the ``i``-th training class folder in sorted order, and ``test/`` and
    ``val/`` must hold class folders of the same names (an empty one is allowed). Images are
    found recursively (the suffixes of torchvision's ``ImageFolder``, in any case; names
    starting with ``.`` are skipped), in ``ImageFolder``'s order, and decoded only when an
    item is read (see `ImageFiles`).

    Without a ``profile`` the training set keeps its natural class sizes. With one, the
    class sizes follow ``longtail_counts(profile, C, max_count, ...)``: the profile's
    ``i``-th largest count goes to the ``i``-th largest class (ties keep class order) and
    ``seed`` picks the images. The test and validation sets are used whole.

    Args:
        root: the folder holding ``train/`` and ``test/`` (and ``val/``).
        image_size: resize every image to this ``(height, width)`` (an int: a square), as is
            needed when the images differ in size. ``None`` keeps the size of the first
            training image, and reading an image of another size is an error naming it.
        profile: ``"exponential"``, ``"step"`` or ``"zipf"`` (see `longtail_counts`), or
            ``None`` for the natural class sizes.
        imbalance_ratio: ``n_max / n_min`` of the ``"exponential"`` and ``"step"`` profiles.
        alpha: the exponent of the ``"zipf"`` profile.
        minority_fraction: the share of small classes in the ``"step"`` profile.
        min_count: the floor on every class size of the profile.
        max_count: the size of the largest class; by default the largest training class.
        channels: 1 (grayscale) or 3 (RGB); ``None`` takes the mode of the first training
            image (grayscale modes give 1, all others 3).
        seed: which images a profile keeps: a seeded selection, or ``None`` for the first
            of each class.

    Examples:
        >>> import tempfile, PIL.Image
        >>> with tempfile.TemporaryDirectory() as root:
        ...     for split, sizes in {"train": [6, 3], "test": [2, 2]}.items():
        ...         for name, size in zip(["cat", "dog"], sizes):
        ...             (Path(root) / split / name).mkdir(parents=True)
        ...             for i in range(size):
        ...                 PIL.Image.new("L", (8, 8)).save(Path(root, split, name, f"{i}.png"))
        ...     natural = image_folder(root)
        ...     profiled = image_folder(root, 4, "exponential", imbalance_ratio=3)
        ...     image, label = profiled.train[0]
        >>> natural.class_counts.tolist(), len(natural.test), profiled.class_counts.tolist()
        ([6, 3], 4, [6, 2])
        >>> image.shape, image.dtype, label
        (torch.Size([1, 4, 4]), torch.uint8, 0)
    """
    shape = {
        name: value
        for name, value in dict(
            imbalance_ratio=imbalance_ratio,
            alpha=alpha,
            minority_fraction=minority_fraction,
            min_count=min_count,
            max_count=max_count,
        ).items()
        if value is not None
    }
    if profile is None and shape:
        raise ValueError(
            f"profile: expected a profile name to go with {sorted(shape)}, received None"
        )
    root = Path(root)
    classes = _class_names(root / "train")
    held_out = ["test", *(["val"] if (root / "val").is_dir() else [])]
    found = {split: _class_images(root, split, classes) for split in ["train", *held_out]}
    channels, size, resize = first_image_settings(found["train"][0][0], channels, image_size)
    splits = {
        split: ImageFiles(paths, labels, channels=channels, image_size=size, resize=resize)
        for split, (paths, labels) in found.items()
    }
    counts = class_counts(splits["train"].targets, len(classes))
    train: Dataset = splits["train"]
    if profile is not None:
        counts = _profile_by_class_size(counts, classes, profile, shape)
        train = make_longtail(train, counts, seed=seed)
    return LongTailSplits(train, splits.get("val"), splits["test"], counts)


def _class_names(train: Path) -> list[str]:
    """The sorted class-folder names of ``train``, which must exist and hold some."""
    if not train.is_dir():
        raise FileNotFoundError(
            f"{train}: expected a folder of class folders (train/<class>/<images>), found "
            "no such folder"
        )
    names = _folder_names(train)
    if not names:
        raise FileNotFoundError(
            f"{train}: expected class folders (train/<class>/<images>), found none"
        )
    return names


def _folder_names(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def _class_images(root: Path, split: str, classes: list[str]) -> tuple[list[str], list[int]]:
    """The images and labels of ``root/split``, whose class folders must be ``classes``."""
    folder = root / split
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: expected {split}/<class>/<images> with the class folders of train/, "
            "found no such folder"
        )
    names = set(_folder_names(folder))
    missing, extra = sorted(set(classes) - names), sorted(names - set(classes))
    if missing or extra:
        raise ValueError(
            f"{folder}: expected the {len(classes)} class folders of {root / 'train'}, "
            f"received {split}/ without {missing} and with extra {extra}"
        )
    per_class = [images_under(folder / name) for name in classes]
    empty = [name for name, images in zip(classes, per_class, strict=True) if not images]
    if (split == "train" and empty) or len(empty) == len(classes):
        raise ValueError(
            f"{folder}: expected image files ({', '.join(IMAGE_SUFFIXES)}) in "
            f"{'every class folder' if split == 'train' else 'the class folders'}, "
            f"found none in {empty}"
        )
    labels = [label for label, images in enumerate(per_class) for _ in images]
    return [path for images in per_class for path in images], labels


def _profile_by_class_size(
    available: Tensor, classes: list[str], profile: str, shape: dict[str, Any]
) -> Tensor:
    """The profile's counts, the ``i``-th largest to the ``i``-th largest class."""
    max_count = shape.pop("max_count", int(available.max()))
    profile_counts = longtail_counts(profile, len(available), max_count, **shape)
    counts = torch.empty_like(profile_counts)
    counts[torch.argsort(available, descending=True, stable=True)] = profile_counts
    short = (counts > available).nonzero().flatten().tolist()
    if short:
        raise ValueError(
            f"profile: the {profile!r} profile asks classes {[classes[c] for c in short]} "
            f"for {counts[short].tolist()} images, but their folders hold "
            f"{available[short].tolist()}; lower max_count or min_count"
        )
    return counts


def tinyimagenet_lt(
    root: str | Path,
    *,
    imbalance_ratio: float = 100.0,
    max_count: int | None = None,
    seed: int = 0,
    val_per_class: int = 0,
) -> LongTailSplits:
    """Tiny-ImageNet-LT: an exponential profile over the Tiny ImageNet training set.

    Reads the ``tiny-imagenet-200`` layout, in ``root`` or as ``root`` itself: ``wnids.txt``
    (class ``i`` is its ``i``-th wnid), ``train/<wnid>/images/*.JPEG`` (500 per class) and
    ``val/images/*.JPEG`` labelled by ``val/val_annotations.txt`` (tab-separated filename,
    wnid, box). The official val split (50 per class, balanced) is the test set, used whole.
    Images come back as ``uint8`` tensors ``(3, 64, 64)``, grayscale files converted to RGB.

    Args:
        root: the ``tiny-imagenet-200`` folder or the folder holding it.
        imbalance_ratio: ``n_max / n_min`` (100 in the paper).
        max_count: the size of the largest class; by default the largest training class
            (500 for Tiny ImageNet, less ``val_per_class``).
        seed: the seed of the long-tailed selection.
        val_per_class: if positive, a balanced validation set of this many images per class,
            set aside from the training images before the long-tailed selection.
    """
    wnids_file = find_file(root, ["tiny-imagenet-200/wnids.txt", "wnids.txt"])
    wnids = _read_wnids(wnids_file)
    folder = wnids_file.parent
    train = ImageFiles(*_tiny_train(folder, wnids))
    test = ImageFiles(*_tiny_val(folder, wnids, wnids_file))
    return longtail_with_holdout(train, test, imbalance_ratio, max_count, seed, val_per_class)


def _read_wnids(path: Path) -> dict[str, int]:
    """Class id of every wnid: its position in ``wnids.txt``."""
    wnids: dict[str, int] = {}
    for line, text in enumerate(path.read_text().splitlines(), start=1):
        wnid = text.strip()
        if wnid in wnids:
            raise ValueError(
                f"{path}, line {line}: expected distinct wnids, received {wnid!r} again"
            )
        if wnid:
            wnids[wnid] = len(wnids)
    if not wnids:
        raise ValueError(f"{path}: expected one wnid per line, received none")
    return wnids


def _tiny_train(folder: Path, wnids: dict[str, int]) -> tuple[list[Path], list[int]]:
    paths: list[Path] = []
    labels: list[int] = []
    for wnid, label in wnids.items():
        images = folder / "train" / wnid / "images"
        found = sorted(_jpegs(images)) if images.is_dir() else []
        if not found:
            raise FileNotFoundError(
                f"{images}: expected the training images of {wnid} "
                "(train/<wnid>/images/*.JPEG), found none"
            )
        paths += found
        labels += [label] * len(found)
    return paths, labels


def _jpegs(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.suffix.lower() in _JPEG_SUFFIXES]


def _tiny_val(
    folder: Path, wnids: dict[str, int], wnids_file: Path
) -> tuple[list[Path], list[int]]:
    """The val split's images and labels, from ``val/val_annotations.txt``."""
    annotations = find_file(folder, ["val/val_annotations.txt"])
    paths: list[Path] = []
    labels: list[int] = []
    for line, text in enumerate(annotations.read_text().splitlines(), start=1):
        if text.strip():
            path, label = _annotation(
                folder, wnids, wnids_file, f"{annotations}, line {line}", text
            )
            paths.append(path)
            labels.append(label)
    if not paths:
        raise ValueError(f"{annotations}: expected one annotated image per line, received none")
    return paths, labels


def _annotation(
    folder: Path, wnids: dict[str, int], wnids_file: Path, where: str, text: str
) -> tuple[Path, int]:
    """The image and label of one line of ``val_annotations.txt``."""
    fields = text.split("\t")
    if len(fields) < 2:
        raise ValueError(f"{where}: expected a tab-separated filename and wnid, received {text!r}")
    name, wnid = fields[0].strip(), fields[1].strip()
    if wnid not in wnids:
        raise ValueError(f"{where}: expected a wnid listed in {wnids_file}, received {wnid!r}")
    path = folder / "val" / "images" / name
    if not path.is_file():
        raise ValueError(f"{where}: expected the image {path}, found no such file")
    return path, wnids[wnid]
