"""`invtransfer.checkpoint`: atomic numbered checkpoints, keep-N with spares, exact resume of
modules, optimizers and schedulers, forks, and pickles refused."""

from __future__ import annotations

import copy
import json
import math
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import invtransfer.checkpoint as checkpoint_module
from invtransfer.checkpoint import (
    Checkpoints,
    optimizer_from_files,
    optimizer_to_files,
    read_tensors,
)
from invtransfer.sampling import ClassBalancedSampler


class Run:
    """A small model with two optimizers and two schedulers, trained a step at a time."""

    def __init__(self) -> None:
        self.model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
        first, last = self.model[0].parameters(), self.model[1:].parameters()
        self.sgd = torch.optim.SGD(first, lr=0.1, momentum=0.9, weight_decay=1e-4)
        self.adam = torch.optim.Adam(last, lr=0.01)
        self.step_lr = torch.optim.lr_scheduler.StepLR(self.sgd, step_size=2, gamma=0.5)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(self.adam, patience=0)

    def train(self, steps: int, start: int) -> None:
        for step in range(start, start + steps):
            draw = torch.Generator().manual_seed(step)
            x, y = torch.randn(8, 3, generator=draw), torch.randint(0, 2, (8,), generator=draw)
            loss = nn.functional.cross_entropy(self.model(x), y)
            for optimizer in (self.sgd, self.adam):
                optimizer.zero_grad()
            loss.backward()
            self.sgd.step()
            self.adam.step()
            self.step_lr.step()
            self.plateau.step(float(loss.detach()))

    def save(self, checkpoints: Checkpoints, step: int, **state) -> Path:
        return checkpoints.save(step, *self.parts(), state={"step": step, **state})

    def load(self, checkpoints: Checkpoints, path: Path) -> dict:
        return checkpoints.load(path, *self.parts())

    def parts(self) -> tuple[dict, dict, dict]:
        return (
            {"model": self.model},
            {"sgd": self.sgd, "adam": self.adam},
            {"step_lr": self.step_lr, "plateau": self.plateau},
        )

    def everything(self) -> dict:
        """A copy of the weights, optimizer and scheduler state, as one comparable dict."""
        return copy.deepcopy(
            {
                "model": self.model.state_dict(),
                "sgd": self.sgd.state_dict(),
                "adam": self.adam.state_dict(),
                "step_lr": self.step_lr.state_dict(),
                "plateau": self.plateau.state_dict(),
            }
        )


def assert_identical(a, b, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}.{i}")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b and type(a) is type(b), where


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# exact resume


def test_a_loaded_checkpoint_continues_exactly_as_the_uninterrupted_run(tmp_path):
    checkpoints = Checkpoints(tmp_path, "iter")
    straight = Run()
    straight.train(3, start=0)
    path = straight.save(checkpoints, 3, counts={2: 5}, best=float("inf"))
    saved = straight.everything()
    straight.train(4, start=3)

    resumed = Run()
    state = resumed.load(checkpoints, path)
    assert state == {"step": 3, "counts": {2: 5}, "best": math.inf}  # int keys, inf kept
    assert resumed.plateau.state_dict()["mode_worse"] == math.inf
    assert_identical(resumed.everything()["model"], saved["model"])
    resumed.train(4, start=state["step"])
    assert_identical(resumed.everything(), straight.everything())
    assert straight.sgd.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


def test_the_folder_holds_safetensors_and_json_in_the_documented_layout(tmp_path):
    run = Run()
    run.train(1, start=0)
    path = Checkpoints(tmp_path, "epoch", digits=4).save(
        1, *run.parts(), state={"epoch": 1}, documents={"config": {"width": 4}}
    )
    assert path == tmp_path / "epoch-0001"
    assert names(path) == [
        "config.json", "model.safetensors", "optimizers.safetensors", "training.json"
    ]  # fmt: skip
    assert json.loads((path / "config.json").read_text()) == {"width": 4}
    training = json.loads((path / "training.json").read_text())
    assert sorted(training) == ["epoch", "optimizers", "schedulers"]
    assert sorted(training["optimizers"]) == ["adam", "sgd"]
    assert training["schedulers"]["plateau"]["mode_worse"] == {"__float__": "inf"}
    tensors = load_file(path / "optimizers.safetensors")
    momentum = run.sgd.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(tensors["sgd.state.0.momentum_buffer"], momentum)
    assert sorted(k for k in tensors if k.startswith("adam.state.0.")) == [
        "adam.state.0.exp_avg", "adam.state.0.exp_avg_sq", "adam.state.0.step"
    ]  # fmt: skip


