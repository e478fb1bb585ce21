"""Small dataset files written by the tests, and the location of the real data if present."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
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
