"""Readers for the files image datasets ship as: IDX (MNIST, KMNIST) and NumPy ``.npz`` (K49).

They read only the files they are pointed at and say which file is missing or malformed.
"""

from __future__ import annotations

import gzip
import math
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from invtransfer._validation import one_of, path_like

__all__ = ["KINDS", "find_file", "read_idx", "read_npz"]

KINDS = ("images", "labels")
"""What a read array may be checked to hold: ``uint8`` pixel values, or class labels."""

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path, kind: str | None = None) -> Tensor:
    """Read an IDX file (raw or ``.gz``) into a tensor of its stored shape.

    With ``kind``, the values are checked and converted without loss: ``"images"`` gives
    ``uint8`` from integer values in [0, 255], ``"labels"`` gives ``int64`` from 1-D integer
    values >= 0; anything else (floats, values out of range) is a ``ValueError`` naming the
    file, never a silent cast.

    Examples:
        >>> import tempfile, os
        >>> header = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "tiny-idx2-ubyte")
        ...     _ = open(path, "wb").write(header + bytes(range(6)))
        ...     read_idx(path).tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    path = path_like("path", path)
    _check_kind(kind)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path}: expected an IDX file (magic number 0x0000 then a type byte in "
            f"{sorted(hex(t) for t in _IDX_TYPES)}), received first bytes {data[:4].hex()}"
        )
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, expected {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if 0 in shape:
        raise ValueError(f"{path}: expected IDX dimensions >= 1, received shape {shape}")
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        raise ValueError(
            f"{path}: expected {expected} bytes for an IDX array of shape {shape}, "
            f"received {len(data)} (truncated or corrupt)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return _checked(torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True)), path, kind)


def read_npz(path: str | Path, key: str = "arr_0", kind: str | None = None) -> Tensor:
    """Read array ``key`` of a NumPy ``.npz`` file (Kuzushiji-49 stores ``arr_0``), no pickles.

    ``kind`` checks and converts the values as in `read_idx`.

    Examples:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "labels.npz")
        ...     np.savez(path, np.array([3, 1, 4], dtype=np.uint8))
        ...     read_npz(path).tolist()
        [3, 1, 4]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "labels.npz")
        ...     np.savez(path, np.array([0.9, 1.0]))
        ...     read_npz(path, kind="labels")
        Traceback (most recent call last):
        ...
        ValueError: ...labels.npz: expected integer labels, received dtype torch.float64
    """
    path = path_like("path", path)
    if not isinstance(key, str):
        raise TypeError(f"key: expected the name of an array, received {key!r}")
    _check_kind(kind)
    _check_exists(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = archive.files
            array = np.array(archive[key]) if key in names else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from error
    if array is None:
        raise ValueError(f"{path}: expected an array named {key!r}, found {names}")
    if array.dtype.hasobject or array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected a numeric array, received dtype {array.dtype}")
    return _checked(torch.from_numpy(array), path, kind)


def find_file(root: str | Path, names: list[str]) -> Path:
    """The first of ``names`` (relative paths) that exists under ``root``.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "b.gz").write_bytes(b"")
        ...     find_file(folder, ["a", "b.gz"]).name
        'b.gz'
    """
    root = path_like("root", root)
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise TypeError(f"names: expected a list of relative paths, received {names!r}")
    for name in names:
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(
        f"{root}: expected one of {names} under this folder, found none "
        "(nothing is downloaded: point root at a folder holding the files)"
    )


def _check_kind(kind: str | None) -> None:
    one_of("kind", kind, (*KINDS, None))


def _checked(values: Tensor, path: Path, kind: str | None) -> Tensor:
    """``values`` converted to what ``kind`` holds, refusing anything the cast would change."""
    if kind is None:
        return values
    if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
        raise ValueError(f"{path}: expected integer {kind}, received dtype {values.dtype}")
    if kind == "labels" and values.ndim != 1:
        raise ValueError(f"{path}: expected 1-D labels, received shape {tuple(values.shape)}")
    if kind == "images" and values.ndim not in (3, 4):
        raise ValueError(
            f"{path}: expected images (N, H, W) or (N, C, H, W), received shape "
            f"{tuple(values.shape)}"
        )
    high = 255 if kind == "images" else None
    if values.numel():
        low, top = int(values.min()), int(values.max())
        if low < 0 or (high is not None and top > high):
            bounds = "in [0, 255]" if high is not None else ">= 0"
            raise ValueError(f"{path}: expected {kind} {bounds}, received values {low} to {top}")
    return values.to(torch.uint8 if kind == "images" else torch.long)


def _read_bytes(path: Path) -> bytes:
    _check_exists(path)
    if path.suffix == ".gz":
        try:
            return gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: not a readable gzip file ({error})") from error
    return path.read_bytes()


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