def test_optimizer_documents_written_before_every_dict_was_pairs_still_load():
    model = nn.Linear(2, 1)
    adam = torch.optim.Adam(model.parameters(), betas=(0.5, 0.999))
    model(torch.ones(1, 2)).sum().backward()
    adam.step()

    def old_split(value, key, tensors):  # the earlier format: every dict as [key, value] pairs
        if isinstance(value, torch.Tensor):
            tensors[key] = value
            return {"__tensor__": key}
        if isinstance(value, dict):
            pairs = [[k, old_split(v, f"{key}.{k}", tensors)] for k, v in value.items()]
            return {"__dict__": pairs}
        if isinstance(value, (list, tuple)):
            return [old_split(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]
        return value

    tensors: dict = {}
    document = {key: old_split(value, key, tensors) for key, value in adam.state_dict().items()}
    document = json.loads(json.dumps(document))
    fresh = torch.optim.Adam(model.parameters())
    fresh.load_state_dict(optimizer_from_files(tensors, document))
    assert tensors.keys() == optimizer_to_files(adam.state_dict())[0].keys()
    assert_identical(fresh.state_dict()["state"], adam.state_dict()["state"])
    assert fresh.param_groups[0]["betas"] == [0.5, 0.999]


def test_tied_weights_are_stored_and_loaded(tmp_path):
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    model[1].weight = model[0].weight  # tied: both keys share one tensor
    checkpoints = Checkpoints(tmp_path, "iter")
    path = checkpoints.save(1, {"model": model})
    fresh = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    fresh[1].weight = fresh[0].weight
    checkpoints.load(path, {"model": fresh})
    assert torch.equal(fresh[0].weight, model[0].weight) and fresh[1].weight is fresh[0].weight


def test_a_grad_scaler_and_a_sampler_are_restored_like_schedulers(tmp_path):
    def parts(scale: int) -> dict:
        model = nn.Linear(2, 1)
        sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu", init_scale=scale, growth_interval=3)
        scaler.scale(model(torch.ones(1, 2)).sum()).backward()
        scaler.step(sgd)
        scaler.update()
        sampler = ClassBalancedSampler(torch.tensor([0, 0, 0, 1, 1, 2]), seed=3)
        sampler.load_state_dict({"epoch": scale, "position": 2})
        return {"scaler": scaler, "sampler": sampler}

    saved, fresh = parts(4), parts(1)
    checkpoints = Checkpoints(tmp_path, "iter")
    checkpoints.load(checkpoints.save(1, {}, schedulers=saved), {}, schedulers=fresh)
    assert fresh["scaler"].state_dict() == saved["scaler"].state_dict()
    assert fresh["scaler"].state_dict()["scale"] == 4.0
    assert fresh["sampler"].state_dict() == {"epoch": 4, "position": 2}
    assert list(fresh["sampler"]) == list(saved["sampler"])  # the rest of that epoch


# keep-N, latest, atomic writes


def test_save_keeps_the_newest_and_the_spares_and_latest_finds_the_highest_step(tmp_path):
    checkpoints = Checkpoints(tmp_path, "epoch", keep=2, spare=[2], digits=4)
    model = nn.Linear(2, 1)
    for step in (1, 2, 3, 9, 10):
        checkpoints.save(step, {"model": model}, state={"epoch": step})
    assert names(tmp_path) == ["epoch-0002", "epoch-0009", "epoch-0010"]
    assert checkpoints.latest() == tmp_path / "epoch-0010"  # by number: 10 after 9
    assert checkpoints.read_state(checkpoints.latest()) == {"epoch": 10}
    assert Checkpoints(tmp_path, "iter").latest() is None  # another stem


def test_a_partial_folder_left_by_a_killed_save_is_ignored_and_cleaned(tmp_path):
    checkpoints = Checkpoints(tmp_path, "iter", keep=1)
    model = nn.Linear(2, 1)
    checkpoints.save(1, {"model": model})
    partial = tmp_path / ".iter-0000002.partial-abc"  # as a kill during the write leaves it
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\x00" * 10)
    retired = tmp_path / ".iter-0000001.old-xyz"  # a kill between the two renames of a rewrite
    retired.mkdir()
    assert checkpoints.latest() == tmp_path / "iter-0000001"
    checkpoints.save(2, {"model": model})
    assert names(tmp_path) == ["iter-0000002"]


def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_and_no_partial(
    tmp_path, monkeypatch
):
    checkpoints = Checkpoints(tmp_path, "iter")
    run = Run()
    run.save(checkpoints, 1)
    before = {p.name: p.read_bytes() for p in (tmp_path / "iter-0000001").iterdir()}
    written = []

    def failing_save_file(tensors, path):
        if written:
            raise OSError("disk full")
        written.append(path)
        torch_save_file(tensors, path)

    torch_save_file = checkpoint_module.save_file
    monkeypatch.setattr(checkpoint_module, "save_file", failing_save_file)
    with pytest.raises(OSError, match="disk full"):
        run.save(checkpoints, 1)  # rewriting the same step
    with pytest.raises(OSError, match="disk full"):
        written.clear()
        run.save(checkpoints, 2)
    assert names(tmp_path) == ["iter-0000001"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "iter-0000001").iterdir()} == before


