"""Readers for the files image datasets ship as: IDX (MNIST, KMNIST) and NumPy ``.npz`` (K49).

They read only the files they are pointed at and say which file is missing or malformed.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["find_file", "read_idx", "read_npz"]

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> Tensor:
    """Read an IDX file (raw or ``.gz``) into a tensor of its stored shape.

    Examples:
        >>> import tempfile, os
        >>> header = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "tiny-idx2-ubyte")
        ...     _ = open(path, "wb").write(header + bytes(range(6)))
        ...     read_idx(path).tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path)
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
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path}: expected {expected} bytes for an IDX array of shape {shape}, "
            f"received {len(data)} (truncated or corrupt)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def read_npz(path: str | Path, key: str = "arr_0") -> Tensor:
    """Read array ``key`` of a NumPy ``.npz`` file (Kuzushiji-49 stores ``arr_0``), no pickles.

    Examples:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "labels.npz")
        ...     np.savez(path, np.array([3, 1, 4], dtype=np.uint8))
        ...     read_npz(path).tolist()
        [3, 1, 4]
    """
    path = Path(path)
    _check_exists(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = archive.files
            array = np.array(archive[key]) if key in names else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from error
    if array is None:
        raise ValueError(f"{path}: expected an array named {key!r}, found {names}")
    return torch.from_numpy(array)


def find_file(root: str | Path, names: list[str]) -> Path:
    """The first of ``names`` (relative paths) that exists under ``root``.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "b.gz").write_bytes(b"")
        ...     find_file(folder, ["a", "b.gz"]).name
        'b.gz'
    """
    root = Path(root)
    for name in names:
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(
        f"{root}: expected one of {names} under this folder, found none "
        "(nothing is downloaded: point root at a folder holding the files)"
    )


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
