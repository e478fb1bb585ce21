"""What the file-reading recipes share: which files are images, listing a class folder,
checking that listed files exist, and reading or decoding one image.

Checks here read directory listings and image headers only; pixels are decoded by
`decode_image`, which datasets call item by item.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import PIL.Image
import PIL.ImageMode
from torch import Tensor
from torchvision.transforms.v2.functional import pil_to_tensor, resize

IMAGE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")
"""The file endings read as images (any case), those of torchvision's ``ImageFolder``."""

_MODES = {1: "L", 3: "RGB"}
"""The PIL mode images are converted to, by number of channels."""


def images_under(folder: Path) -> list[str]:
    """Every image file under ``folder``, links followed, in torchvision ``ImageFolder``'s
    order (folders by path, files by name); names starting with ``.`` are skipped."""
    listed: list[tuple[str, list[str]]] = []
    for parent, folders, names in os.walk(folder, followlinks=True):
        folders[:] = [name for name in folders if not name.startswith(".")]
        listed.append((parent, sorted(name for name in names if is_image_name(name))))
    return [os.path.join(parent, name) for parent, names in sorted(listed) for name in names]


def is_image_name(name: str) -> bool:
    """Whether a file name ends as an image does and is not hidden."""
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def missing_files(paths: Sequence[str | Path]) -> list[int]:
    """Positions of the ``paths`` that name no file: one directory listing per folder rather
    than one ``stat`` per file, which matters on network file systems."""
    listings: dict[str, set[str]] = {}
    missing = []
    for position, path in enumerate(paths):
        parent, name = os.path.split(os.path.normpath(path))
        if parent not in listings:
            listings[parent] = _file_names(parent or ".")
        if name not in listings[parent]:
            missing.append(position)
    return missing


def _file_names(folder: str) -> set[str]:
    try:
        with os.scandir(folder) as entries:
            return {entry.name for entry in entries if entry.is_file()}
    except OSError:
        return set()


def image_header(path: str | Path) -> tuple[int, tuple[int, int]]:
    """Channels (1 for grayscale modes, else 3) and ``(height, width)`` of an image, read
    from its header without decoding the pixels."""
    try:
        with PIL.Image.open(path) as file:
            grayscale = PIL.ImageMode.getmode(file.mode).basemode == "L"
            return (1 if grayscale else 3), (file.height, file.width)
    except PIL.UnidentifiedImageError as error:
        raise ValueError(f"{path}: expected an image file, received one PIL cannot read") from error


def decode_image(path: str | Path, channels: int, size: tuple[int, int] | None) -> Tensor:
    """The image at ``path`` as a ``uint8`` tensor ``(channels, H, W)``, resized to ``size``
    (``(height, width)``, antialiased bilinear) when given. JPEG files are decoded at the
    smallest reduced scale (1/2, 1/4, 1/8) that is still at least ``size``."""
    with PIL.Image.open(path) as file:
        if size is not None:
            file.draft(None, (size[1], size[0]))
        image = pil_to_tensor(file.convert(_MODES[channels]))
    if size is not None and tuple(image.shape[1:]) != size:
        image = resize(image, list(size), antialias=True)
    return image


def image_size_pair(value: object) -> tuple[int, int] | None:
    """``image_size`` as ``(height, width)``: an int is a square, ``None`` stays ``None``."""
    if value is None:
        return None
    pair = (value, value) if isinstance(value, int) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or any(isinstance(side, bool) or not isinstance(side, int) or side < 1 for side in pair)
    ):
        raise ValueError(
            f"image_size: expected a positive int or a (height, width) pair of them, "
            f"received {value!r}"
        )
    return int(pair[0]), int(pair[1])


def first_image_settings(
    first: str | Path, channels: int | None, image_size: object
) -> tuple[int, tuple[int, int], bool]:
    """``(channels, size, resize)`` for a set of images: what the caller gave, else the
    channels and size of the ``first`` image (one header read). ``resize`` is whether the
    size was given; a size taken from the first image is checked, not resized to."""
    size = image_size_pair(image_size)
    if channels is not None and size is not None:
        return channels, size, True
    first_channels, first_size = image_header(first)
    return (
        first_channels if channels is None else channels,
        first_size if size is None else size,
        size is not None,
    )