def test_a_target_holding_other_files_is_refused_not_replaced(tmp_path):
    checkpoints = Checkpoints(tmp_path, "iter")
    target = checkpoints.path(3)
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"found \['notes.txt'\]; refusing to replace it"):
        checkpoints.save(3, {"model": nn.Linear(2, 1)})
    assert names(target) == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["iter-0000003"]  # no partial left


# refused input


class _Exploit:
    """Unpickling this would create a file: proof that nothing was unpickled if it is absent."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("name", ["model", "optimizers"])
@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_a_pickle_in_place_of_safetensors_is_refused_unread(tmp_path, name, how):
    checkpoints = Checkpoints(tmp_path / "run", "iter")
    run = Run()
    run.train(1, start=0)
    path = run.save(checkpoints, 1)
    marker = tmp_path / "pwned"
    target = path / f"{name}.safetensors"
    if how == "pickle":
        target.write_bytes(pickle.dumps(_Exploit(marker)))
    else:
        torch.save({"payload": _Exploit(marker)}, target)
    fresh = Run()
    before = fresh.everything()
    with pytest.raises(ValueError, match=rf"{name}\.safetensors: this is a pickle"):
        fresh.load(checkpoints, path)
    assert not marker.exists()
    assert_identical(fresh.everything(), before)  # nothing was loaded


def test_names_that_differ_from_the_checkpoint_are_refused_before_anything_loads(tmp_path):
    checkpoints = Checkpoints(tmp_path, "iter")
    run = Run()
    run.train(1, start=0)
    path = run.save(checkpoints, 1)
    fresh = Run()
    before = fresh.everything()
    modules, optimizers, schedulers = fresh.parts()
    with pytest.raises(
        ValueError,
        match=r"expected optimizers \['sgd'\] as given, the checkpoint holds \['adam', 'sgd'\]",
    ):
        checkpoints.load(path, modules, {"sgd": fresh.sgd}, schedulers)
    with pytest.raises(
        ValueError, match=r"expected modules \[\] as given, the checkpoint holds \['model'\]"
    ):
        checkpoints.load(path, {}, optimizers, schedulers)
    with pytest.raises(
        ValueError, match=r"expected schedulers \['plateau', 'step_lr'\] .*holds \[\]"
    ):
        checkpoints.load(checkpoints.save(2, modules, optimizers), modules, optimizers, schedulers)
    swapped = {"sgd": fresh.adam, "adam": fresh.sgd}
    with pytest.raises(
        ValueError, match=r"'sgd' has parameter groups of sizes \[4\], the checkpoint's has \[2\]"
    ):
        checkpoints.load(path, modules, swapped, schedulers)
    wide = {"model": nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))}
    with pytest.raises(
        ValueError, match=r"model\.safetensors does not match this Sequential .*0\.weight has "
        r"shape \(4, 3\), the model needs \(5, 3\)"
    ):  # fmt: skip
        checkpoints.load(path, wide, optimizers, schedulers)
    assert_identical(fresh.everything(), before)


TINY = nn.Linear(2, 1)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"state": {"optimizers": 1}}, ValueError, r"state: expected string keys other than \["),
        ({"state": {3: 1}}, ValueError, r"state: expected string keys .*received \[3\]"),
        ({"state": {"w": torch.ones(1)}}, TypeError, r"state\.w: expected numbers, .*a tensor"),
        ({"state": {"f": print}}, TypeError, r"state\.f: cannot store a builtin_function_or"),
        ({"state": {"d": {(1, 2): 3}}}, TypeError, r"state\.d: cannot store a dict key \(1, 2\)"),
        ({"modules": TINY}, TypeError, r"modules: expected a dict by name, received Linear"),
        ({"modules": {"optimizers": TINY}}, ValueError, r"modules: expected names other than"),
        ({"modules": {"../up": TINY}}, ValueError, r"modules: expected names .*received '../up'"),
        ({"documents": {"training": {}}}, ValueError, r"documents: expected names other than"),
        ({"step": -1}, ValueError, r"step: expected a step, an int >= 0, received -1"),
    ],
)
def test_what_cannot_be_saved_safely_is_refused_before_writing(tmp_path, arguments, error, message):
    arguments = {"step": 1, "modules": {"model": TINY}, **arguments}
    with pytest.raises(error, match=message):
        Checkpoints(tmp_path, "iter").save(**arguments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"keep": 0}, r"keep: expected an int >= 1, received 0"),
        ({"digits": True}, r"digits: expected an int >= 1, received True"),
        ({"spare": [4, -1]}, r"spare\[1\]: expected a step, an int >= 0, received -1"),
        ({"stem": ".hidden"}, r"stem: expected names of letters.*received '.hidden'"),
        ({"stem": "a/b"}, r"stem: expected names of letters.*received 'a/b'"),
    ],
)
def test_bad_settings_are_refused_naming_them(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        Checkpoints(tmp_path, **{"stem": "iter", **arguments})


# fork


def test_fork_copies_another_runs_checkpoint_atomically_and_resumes_from_it(tmp_path):
    base = Checkpoints(tmp_path / "ce", "epoch", keep=1, spare=[2], digits=4)
    run = Run()
    for epoch in (1, 2, 3):
        run.train(1, start=epoch)
        run.save(base, epoch)
        if epoch == 2:
            at_two = run.everything()
    forked = Checkpoints(tmp_path / "drw", "epoch", digits=4)
    copy = forked.fork(base.path(2))
    assert copy == tmp_path / "drw" / "epoch-0002" and names(tmp_path / "drw") == ["epoch-0002"]
    for file in base.path(2).iterdir():
        assert (copy / file.name).read_bytes() == file.read_bytes()
    fresh = Run()
    assert fresh.load(forked, forked.latest()) == {"step": 2}
    assert_identical(fresh.everything(), at_two)
    with pytest.raises(
        ValueError, match=r"drw: expected no checkpoint before a fork, found epoch-0002"
    ):
        forked.fork(base.path(3))


def test_fork_refuses_what_is_not_a_checkpoint_of_this_stem(tmp_path):
    base = Checkpoints(tmp_path / "ce", "epoch", digits=4)
    source = base.save(2, {"model": nn.Linear(2, 1)})
    forked = Checkpoints(tmp_path / "other", "iter")
    with pytest.raises(ValueError, match=r"source: expected a checkpoint folder named iter-NNNN"):
        forked.fork(source)
    forked = Checkpoints(tmp_path / "other", "epoch")
    with pytest.raises(FileNotFoundError, match=r"epoch-0003: expected a checkpoint folder"):
        forked.fork(base.path(3))
    torch.save({}, source / "extra.pt")
    with pytest.raises(
        ValueError, match=r"source: expected a folder of \.json and \.safetensors files, found "
        r"\['extra.pt'\]"
    ):  # fmt: skip
        forked.fork(source)
    assert not (tmp_path / "other").exists()


def test_read_tensors_names_a_truncated_file(tmp_path):
    path = Checkpoints(tmp_path, "iter").save(1, {"model": nn.Linear(2, 1)})
    target = path / "model.safetensors"
    target.write_bytes(target.read_bytes()[:20])
    with pytest.raises(ValueError, match=r"model\.safetensors: not a readable safetensors file"):
        read_tensors(path, "model")
