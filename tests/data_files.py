"""Small dataset files written by the tests, and the location of the real data if present."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

SHARED_DATA = Path(
    os.environ.get("INVTRANSFER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def real_data(name: str) -> Path:
    """The folder of a real dataset under ``SHARED_DATA``, or skip the test saying why."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"real dataset {name!r} not found at {folder} (set INVTRANSFER_DATA)")
    return folder


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write ``array`` (uint8) as an IDX file, gzipped if ``compress``."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_mnist_layout(root: Path, per_class: int = 40, classes: int = 4, gz: bool = True):
    """The four MNIST IDX files with random images, ``per_class`` of each class per split."""
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix in ("train", "t10k"):
        labels = np.repeat(np.arange(classes), per_class).astype(np.uint8)
        images = (rng.random((len(labels), 28, 28)) > 0.8).astype(np.uint8) * 255
        write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
    return root


def write_image(path: Path, rng: np.random.Generator, size: tuple[int, int], mode: str = "RGB"):
    """A random image of ``size`` (width, height), grayscale (``mode="L"``) or RGB, in the
    format its suffix names (PNG and PPM keep the pixels exactly, JPEG does not)."""
    width, height = size
    shape = (height, width) if mode == "L" else (height, width, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def write_class_folders(
    root: Path,
    splits: dict[str, dict[str, int]],
    size: tuple[int, int] = (8, 6),
    mode: str = "RGB",
    suffix: str = ".png",
    seed: int = 0,
) -> Path:
    """``root/<split>/<class>/NNN<suffix>``: ``splits[split][class]`` random images each."""
    rng = np.random.default_rng(seed)
    for split, counts in splits.items():
        for name, count in counts.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                write_image(root / split / name / f"{i:03d}{suffix}", rng, size, mode)
    return root


def write_split_lists(
    root: Path, lists: dict[str, list[int]], size: tuple[int, int] = (10, 8), seed: int = 0
) -> Path:
    """The ImageNet-LT list format: for each list file name, one JPEG per label under
    ``<stem>/<label>/`` and a line ``<stem>/<label>/<i>.jpg <label>`` (after a blank line
    and with a path holding a space, as list files may)."""
    rng = np.random.default_rng(seed)
    for name, labels in lists.items():
        stem = Path(name).stem
        lines = [""]
        for i, label in enumerate(labels):
            relative = f"{stem}/{label:04d}/{'my image' if i == 0 else 'image'} {i}.jpg"
            write_image(root / relative, rng, size, "L" if i == 1 else "RGB")
            lines.append(f"{relative} {label}")
        (root / name).write_text("\n".join(lines) + "\n")
    return root


GTSRB_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"
"""The columns of every GTSRB annotation file."""


def write_gtsrb(
    root: Path,
    train: list[int],
    test: list[int],
    official: bool = False,
    test_csv: str = "GT-final_test.csv",
) -> Path:
    """GTSRB with ``train[c]`` / ``test[c]`` images of class ``c``, in the official archives'
    layout (``GTSRB/Final_Training/Images`` with per-class CSVs, the test CSV at ``test_csv``
    under ``root``) or in torchvision's (``gtsrb/GTSRB/Training``, ``gtsrb/GT-final_test.csv``).
    Both layouts hold the same pixels for the same arguments."""
    rng = np.random.default_rng(0)
    base = root if official else root / "gtsrb"
    training = base / "GTSRB" / ("Final_Training/Images" if official else "Training")
    for label, count in enumerate(train):
        folder = training / f"{label:05d}"
        rows = [GTSRB_HEADER]
        for i in range(count):
            write_image(folder / f"00000_{i:05d}.ppm", rng, (10 + i % 3, 12))
            rows.append(f"00000_{i:05d}.ppm;{10 + i % 3};12;1;1;9;11;{label}")
        (folder / f"GT-{label:05d}.csv").write_text("\n".join(rows) + "\n")
    images = base / "GTSRB" / "Final_Test" / "Images"
    rows = [GTSRB_HEADER]
    labels = [label for label, count in enumerate(test) for _ in range(count)]
    for i, label in enumerate(labels):
        write_image(images / f"{i:05d}.ppm", rng, (14, 11))
        rows.append(f"{i:05d}.ppm;14;11;1;1;13;10;{label}")
    without_labels = [row.rsplit(";", 1)[0] for row in rows]  # as the test-images archive has
    (images / "GT-final_test.test.csv").write_text("\n".join(without_labels) + "\n")
    csv = root / test_csv if official else base / "GT-final_test.csv"
    csv.write_text("\n".join(rows) + "\n")
    return root


def unpacked_cifar10(folder: Path) -> Path:
    """The CIFAR-10 JPEG folders of ``SHARED_DATA`` unpacked into ``folder`` (about 10 s), or
    skip the test saying why."""
    archive = real_data("cifar10") / "cifar10-jpeg.tar.xz"
    if not archive.is_file():
        pytest.skip(f"real dataset archive {archive} not found (set INVTRANSFER_DATA)")
    subprocess.run(["tar", "-xJf", str(archive), "-C", str(folder)], check=True)
    return folder
