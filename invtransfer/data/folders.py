"""Dataset recipes over folders of image files: GTSRB-LT and Tiny-ImageNet-LT.

Both read only the files they are pointed at (nothing is downloaded) and take every label from
folder names and annotation files, without decoding an image. Both return a
``LongTailSplits`` with an exponential training profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import PIL.Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.datasets import GTSRB
from torchvision.transforms import v2
from torchvision.transforms.v2.functional import pil_to_tensor

from invtransfer.data.longtail import make_longtail
from invtransfer.data.readers import find_file
from invtransfer.data.recipes import LongTailSplits, longtail_with_holdout
from invtransfer.labels import class_counts, resolve_labels

__all__ = ["ImageFiles", "gtsrb_lt", "tinyimagenet_lt"]

_GTSRB_TRAIN = "gtsrb/GTSRB/Training"
_GTSRB_TEST = "gtsrb/GTSRB/Final_Test/Images"
_GTSRB_CSV = "gtsrb/GT-final_test.csv"
_JPEG_SUFFIXES = (".jpeg", ".jpg")


class ImageFiles(Dataset):
    """Image files decoded on demand, with their integer ``targets`` at hand.

    Items are ``(image, label)``: the image an RGB ``uint8`` tensor ``(3, H, W)`` (after the
    optional ``transform``), the label an ``int``. Nothing is decoded until an item is read.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "gray.png"
        ...     PIL.Image.new("L", (6, 4)).save(path)
        ...     image, label = ImageFiles([path], [7])[0]
        >>> image.shape, image.dtype, label
        (torch.Size([3, 4, 6]), torch.uint8, 7)
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        targets: Sequence[int] | Tensor,
        transform: Callable[[Tensor], Any] | None = None,
    ):
        targets = resolve_labels(labels=targets)
        if len(targets) != len(paths):
            raise ValueError(
                f"targets: expected one label per path ({len(paths)}), received {len(targets)}"
            )
        self.paths = [Path(path) for path in paths]
        self.targets = targets
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        with PIL.Image.open(self.paths[index]) as file:
            image = pil_to_tensor(file.convert("RGB"))
        return (self.transform(image) if self.transform else image), int(self.targets[index])


def gtsrb_lt(
    root: str | Path,
    *,
    imbalance_ratio: float = 100.0,
    max_count: int | None = None,
    size: int = 32,
    seed: int = 0,
    val_per_class: int = 0,
) -> LongTailSplits:
    """GTSRB-LT: an exponential profile over the German Traffic Sign training set.

    Reads torchvision's GTSRB layout under ``root`` (what ``torchvision.datasets.GTSRB(root,
    download=False)`` reads): ``gtsrb/GTSRB/Training/<00000..00042>/*.ppm`` for training, and
    ``gtsrb/GTSRB/Final_Test/Images/*.ppm`` labelled by ``gtsrb/GT-final_test.csv`` for
    testing. Images come back as ``uint8`` tensors ``(3, size, size)`` (the paper uses 32).
    Labels come from the file lists torchvision builds (``GTSRB._samples``), not the images.

    The official test split is itself imbalanced, so the test set keeps, of every class, as
    many images as the smallest class has (a seeded selection).

    Args:
        root: the folder holding ``gtsrb/``.
        imbalance_ratio: ``n_max / n_min`` (100 in the paper).
        max_count: the size of the largest class; by default the largest training class
            (after the validation hold-out). Counts go to classes in order of their size.
        size: the side, in pixels, images are resized to.
        seed: the seed of the long-tailed selection and of the balanced test selection.
        val_per_class: if positive, a balanced validation set of this many images per class,
            set aside from the training images before the long-tailed selection.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size: expected a positive int, received {size!r}")
    root = Path(root)
    _check_gtsrb_layout(root)
    transform = v2.Compose([v2.PILToTensor(), v2.Resize((size, size), antialias=True)])
    train = GTSRB(str(root), split="train", transform=transform)
    labels = _gtsrb_train_labels(root, train)
    num_classes = int(labels.max()) + 1
    test, test_labels = _gtsrb_test(root, transform, num_classes)
    smallest = int(class_counts(test_labels).min())
    balanced = make_longtail(test, [smallest] * num_classes, seed=seed, labels=test_labels)
    return longtail_with_holdout(
        train, balanced, imbalance_ratio, max_count, seed, val_per_class, labels
    )


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


def _check_gtsrb_layout(root: Path) -> None:
    missing = [
        name for name in (_GTSRB_TRAIN, _GTSRB_TEST, _GTSRB_CSV) if not (root / name).exists()
    ]
    if missing:
        raise FileNotFoundError(
            f"{root}: expected torchvision's GTSRB layout {_GTSRB_TRAIN}/<00000..00042>/*.ppm, "
            f"{_GTSRB_TEST}/*.ppm and {_GTSRB_CSV}; missing {missing} (nothing is downloaded)"
        )


def _gtsrb_train_labels(root: Path, train: GTSRB) -> Tensor:
    """The training labels, from the class folders (``00000``, ``00001``, …) GTSRB lists."""
    folder = root / _GTSRB_TRAIN
    names = sorted(path.name for path in folder.iterdir() if path.is_dir())
    expected = [f"{label:05d}" for label in range(len(names))]
    if names != expected:
        raise ValueError(
            f"{folder}: expected class folders {expected[0]}..{expected[-1]}, numbered as the "
            f"ClassId of {_GTSRB_CSV}, received {names}"
        )
    return resolve_labels(labels=[label for _, label in train._samples])


def _gtsrb_test(root: Path, transform: Callable, num_classes: int) -> tuple[GTSRB, Tensor]:
    """The official test split and its labels, every listed image checked to exist."""
    csv = root / _GTSRB_CSV
    try:
        test = GTSRB(str(root), split="test", transform=transform)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"{csv}: expected ';'-separated columns Filename and ClassId (an int) on every "
            f"row, received a row that fails to parse ({error!r})"
        ) from error
    for line, (path, label) in enumerate(test._samples, start=2):
        if not 0 <= label < num_classes:
            raise ValueError(
                f"{csv}, line {line}: expected a ClassId in [0, {num_classes}) (the training "
                f"class folders), received {label}"
            )
        if not Path(path).is_file():
            raise ValueError(f"{csv}, line {line}: expected the image {path}, found no such file")
    labels = resolve_labels(labels=[label for _, label in test._samples])
    empty = (class_counts(labels, num_classes) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"{csv}: expected test images of all {num_classes} classes, none of {empty}"
        )
    return test, labels


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
