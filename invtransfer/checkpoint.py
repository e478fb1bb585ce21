"""Checkpoints that are written atomically and read without unpickling anything.

Two layers, shared by every loop that saves (`MUNITTrainer`, the experiment runner's
classifier loop, yours):

- `Checkpoints` keeps a training run's numbered checkpoints, ``FOLDER/STEM-NNNNNNN/``: it
  saves modules, optimizers, schedulers and a JSON state, finds the latest, loads it all back
  for an exact resume, keeps the newest few (and any spares) and forks another run's
  checkpoint.
- The file layer below it: a folder of ``NAME.safetensors`` files (tensors) and ``NAME.json``
  files (everything else), written by `write_folder` and read by `read_tensors`, `read_json`
  and `load_module`.

A folder is written under a temporary, hidden name beside its target and swapped into place
only when every file is on disk, with one atomic exchange of the two folders (Linux's
``renameat2(RENAME_EXCHANGE)``), so a killed process leaves either the old folder or the new
one at the target, never half of one and never none. (Where the exchange is not available, two
renames are made and the old folder waits in a hidden ``.NAME.old-*`` folder between them.)
Reading parses only safetensors and JSON; a file that is a pickle (or anything else) is
refused before a byte of it is interpreted, and what is read back is checked: weights must be
finite and of the module's dtype, optimizer and schedule settings must be those of the caller
(a saved ``base_lrs: [1e6]`` is refused), counters may be bounded (`Checkpoints.load`).
A checkpoints folder that is a symbolic link is refused, and pruning deletes only folders
holding nothing but the files this module writes.
"""

from __future__ import annotations

import copy
import ctypes
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.optim import Optimizer

from invtransfer._paths import fsync
from invtransfer._validation import check_positive_ints, instance, path_like

__all__ = [
    "Checkpoints",
    "latest_numbered",
    "load_module",
    "non_finite",
    "optimizer_from_files",
    "optimizer_to_files",
    "prune_numbered",
    "read_json",
    "read_tensors",
    "write_folder",
]

log = logging.getLogger(__name__)

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # a raw pickle, or torch.save's zip archive
_MARKERS = ("__tensor__", "__dict__", "__float__")  # JSON for what JSON cannot say itself
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_OPTIMIZERS, _TRAINING = "optimizers", "training"
_RESERVED_KEYS = (_OPTIMIZERS, "schedulers", *_MARKERS)  # in training.json, beside the state


