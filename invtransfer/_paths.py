"""Run folders as sandboxes: paths that stay inside, names safe as path parts, atomic writes.

Every reader and writer of a run folder (the runner, the report, the checkpoints) goes through
these helpers, so that a symbolic link or a name such as ``../../x`` placed in a folder never
makes the library read, write or delete anything outside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["fsync", "inside", "safe_name", "write_bytes", "write_text"]


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` resolved (symbolic links followed), refused unless it lies inside ``root``.

    A path that does not exist yet resolves through the parts that do, so a link anywhere on
    the way (a linked ``report/``) is followed before the check.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> inside(root, root / "runs" / "ce-seed0") == root.resolve() / "runs" / "ce-seed0"
        True
        >>> inside(root, root / "runs" / ".." / ".." / "x")
        Traceback (most recent call last):
        ...
        ValueError: .../runs/../../x: expected a path inside ..., received one that leaves it
        (through '..' or a symbolic link)
    """
    base, resolved = Path(root).resolve(), Path(path).resolve()
    if resolved != base and base not in resolved.parents:
        raise ValueError(
            f"{path}: expected a path inside {root}, received one that leaves it (through '..' "
            f"or a symbolic link)"
        )
    return resolved


def safe_name(name: object, what: str) -> str:
    """``name`` if it can be one part of a path (a method, a replicate, a config's name):
    a non-empty string without ``/``, ``\\``, NUL, and other than ``.`` and ``..``.

    Examples:
        >>> safe_name("ce_drs+git", "method")
        'ce_drs+git'
        >>> safe_name("../../x", "method")
        Traceback (most recent call last):
        ...
        ValueError: method: expected a name without '/', '\\', NUL, '.' or '..' (one part of a
        path), received '../../x'
    """
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or any(c in name for c in ("/", "\\", "\0"))
    ):
        raise ValueError(
            f"{what}: expected a name without '/', '\\', NUL, '.' or '..' (one part of a path), "
            f"received {name!r}"
        )
    return name


def write_bytes(path: str | Path, data: bytes, root: str | Path) -> Path:
    """Write ``data`` to ``path`` inside ``root`` atomically: into a temporary file beside it,
    synced, then renamed over it, so a killed process leaves the old file or the new one.
    A symbolic link at ``path``, or a folder on the way that leads out of ``root``, is
    refused: nothing is written through it. A folder that may not be written, or a full
    disk, gives the `OSError` naming ``path`` (not a temporary file).

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> write_bytes(root / "report" / "a.bin", b"new", root).read_bytes()
        b'new'
        >>> (root / "link").symlink_to(root / "report" / "a.bin")
        >>> write_bytes(root / "link", b"x", root)
        Traceback (most recent call last):
        ...
        ValueError: .../link: expected a regular file or nothing, found a symbolic link;
        refusing to write through it (remove the link)
    """
    path = Path(path)
    if path.is_symlink():
        raise ValueError(
            f"{path}: expected a regular file or nothing, found a symbolic link; refusing to "
            f"write through it (remove the link)"
        )
    folder = inside(root, path.parent)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _replace(inside(root, folder / path.name), data)
    except OSError as error:
        raise type(error)(error.errno, error.strerror, str(path)) from None
    return path


def write_text(path: str | Path, text: str, root: str | Path) -> Path:
    """`write_bytes` of ``text`` encoded as UTF-8.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> write_text(root / "config.json", "{}", root).read_text()
        '{}'
    """
    return write_bytes(path, text.encode("utf-8"), root)


def _replace(target: Path, data: bytes) -> None:
    """Write ``data`` to a synced temporary file beside ``target``, then rename it over."""
    descriptor, partial = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    fsync(target.parent)


def fsync(path: Path) -> None:
    """Flush a file or a folder (its entries) to the disk.

    Examples:
        >>> import tempfile
        >>> fsync(Path(tempfile.gettempdir()))
    """
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
