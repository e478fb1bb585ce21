"""Splits listed in text files, one ``relative/path label`` per line: the format in which
ImageNet-LT, iNaturalist-2018 and Places-LT publish their long-tailed splits.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from invtransfer.data._files import first_image_settings, missing_files
from invtransfer.data.folders import ImageFiles
from invtransfer.data.recipes import LongTailSplits
from invtransfer.labels import class_counts

__all__ = ["split_file"]

_LABEL = re.compile(r"[0-9]+")


def split_file(
    root: str | Path,
    train: str | Path = "train.txt",
    val: str | Path | None = "val.txt",
    test: str | Path = "test.txt",
    image_size: int | tuple[int, int] | None = 224,
    *,
    channels: int | None = 3,
) -> LongTailSplits:
    """Splits from list files: each line ``relative/path label``, paths relative to ``root``.

    This is how the long-tailed benchmarks ship their splits: ImageNet-LT
    (``ImageNet_LT_{train,val,test}.txt`` over the ImageNet images), iNaturalist-2018
    (``iNaturalist18_{train,val}.txt``; its val list is the test set) and Places-LT
    (``Places_LT_{train,val,test}.txt`` over Places-365). The lists are read from ``root``
    (an absolute list path is used as it is); the label is the line's last field, a
    non-negative int, and the path everything before it. The training list sets the
    classes, ``0 .. max label``, each of which must have an image; the class counts (and so
    the shot groups) are its counts. Every split is used as listed, and images are decoded
    only when an item is read (see `ImageFiles`).

    Before anything is returned every line is checked: a line that is not ``path int``, a
    held-out label outside the training classes and a listed image that does not exist
    (directory listings only; nothing is opened) are errors naming the list file and line.

    Args:
        root: the folder the listed paths are relative to, holding the list files.
        train: the training list.
        val: the validation list, or ``None`` (``""`` in a config file) for none.
        test: the test list.
        image_size: resize every image to this ``(height, width)`` (an int: a square; 224
            as in the benchmarks' papers). ``None`` keeps the size of the first training
            image, and reading an image of another size is an error naming it.
        channels: 1 (grayscale) or 3 (RGB; grayscale and CMYK files are converted);
            ``None`` takes the mode of the first training image.

    Examples:
        >>> import tempfile, PIL.Image
        >>> with tempfile.TemporaryDirectory() as root:
        ...     for i in range(4):
        ...         PIL.Image.new("RGB", (10, 6)).save(Path(root, f"{i}.jpg"))
        ...     _ = Path(root, "train.txt").write_text("0.jpg 0\\n1.jpg 0\\n2.jpg 1\\n")
        ...     _ = Path(root, "test.txt").write_text("3.jpg 1\\n")
        ...     splits = split_file(root, val=None, image_size=(6, 8))
        ...     image, label = splits.test[0]
        >>> splits.class_counts.tolist(), len(splits.test), tuple(image.shape), label
        ([2, 1], 1, (3, 6, 8), 1)
    """
    root = Path(root)
    lists = {"train": train, "val": val, "test": test}
    for split in ("train", "test"):
        if not lists[split]:
            raise ValueError(
                f"{split}: expected the name of a list file, received {lists[split]!r}"
            )
    read = {split: _read_list(root, root / name) for split, name in lists.items() if name}
    counts = class_counts(torch.tensor(read["train"].labels))
    if empty := (counts == 0).nonzero().flatten().tolist():
        raise ValueError(
            f"{read['train'].file}: expected images of every class 0..{len(counts) - 1}, "
            f"found none of {empty}"
        )
    for listed in read.values():
        listed.check(len(counts))
    channels, size, resize = first_image_settings(read["train"].images[0], channels, image_size)
    splits = {
        split: ImageFiles(
            listed.images, listed.labels, channels=channels, image_size=size, resize=resize
        )
        for split, listed in read.items()
    }
    return LongTailSplits(splits["train"], splits.get("val"), splits["test"], counts)


@dataclass(frozen=True)
class _Listed:
    """The images and labels of one list file, with the line each came from."""

    file: Path
    images: list[str]
    labels: list[int]
    lines: list[int]

    def check(self, num_classes: int) -> None:
        """Every label one of the training classes, every image an existing file."""
        for line, label in zip(self.lines, self.labels, strict=True):
            if label >= num_classes:
                raise ValueError(
                    f"{self.file}, line {line}: expected a label of the training list's "
                    f"classes 0..{num_classes - 1}, received {label}"
                )
        if missing := missing_files(self.images):
            raise ValueError(
                f"{self.file}, line {self.lines[missing[0]]}: expected the image "
                f"{self.images[missing[0]]}, found no such file ({len(missing)} of the "
                f"{len(self.images)} listed are missing)"
            )


def _read_list(root: Path, file: Path) -> _Listed:
    """The lines of a list file, each ``path label`` with the path relative to ``root``."""
    if not file.is_file():
        raise FileNotFoundError(
            f"{file}: expected a split list (one 'relative/path label' per line), found no "
            "such file"
        )
    listed = _Listed(file, [], [], [])
    for line, text in enumerate(file.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        fields = text.rsplit(maxsplit=1)
        if len(fields) != 2 or not _LABEL.fullmatch(fields[1]):
            raise ValueError(
                f"{file}, line {line}: expected 'relative/path label' with a non-negative "
                f"int label, received {text!r}"
            )
        listed.images.append(os.path.join(root, fields[0].strip()))
        listed.labels.append(int(fields[1]))
        listed.lines.append(line)
    if not listed.images:
        raise ValueError(f"{file}: expected one 'relative/path label' per line, received none")
    return listed