class Checkpoints:
    """The numbered checkpoints of one training run: ``folder/STEM-NNNNNNN/``, each a folder
    of safetensors and JSON written atomically.

    A checkpoint holds ``MODULE.safetensors`` for each module (its ``state_dict``),
    ``optimizers.safetensors`` (every optimizer's tensors, as ``NAME.KEY``), ``training.json``
    (your ``state``, with each optimizer's other state under ``"optimizers"`` and each
    scheduler's under ``"schedulers"``) and ``DOCUMENT.json`` for each extra document.
    JSON keeps what plain JSON would lose: integer dict keys, infinities and NaN come back as
    they were saved. `load` restores all of it, so a resumed run goes on exactly as an
    uninterrupted one. `save` writes on the calling process only: under DDP, call it on one
    rank and let the others wait (a barrier) before they read.

    Args:
        folder: where the checkpoints go (created on the first `save`).
        stem: the folders' name before the number (``"iter"``, ``"epoch"``).
        keep: how many of the newest checkpoints `save` keeps.
        spare: steps whose checkpoints are never pruned (a run that others fork from).
        digits: the width of the zero-padded step in the folders' names.

    Examples:
        >>> import tempfile, torch
        >>> model = torch.nn.Linear(2, 1)
        >>> sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> schedule = torch.optim.lr_scheduler.StepLR(sgd, step_size=2)
        >>> checkpoints = Checkpoints(tempfile.mkdtemp(), "epoch", keep=1, spare=[1], digits=4)
        >>> for epoch in range(1, 4):
        ...     model(torch.ones(1, 2)).sum().backward(); sgd.step(); schedule.step()
        ...     _ = checkpoints.save(epoch, {"model": model}, {"sgd": sgd}, {"lr": schedule},
        ...                          state={"epoch": epoch})
        >>> sorted(p.name for p in checkpoints.folder.iterdir())  # the newest and the spare
        ['epoch-0001', 'epoch-0003']

        A new process resumes from the latest:

        >>> fresh = torch.nn.Linear(2, 1)
        >>> fresh_sgd = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
        >>> fresh_schedule = torch.optim.lr_scheduler.StepLR(fresh_sgd, step_size=2)
        >>> checkpoints.load(checkpoints.latest(), {"model": fresh}, {"sgd": fresh_sgd},
        ...                  {"lr": fresh_schedule})
        {'epoch': 3}
        >>> torch.equal(fresh.weight, model.weight), fresh_sgd.param_groups[0]["lr"]
        (True, 0.010000000000000002)
    """

    def __init__(
        self,
        folder: str | Path,
        stem: str,
        keep: int = 2,
        spare: Iterable[int] = (),
        digits: int = 7,
    ) -> None:
        _check_name("stem", stem)
        check_positive_ints(keep=keep, digits=digits)
        self.folder = path_like("folder", folder)
        self.stem = stem
        self.keep = keep
        self.spare = tuple(instance("spare", spare, (list, tuple, set, frozenset, range)))
        for index, step in enumerate(self.spare):
            _check_step(f"spare[{index}]", step)
        self.digits = digits

    def path(self, step: int) -> Path:
        """The folder of the checkpoint at ``step`` (whether or not it exists).

        Examples:
            >>> Checkpoints("runs/a/checkpoints", "epoch", digits=4).path(12).name
            'epoch-0012'
        """
        _check_step("step", step)
        return self.folder / f"{self.stem}-{step:0{self.digits}d}"

    def latest(self) -> Path | None:
        """The complete checkpoint with the highest step, if any (folders still being written,
        or left half-written by a killed process, have hidden names and are ignored).

        Examples:
            >>> import tempfile
            >>> Checkpoints(tempfile.mkdtemp(), "iter").latest() is None
            True
        """
        return latest_numbered(self.folder, self.stem)

    def save(
        self,
        step: int,
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, Optimizer] | None = None,
        schedulers: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
        documents: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the checkpoint at ``step`` atomically (replacing one of the same step), then
        delete all but the newest ``keep`` and the spares, and anything a killed save left.

        Args:
            step: the checkpoint's number (an iteration, an epoch).
            modules: the modules whose ``state_dict`` to save, by name (pass a DDP or
                compiled model's inner module).
            optimizers: the optimizers, by name.
            schedulers: learning-rate schedulers by name, or anything else with
                ``state_dict`` and ``load_state_dict`` whose state is numbers, strings,
                lists and dicts (a ``GradScaler``, a sampler).
            state: your counters and settings (numbers, strings, lists, dicts), returned by
                `load`; ``"optimizers"`` and ``"schedulers"`` are taken.
            documents: more JSON files, ``NAME.json`` (a model's config, say), written as
                plain JSON for other tools to read (`read_json`).

        Returns:
            The checkpoint's folder.

        Examples:
            >>> import tempfile, torch
            >>> checkpoints = Checkpoints(tempfile.mkdtemp(), "iter")
            >>> path = checkpoints.save(5, {"net": torch.nn.Linear(2, 1)}, state={"seen": 40},
            ...                         documents={"config": {"width": 2}})
            >>> path.name
            'iter-0000005'
            >>> sorted(p.name for p in path.iterdir())
            ['config.json', 'net.safetensors', 'optimizers.safetensors', 'training.json']
        """
        target = self.path(step)
        optimizers, schedulers = dict(optimizers or {}), dict(schedulers or {})
        state, documents = dict(state or {}), dict(documents or {})
        _check_names(modules, optimizers, schedulers, state, documents)
        tensors = {name: module.state_dict() for name, module in modules.items()}
        tensors[_OPTIMIZERS], training = {}, _encode(state, "state", None)
        training[_OPTIMIZERS] = {}
        for name, optimizer in optimizers.items():
            own, training[_OPTIMIZERS][name] = optimizer_to_files(optimizer.state_dict())
            tensors[_OPTIMIZERS].update({f"{name}.{key}": value for key, value in own.items()})
        training["schedulers"] = {
            name: _encode(scheduler.state_dict(), f"schedulers.{name}", None)
            for name, scheduler in schedulers.items()
        }
        write_folder(target, tensors, {**documents, _TRAINING: training})
        prune_numbered(self.folder, self.stem, self.keep, [self.path(s).name for s in self.spare])
        return target

    def step_of(self, path: str | Path) -> int:
        """The step in the name of the checkpoint folder ``path`` (``epoch-0012``: 12).

        Examples:
            >>> Checkpoints("runs/a/checkpoints", "epoch", digits=4).step_of("x/epoch-0012")
            12
        """
        match = re.match(rf"^{re.escape(self.stem)}-(\d+)$", Path(path).name)
        if match is None:
            raise ValueError(
                f"path: expected a checkpoint folder named {self.stem}-NNNN, received {str(path)!r}"
            )
        return int(match.group(1))

    def read_state(
        self, path: str | Path, bounds: Mapping[str, tuple[int, int]] | None = None
    ) -> dict[str, Any]:
        """The ``state`` saved in the checkpoint ``path``, without loading anything else (to
        check that a run may resume from it before `load`).

        ``bounds`` maps state keys to the inclusive range ``(low, high)`` their int must lie
        in (``{"epoch": (0, epochs)}``); a value out of range, or missing, is refused.

        Examples:
            >>> import tempfile, torch
            >>> checkpoints = Checkpoints(tempfile.mkdtemp(), "iter")
            >>> path = checkpoints.save(1, {}, state={"counts": {3: 7}, "best": float("inf")})
            >>> checkpoints.read_state(path)
            {'counts': {3: 7}, 'best': inf}
            >>> path = checkpoints.save(2, {}, state={"epoch": 1000000000})
            >>> checkpoints.read_state(path, bounds={"epoch": (0, 30)})
            Traceback (most recent call last):
            ...
            ValueError: .../iter-0000002/training.json: expected epoch an int in [0, 30],
            received 1000000000
        """
        state = _state_of(read_json(path, _TRAINING))
        for key, (low, high) in (bounds or {}).items():
            value = state.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(
                    f"{Path(path) / f'{_TRAINING}.json'}: expected {key} an int in "
                    f"[{low}, {high}], received {value!r}"
                )
        return state

    def load(
        self,
        path: str | Path,
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, Optimizer] | None = None,
        schedulers: Mapping[str, Any] | None = None,
        bounds: Mapping[str, tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        """Restore the checkpoint ``path`` (of this run or another) into ``modules``,
        ``optimizers`` and ``schedulers``, named as they were saved; return its ``state``
        (with ``bounds`` checked, as `read_state` does).

        Every file is read and checked before anything is loaded: a missing, corrupt or
        pickled file, a module, optimizer or scheduler the checkpoint has and you did not
        pass (or the reverse), a missing, extra or misshapen tensor, a weight of another
        dtype or not finite, an optimizer with other parameter groups or other settings
        than yours (any but the learning rate), and a learning-rate schedule with other
        base rates, or whose rate is not the one its formula gives at its step, are errors
        that name them.

        Examples:
            >>> import tempfile, torch
            >>> checkpoints = Checkpoints(tempfile.mkdtemp(), "iter")
            >>> path = checkpoints.save(1, {"net": torch.nn.Linear(2, 1)})
            >>> checkpoints.load(path, {"net": torch.nn.Linear(3, 1)})
            Traceback (most recent call last):
            ...
            ValueError: .../iter-0000001/net.safetensors does not match this Linear ...: weight has
            shape (1, 2), the model needs (1, 3)
        """
        optimizers, schedulers = dict(optimizers or {}), dict(schedulers or {})
        state = self.read_state(path, bounds)
        training = read_json(path, _TRAINING)
        module_states = {name: read_tensors(path, name) for name in modules}
        saved = {p.stem for p in Path(path).glob("*.safetensors")} - {_OPTIMIZERS}
        _check_same(path, "modules", saved, modules)
        _check_same(path, _OPTIMIZERS, training.get(_OPTIMIZERS, {}), optimizers)
        _check_same(path, "schedulers", training.get("schedulers", {}), schedulers)
        for name, module in modules.items():
            _check_module_state(module, module_states[name], Path(path) / f"{name}.safetensors")
        optimizer_states = _optimizer_states(path, training.get(_OPTIMIZERS, {}), optimizers)
        scheduler_states = {
            name: _scheduler_state(path, name, scheduler, _decode(training["schedulers"][name], {}))
            for name, scheduler in schedulers.items()
        }
        _check_rates(path, schedulers, scheduler_states, optimizers, optimizer_states)
        for name, module in modules.items():
            module.load_state_dict(module_states[name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(optimizer_states[name])
        for name, scheduler in schedulers.items():
            scheduler.load_state_dict(scheduler_states[name])
        return state

    def fork(self, source: str | Path) -> Path:
        """Copy the checkpoint ``source`` of another run (same stem) into this run, which has
        no checkpoint yet, atomically and under the same step: the run then resumes from it
        (a method that trains as another until some epoch starts from that run's checkpoint).

        Examples:
            >>> import tempfile, torch
            >>> base = Checkpoints(tempfile.mkdtemp(), "epoch", digits=4)
            >>> _ = base.save(4, {"model": torch.nn.Linear(2, 1)}, state={"epoch": 4})
            >>> other = Checkpoints(tempfile.mkdtemp(), "epoch", digits=4)
            >>> if other.latest() is None and base.path(4).is_dir():
            ...     print(other.fork(base.path(4)).name)
            epoch-0004
            >>> other.read_state(other.latest())
            {'epoch': 4}
        """
        source = Path(source)
        match = re.match(rf"^{re.escape(self.stem)}-(\d+)$", source.name)
        if match is None:
            raise ValueError(
                f"source: expected a checkpoint folder named {self.stem}-NNNN, received "
                f"{str(source)!r}"
            )
        _existing(source, _TRAINING, ".json")
        if (latest := self.latest()) is not None:
            raise ValueError(
                f"{self.folder}: expected no checkpoint before a fork, found {latest.name}"
            )
        files = sorted(source.iterdir())
        if foreign := _foreign(files):
            raise ValueError(
                f"source: expected a folder of .json and .safetensors files, found {foreign} "
                f"in {source}"
            )

        def copy(staging: Path) -> None:
            for file in files:
                shutil.copyfile(file, staging / file.name)
                fsync(staging / file.name)

        return _write_atomically(self.path(int(match.group(1))), copy)


def write_folder(
    target: str | Path,
    tensors: Mapping[str, Mapping[str, Tensor]],
    documents: Mapping[str, Any],
) -> Path:
    """Write ``NAME.safetensors`` for each of ``tensors`` and ``NAME.json`` for each of
    ``documents`` into the folder ``target``, atomically. An old folder of such files is
    replaced whole; a folder holding anything else is refused, not deleted. Tensors that
    share memory (tied weights) are each stored whole.

    Examples:
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp()) / "ckpt"
        >>> _ = write_folder(folder, {"weights": {"w": torch.ones(2)}}, {"meta": {"step": 3}})
        >>> sorted(p.name for p in folder.iterdir())
        ['meta.json', 'weights.safetensors']
        >>> read_json(folder, "meta"), read_tensors(folder, "weights")["w"].tolist()
        ({'step': 3}, [1.0, 1.0])
    """

    def fill(staging: Path) -> None:
        for name, group in tensors.items():
            path = staging / f"{name}.safetensors"
            save_file(_unshared(group), path)
            fsync(path)
        for name, document in documents.items():
            path = staging / f"{name}.json"
            path.write_text(json.dumps(document, indent=1, allow_nan=False))
            fsync(path)

    return _write_atomically(Path(target), fill)


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
    numbered = _numbered(path_like("folder", folder), stem)
    return numbered[-1] if numbered else None


def prune_numbered(folder: str | Path, stem: str, keep: int, spare: Collection[str] = ()) -> None:
    """Delete all but the newest ``keep`` ``folder/STEM-NNNN`` (and those named in ``spare``),
    and any hidden partial or retired folders a killed process left behind. Only folders that
    hold nothing but ``.json`` and ``.safetensors`` files (what `write_folder` writes) are
    deleted; anything else is left, with a warning, and a ``folder`` that is a symbolic link
    is refused.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("iter-1", "iter-2", "iter-3", ".iter-4.partial-x"):
        ...     (folder / name).mkdir()
        >>> prune_numbered(folder, "iter", keep=1, spare=["iter-1"])
        >>> sorted(p.name for p in folder.iterdir())
        ['iter-1', 'iter-3']
    """
    check_positive_ints(keep=keep)
    folder = path_like("folder", folder)
    leftovers = (*folder.glob(f".{stem}-*.partial-*"), *folder.glob(f".{stem}-*.old-*"))
    for old in [p for p in _numbered(folder, stem)[:-keep] if p.name not in spare] + [*leftovers]:
        if _written_here(old):
            shutil.rmtree(old)
        else:
            log.warning("%s: not deleted, it holds files this library does not write", old)


def _written_here(folder: Path) -> bool:
    """Whether ``folder`` (not a link) holds only folders and ``.json``/``.safetensors``
    files, none of them links: what `write_folder` leaves, whole or half-written."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            entry = Path(parent) / name
            if entry.is_symlink() or (name in files and _foreign([entry])):
                return False
    return True


def read_tensors(folder: str | Path, name: str) -> dict[str, Tensor]:
    """The tensors of ``folder/NAME.safetensors`` (on the CPU), with a clear error if the file
    is missing, truncated, corrupt or not safetensors at all (a pickle is never loaded).

    Examples:
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp())
        >>> torch.save({"w": torch.ones(1)}, folder / "weights.safetensors")
        >>> read_tensors(folder, "weights")
        Traceback (most recent call last):
        ...
        ValueError: .../weights.safetensors: this is a pickle (or a torch.save archive), not
        safetensors; pickles can run arbitrary code and are never loaded
    """
    path = _existing(folder, name, ".safetensors")
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
    """The parsed ``folder/NAME.json``, with a clear error if it is missing, corrupt or nested
    too deeply to parse.

    Examples:
        >>> import tempfile
        >>> read_json(tempfile.mkdtemp(), "training")
        Traceback (most recent call last):
        ...
        FileNotFoundError: ...: expected training.json, found []
    """
    path = _existing(folder, name, ".json")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON (corrupt or truncated): {error}") from None
    except RecursionError:
        raise ValueError(
            f"{path}: expected a JSON document of a checkpoint, received one nested too "
            f"deeply to parse"
        ) from None


def load_module(module: nn.Module, folder: str | Path, name: str) -> None:
    """Load ``folder/NAME.safetensors`` into ``module``; a missing, extra or misshapen tensor
    is an error that names it.

    Examples:
        >>> import tempfile, torch
        >>> folder = write_folder(Path(tempfile.mkdtemp()) / "c",
        ...                       {"net": torch.nn.Linear(2, 1).state_dict()}, {})
        >>> load_module(torch.nn.Linear(2, 1, bias=False), folder, "net")
        Traceback (most recent call last):
        ...
        ValueError: .../c/net.safetensors does not match this Linear (was it saved with
        another config?): unexpected bias
    """
    instance("module", module, nn.Module)
    state = read_tensors(folder, name)
    _check_module_state(module, state, Path(folder) / f"{name}.safetensors")
    module.load_state_dict(state)


def optimizer_to_files(state: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
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
    _check_optimizer_state("state", state)
    tensors: dict[str, Tensor] = {}
    return tensors, _encode(state, "", tensors)


def optimizer_from_files(tensors: Mapping[str, Tensor], document: Mapping[str, Any]) -> dict:
    """Rebuild the ``state_dict`` that `optimizer_to_files` split.

    Examples:
        >>> import torch
        >>> optimizer_from_files({"state.0.step": torch.tensor(2.0)},
        ...                      {"state": {"__dict__": [[0, {"step": {"__tensor__":
        ...                       "state.0.step"}}]]}, "param_groups": []})
        {'state': {0: {'step': tensor(2.)}}, 'param_groups': []}
    """
    instance("tensors", tensors, Mapping)
    _check_optimizer_state("document", document)
    return _decode(document, tensors)


def _check_optimizer_state(name: str, state: object) -> None:
    if not isinstance(state, Mapping) or not {"state", "param_groups"} <= set(state):
        raise ValueError(
            f"{name}: expected an optimizer's state_dict (a dict with 'state' and "
            f"'param_groups'), received {state!r:.80}"
        )


def _encode(value: Any, key: str, tensors: dict[str, Tensor] | None) -> Any:
    """``value`` as JSON: tensors moved into ``tensors`` (refused when it is None) and named
    by their key path, non-finite floats and dicts with keys other than strings marked."""
    if isinstance(value, Tensor):
        if tensors is None:
            raise TypeError(
                f"{key}: expected numbers, strings, lists and dicts, received a tensor "
                f"(tensors belong in a module or an optimizer)"
            )
        if key in tensors:
            raise ValueError(f"{key}: two tensors would be stored under this name")
        tensors[key] = value
        return {"__tensor__": key}
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [
            _encode(item, f"{key}.{i}" if key else str(i), tensors) for i, item in enumerate(value)
        ]
    if isinstance(value, Mapping):
        pairs = [
            (_encode_key(k, key), _encode(v, f"{key}.{k}" if key else str(k), tensors))
            for k, v in value.items()
        ]
        if all(isinstance(k, str) and k not in _MARKERS for k, _ in pairs):
            return dict(pairs)
        return {"__dict__": [list(pair) for pair in pairs]}
    raise TypeError(f"{key}: cannot store a {type(value).__name__} without pickling")


def _encode_key(key: Any, where: str) -> Any:
    if key is None or isinstance(key, (bool, int, str)):
        return key
    if isinstance(key, float) and math.isfinite(key):
        return key
    raise TypeError(f"{where}: cannot store a dict key {key!r} in JSON")


def _decode(value: Any, tensors: Mapping[str, Tensor]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and (marker := next(iter(value))) in _MARKERS:
            content = value[marker]
            if marker == "__float__":
                return float(content)
            if marker == "__dict__":
                return {k: _decode(v, tensors) for k, v in content}
            if content not in tensors:
                raise ValueError(f"saved state: tensor {content!r} is missing from the safetensors")
            return tensors[content]
        return {k: _decode(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(item, tensors) for item in value]
    return value


def _unshared(group: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """CPU, contiguous copies where needed, none sharing memory (safetensors refuses that)."""
    seen: set[int] = set()
    out = {}
    for key, value in group.items():
        value = value.detach().cpu().contiguous()
        if value.untyped_storage().data_ptr() in seen:
            value = value.clone()
        seen.add(value.untyped_storage().data_ptr())
        out[key] = value
    return out


def _check_module_state(module: nn.Module, state: Mapping[str, Tensor], path: Path) -> None:
    expected = module.state_dict()
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} has shape {tuple(state[key].shape)}, the model needs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems += [
        f"{key} has dtype {state[key].dtype}, the model needs {value.dtype}"
        for key, value in expected.items()
        if key in state and state[key].dtype != value.dtype
    ]
    problems += [f"{key} is not finite (NaN or infinite values)" for key in non_finite(state)]
    if problems:
        raise ValueError(
            f"{path} does not match this {type(module).__name__} "
            f"(was it saved with another config?): {'; '.join(problems[:5])}"
        )


def non_finite(tensors: Mapping[str, Tensor]) -> list[str]:
    """The keys of the floating-point tensors holding NaN or infinite values.

    Examples:
        >>> non_finite({"weight": torch.tensor([1.0, float("nan")]), "steps": torch.tensor(3)})
        ['weight']
    """
    return [
        key
        for key, value in instance("tensors", tensors, Mapping).items()
        if value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]


def _check_names(
    modules: Mapping[str, Any],
    optimizers: Mapping[str, Any],
    schedulers: Mapping[str, Any],
    state: Mapping[str, Any],
    documents: Mapping[str, Any],
) -> None:
    for kind, names in (
        ("modules", modules),
        ("optimizers", optimizers),
        ("schedulers", schedulers),
        ("documents", documents),
    ):
        if not isinstance(names, Mapping):
            raise TypeError(f"{kind}: expected a dict by name, received {type(names).__name__}")
        for name in names:
            _check_name(kind, name)
    for kind, names, expected in (
        ("modules", modules, nn.Module),
        ("optimizers", optimizers, Optimizer),
    ):
        for name, value in names.items():
            instance(f"{kind}[{name!r}]", value, expected)
    if _OPTIMIZERS in modules:
        raise ValueError(f"modules: expected names other than {_OPTIMIZERS!r}, received one")
    if _TRAINING in documents:
        raise ValueError(f"documents: expected names other than {_TRAINING!r}, received one")
    taken = [k for k in state if not isinstance(k, str) or k in _RESERVED_KEYS]
    if taken:
        raise ValueError(
            f"state: expected string keys other than {list(_RESERVED_KEYS)}, received {taken}"
        )


def _optimizer_states(
    path: str | Path, documents: Mapping[str, Any], optimizers: Mapping[str, Optimizer]
) -> dict[str, dict]:
    """Each optimizer's saved ``state_dict``, checked against its parameter groups."""
    tensors = read_tensors(path, _OPTIMIZERS) if optimizers else {}
    states = {}
    for name, optimizer in optimizers.items():
        prefix = f"{name}."
        own = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        states[name] = optimizer_from_files(own, documents[name])
        ours = [len(group["params"]) for group in optimizer.param_groups]
        theirs = [len(group["params"]) for group in states[name].get("param_groups", [])]
        if ours != theirs:
            raise ValueError(
                f"{path}: optimizer {name!r} has parameter groups of sizes {ours}, the "
                f"checkpoint's has {theirs}"
            )
        _check_optimizer_settings(path, name, optimizer, states[name]["param_groups"])
        if bad := non_finite(own):
            raise ValueError(f"{path}: optimizer {name!r} holds state that is not finite: {bad}")
    return states


def _check_optimizer_settings(
    path: str | Path, name: str, optimizer: Optimizer, saved: list[dict[str, Any]]
) -> None:
    """The saved parameter groups have the caller's settings (all but the learning rate,
    which a schedule moves: that one must be a finite number >= 0)."""
    for index, (group, theirs) in enumerate(zip(optimizer.param_groups, saved, strict=True)):
        lr = theirs.get("lr")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < math.inf:
            raise ValueError(
                f"{path}: optimizer {name!r} group {index}: expected lr a finite number >= 0, "
                f"received {lr!r}"
            )
        differ = sorted(
            key
            for key in {*group, *theirs} - {"params", "lr"}
            if _as_saved(group.get(key)) != theirs.get(key)
        )
        if differ:
            changes = ", ".join(
                f"{k}: saved {theirs.get(k)!r}, yours {group.get(k)!r}" for k in differ
            )
            raise ValueError(
                f"{path}: optimizer {name!r} group {index} was saved with other settings "
                f"({changes})"
            )


def _as_saved(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return [_as_saved(v) for v in value] if isinstance(value, (list, tuple)) else value


def _scheduler_state(path: str | Path, name: str, scheduler: Any, saved: Any) -> Any:
    """A learning-rate schedule's saved state, refused unless its base rates are the
    schedule's own and its step is an int >= 0 (other schedulers' states pass as saved)."""
    if not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        return saved
    step = saved.get("last_epoch") if isinstance(saved, dict) else None
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(
            f"{path}: schedule {name!r}: expected last_epoch an int >= 0, received {step!r}"
        )
    if hasattr(scheduler, "base_lrs") and saved.get("base_lrs") != scheduler.base_lrs:
        raise ValueError(
            f"{path}: schedule {name!r}: expected the base learning rates "
            f"{scheduler.base_lrs} of your optimizer, received {saved.get('base_lrs')!r}"
        )
    return saved


def _check_rates(
    path: str | Path,
    schedulers: Mapping[str, Any],
    scheduler_states: Mapping[str, Any],
    optimizers: Mapping[str, Optimizer],
    optimizer_states: Mapping[str, dict],
) -> None:
    """Where a schedule's rate has a closed form (``LambdaLR``, ``StepLR``, ...), the
    optimizer's saved rates must be the ones it gives at the saved step."""
    for name, scheduler in schedulers.items():
        expected = _closed_form_rates(scheduler, scheduler_states[name])
        owner = next(
            (o for o, opt in optimizers.items() if opt is getattr(scheduler, "optimizer", None)),
            None,
        )
        if expected is None or owner is None:
            continue
        saved = [group["lr"] for group in optimizer_states[owner]["param_groups"]]
        if not all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
            for a, b in zip(saved, expected, strict=True)
        ):
            raise ValueError(
                f"{path}: optimizer {owner!r} was saved with learning rates {saved}; schedule "
                f"{name!r} gives {expected} at its step {scheduler_states[name]['last_epoch']}"
            )


def _closed_form_rates(scheduler: Any, state: Any) -> list[float] | None:
    """The rates ``scheduler`` gives at the step saved in ``state``, if it has a formula."""
    if not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        return None
    step = state["last_epoch"]
    if isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
        return [
            float(rate * f(step))
            for f, rate in zip(scheduler.lr_lambdas, scheduler.base_lrs, strict=True)
        ]
    if hasattr(scheduler, "_get_closed_form_lr"):
        probe = copy.copy(scheduler)
        probe.last_epoch = step
        return list(probe._get_closed_form_lr())
    return None


def _state_of(training: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's state in a parsed ``training.json``."""
    return {k: _decode(v, {}) for k, v in training.items() if k not in _RESERVED_KEYS}


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind}: expected names of letters, digits, '_', '-' and '.' (not first), "
            f"received {name!r}"
        )


def _check_same(path: str | Path, kind: str, saved: Iterable[str], given: Iterable[str]) -> None:
    if set(saved) != set(given):
        raise ValueError(
            f"{path}: expected {kind} {sorted(given)} as given, the checkpoint holds "
            f"{sorted(saved)} (was it written by another loop?)"
        )


def _check_step(name: str, step: Any) -> None:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"{name}: expected a step, an int >= 0, received {step!r}")


def _numbered(folder: Path, stem: str) -> list[Path]:
    """The numbered folders in ``folder`` (not links), by number; a linked ``folder`` is
    refused."""
    _check_name("stem", stem)
    _not_linked(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(stem)}-(\d+)$")
    found = [
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if (m := pattern.match(p.name)) and not p.is_symlink()
    ]
    return [path for _, path in sorted(found)]


def _not_linked(folder: Path) -> None:
    if folder.is_symlink():
        raise ValueError(
            f"{folder}: expected a checkpoints folder, found a symbolic link; refusing to read, "
            f"write or delete through it (remove the link)"
        )


def _existing(folder: str | Path, name: str, suffix: str) -> Path:
    _check_name("name", name)
    folder, filename = path_like("folder", folder), f"{name}{suffix}"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: expected a checkpoint folder, found none")
    path = folder / filename
    if not path.is_file():
        present = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(f"{folder}: expected {filename}, found {present}")
    return path


def _foreign(files: Iterable[Path]) -> list[str]:
    """The names of what is not a checkpoint file (``.json``, ``.safetensors``)."""
    return [p.name for p in files if not p.is_file() or p.suffix not in (".json", ".safetensors")]


def _write_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Let ``fill`` write a hidden staging folder beside ``target``, then swap it into place."""
    _not_linked(target.parent)
    _not_linked(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        fill(staging)
        _swap_into_place(staging, target)
    except SafetensorError as error:  # its I/O errors name no file
        shutil.rmtree(staging, ignore_errors=True)
        raise OSError(f"{target}: could not write the checkpoint: {error}") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _swap_into_place(staging: Path, target: Path) -> None:
    fsync(staging)
    if target.exists():
        if not target.is_dir() or (foreign := _foreign(target.iterdir())):
            raise ValueError(
                f"{target}: expected a new folder or one written before (only .json and "
                f".safetensors files), found {foreign if target.is_dir() else 'a file'}; "
                f"refusing to replace it"
            )
        if _exchange(staging, target):  # the old folder now has the staging name
            shutil.rmtree(staging)
        else:
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            shutil.rmtree(retired)
    else:
        os.replace(staging, target)
    fsync(target.parent)


_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one atomic step (Linux's ``renameat2(RENAME_EXCHANGE)``); False
    where the system or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    names = os.fsencode(first), os.fsencode(second)
    return renameat2(_AT_FDCWD, names[0], _AT_FDCWD, names[1], _RENAME_EXCHANGE) == 0
