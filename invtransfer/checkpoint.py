"""Checkpoint folders that are written atomically and read without unpickling anything.

A folder holds ``NAME.safetensors`` files (tensors) and ``NAME.json`` files (everything
else). It is written under a temporary name beside its target and renamed into place only
when every file is on disk, so a killed process leaves either the old folder or the new one,
never half of one. Reading parses only safetensors and JSON; a file that is a pickle (or
anything else) is refused before a byte of it is interpreted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

__all__ = [
    "latest_numbered",
    "load_module",
    "optimizer_from_files",
    "optimizer_to_files",
    "read_json",
    "prune_numbered",
    "read_tensors",
    "write_folder",
]

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # a raw pickle, or torch.save's zip archive


def write_folder(
    target: str | Path,
    tensors: Mapping[str, Mapping[str, Tensor]],
    documents: Mapping[str, Any],
) -> Path:
    """Write ``NAME.safetensors`` for each of ``tensors`` and ``NAME.json`` for each of
    ``documents`` into the folder ``target``, atomically. An old folder of such files is
    replaced whole; a folder holding anything else is refused, not deleted.

    Examples:
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp()) / "ckpt"
        >>> _ = write_folder(folder, {"weights": {"w": torch.ones(2)}}, {"meta": {"step": 3}})
        >>> sorted(p.name for p in folder.iterdir())
        ['meta.json', 'weights.safetensors']
        >>> read_json(folder, "meta"), read_tensors(folder, "weights")["w"].tolist()
        ({'step': 3}, [1.0, 1.0])
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        for name, group in tensors.items():
            path = staging / f"{name}.safetensors"
            save_file(
                {key: value.detach().cpu().contiguous() for key, value in group.items()}, path
            )
            _fsync(path)
        for name, document in documents.items():
            path = staging / f"{name}.json"
            path.write_text(json.dumps(document, indent=1, allow_nan=False))
            _fsync(path)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def latest_numbered(folder: str | Path, stem: str) -> Path | None:
    """The complete ``folder/STEM-NNNN`` with the highest number, if any (folders still being
    written have other, hidden names).

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("iter-0000009", "iter-0000010", ".iter-0000011.partial-x"):
        ...     (folder / name).mkdir()
        >>> latest_numbered(folder, "iter").name
        'iter-0000010'
    """
    numbered = _numbered(Path(folder), stem)
    return numbered[-1] if numbered else None


def prune_numbered(folder: str | Path, stem: str, keep: int, spare: str | None = None) -> None:
    """Delete all but the newest ``keep`` ``folder/STEM-NNNN`` (and the one named ``spare``),
    and any partial folders a killed process left behind."""
    folder = Path(folder)
    for old in _numbered(folder, stem)[:-keep]:
        if old.name != spare:
            shutil.rmtree(old)
    for partial in folder.glob(f".{stem}-*.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)


def _numbered(folder: Path, stem: str) -> list[Path]:
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(stem)}-(\d+)$")
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := pattern.match(p.name))]
    return [path for _, path in sorted(found)]


def read_tensors(folder: str | Path, name: str) -> dict[str, Tensor]:
    """The tensors of ``folder/NAME.safetensors`` (on the CPU), with a clear error if the file
    is missing, truncated, corrupt or not safetensors at all (a pickle is never loaded)."""
    path = _existing(folder, f"{name}.safetensors")
    with path.open("rb") as file:
        head = file.read(4)
    if head.startswith(_PICKLE_MAGIC):
        raise ValueError(
            f"{path}: this is a pickle (or a torch.save archive), not safetensors; pickles "
            f"can run arbitrary code and are never loaded"
        )
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(
            f"{path}: not a readable safetensors file (corrupt or truncated): {error}"
        ) from None


def read_json(folder: str | Path, name: str) -> Any:
    """The parsed ``folder/NAME.json``, with a clear error if it is missing or corrupt."""
    path = _existing(folder, f"{name}.json")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON (corrupt or truncated): {error}") from None


def load_module(module: nn.Module, folder: str | Path, name: str) -> None:
    """Load ``folder/NAME.safetensors`` into ``module``; a missing, extra or misshapen tensor
    is an error that names it."""
    state = read_tensors(folder, name)
    expected = module.state_dict()
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} has shape {tuple(state[key].shape)}, the model needs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    if problems:
        raise ValueError(
            f"{Path(folder) / name}.safetensors does not match this {type(module).__name__} "
            f"(was it saved with another config?): {'; '.join(problems[:5])}"
        )
    module.load_state_dict(state)


def optimizer_to_files(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's (or scheduler's) ``state_dict`` into tensors and JSON.

    Examples:
        >>> import torch
        >>> model = nn.Linear(2, 1)
        >>> adam = torch.optim.Adam(model.parameters())
        >>> model(torch.ones(1, 2)).sum().backward(); adam.step()
        >>> tensors, document = optimizer_to_files(adam.state_dict())
        >>> sorted(tensors)[:2]
        ['state.0.exp_avg', 'state.0.exp_avg_sq']
        >>> fresh = torch.optim.Adam(model.parameters())
        >>> fresh.load_state_dict(optimizer_from_files(tensors, document))
    """
    tensors: dict[str, Tensor] = {}

    def split(value: Any, key: str) -> Any:
        if isinstance(value, Tensor):
            tensors[key] = value
            return {"__tensor__": key}
        if isinstance(value, dict):
            return {"__dict__": [[k, split(v, f"{key}.{k}")] for k, v in value.items()]}
        if isinstance(value, (list, tuple)):
            return [split(v, f"{key}.{i}") for i, v in enumerate(value)]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"{key}: cannot store a {type(value).__name__} without pickling")

    document = {key: split(value, key) for key, value in state.items()}
    return tensors, document


def optimizer_from_files(tensors: Mapping[str, Tensor], document: Mapping[str, Any]) -> dict:
    """Rebuild the ``state_dict`` that `optimizer_to_files` split."""

    def join(value: Any) -> Any:
        if isinstance(value, dict) and "__tensor__" in value:
            if value["__tensor__"] not in tensors:
                raise ValueError(f"optimizer state: tensor {value['__tensor__']!r} is missing")
            return tensors[value["__tensor__"]]
        if isinstance(value, dict) and "__dict__" in value:
            return {k: join(v) for k, v in value["__dict__"]}  # pairs keep int keys
        if isinstance(value, list):
            return [join(v) for v in value]
        return value

    return {key: join(value) for key, value in document.items()}


def _existing(folder: str | Path, filename: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: expected a checkpoint folder, found none")
    path = folder / filename
    if not path.is_file():
        present = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(f"{folder}: expected {filename}, found {present}")
    return path


def _swap_into_place(staging: Path, target: Path) -> None:
    _fsync(staging)
    if target.exists():
        foreign = [p.name for p in target.iterdir() if p.suffix not in (".json", ".safetensors")]
        if not target.is_dir() or foreign:
            raise ValueError(
                f"{target}: expected a new folder or one written before (only .json and "
                f".safetensors files), found {foreign or 'a file'}; refusing to replace it"
            )
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, retired / target.name)
        os.replace(staging, target)
        shutil.rmtree(retired)
    else:
        os.replace(staging, target)
    _fsync(target.parent)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
