"""Run folders as sandboxes: links, '..' names, hostile JSON values, huge networks, deep
nesting, bad weights and pickles placed in a run folder are refused, and a sentinel folder
outside the run shows that nothing there was written, modified or deleted."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from test_runner import small_config

from invtransfer import checkpoint
from invtransfer._paths import inside, safe_name, write_text
from invtransfer.checkpoint import Checkpoints, prune_numbered, read_json, write_folder
from invtransfer.cli import main
from invtransfer.experiments import run_experiment, write_report
from invtransfer.experiments.epoch_log import EpochLog
from invtransfer.experiments.lr import warmup_step_lr
from invtransfer.experiments.runner import _generator_message, load_run
from invtransfer.generative import GenerativeAugment, MUNITGenerator, load_generator, preset

RUN = "runs/ce-seed0-order0"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished study (plain CE on the small glyphs config), copied by each test."""
    out = tmp_path_factory.mktemp("finished")
    run_experiment(small_config('methods=["ce"]'), out, progress=False)
    return out


@pytest.fixture
def study(finished, tmp_path):
    copy = tmp_path / "study"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


@pytest.fixture
def outside(tmp_path):
    """A sentinel folder outside the run: files, a checkpoint-like folder and a PNG."""
    folder = tmp_path / "outside"
    (folder / "epoch-0001").mkdir(parents=True)
    (folder / "epoch-0002").mkdir()
    (folder / "victim.txt").write_text("keep me")
    (folder / "epoch-0001" / "training.json").write_text('{"epoch": 1}')
    (folder / "epoch-0002" / "training.json").write_text('{"epoch": 2}')
    (folder / "picture.png").write_bytes(b"\x89PNG not really")
    return folder


def snapshot(folder):
    return {
        p.relative_to(folder): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def untouched(outside):
    """Yields the sentinel folder and checks afterwards that it is exactly as it was."""
    before = snapshot(outside)
    yield outside
    assert snapshot(outside) == before


@pytest.mark.parametrize("name", ["metrics.csv", "summary.md"])
def test_a_linked_report_file_is_never_written_through(study, untouched, name):
    (study / "report" / name).unlink()
    (study / "report" / name).symlink_to(untouched / "victim.txt")
    with pytest.raises(ValueError, match=rf"report/{name}: expected a regular file or nothing"):
        write_report(study)


def test_a_linked_report_folder_is_refused(study, untouched):
    shutil.rmtree(study / "report")
    (study / "report").symlink_to(untouched)
    with pytest.raises(ValueError, match=r"report: expected a path inside .*study"):
        write_report(study)
    assert not (untouched / "metrics.csv").exists()


def test_a_linked_translation_grid_is_not_read_into_the_report(study, untouched):
    quality = {
        "judge": "ce",
        "class_keeping": {"accuracy_on_images": 0.5, "accuracy_on_translations": 0.4},
        "coverage": {},
        "grid": {"classes": [0], "sizes": [5]},
    }
    (study / "quality").mkdir()
    (study / "quality" / "seed0-order0.json").write_text(json.dumps(quality))
    (study / "quality" / "seed0-order0-grid.png").symlink_to(untouched / "picture.png")
    with pytest.raises(ValueError, match=r"seed0-order0-grid.png: expected a path inside"):
        write_report(study)
    assert not (study / "report" / "translations-seed0-order0.png").exists()


def test_linked_generator_samples_are_refused_before_anything_trains(tmp_path, untouched):
    out = tmp_path / "git"
    (out / "munit-seed0-order0").mkdir(parents=True)
    (out / "munit-seed0-order0" / "samples").symlink_to(untouched)
    with pytest.raises(ValueError, match=r"samples: expected a path inside"):
        run_experiment(small_config('methods=["ce_drs+git"]'), out, progress=False)
    assert not (out / "munit-seed0-order0" / "checkpoints").exists()


def test_a_linked_checkpoints_folder_is_neither_read_nor_pruned(study, untouched):
    run = study / RUN
    shutil.rmtree(run / "checkpoints")
    (run / "metrics.json").unlink()  # unfinished: the runner would resume and prune
    (run / "checkpoints").symlink_to(untouched)
    with pytest.raises(ValueError, match=r"checkpoints: expected a path inside"):
        run_experiment(small_config('methods=["ce"]'), study, progress=False)
    with pytest.raises(ValueError, match="found a symbolic link"):
        prune_numbered(run / "checkpoints", "epoch", keep=1)
    with pytest.raises(ValueError, match="found a symbolic link"):
        Checkpoints(run / "checkpoints", "epoch").latest()


def test_pruning_deletes_only_what_the_library_wrote(tmp_path, untouched, caplog):
    folder = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        write_folder(folder / f"epoch-{step}", {}, {"training": {"epoch": step}})
    (folder / "epoch-1" / "notes.txt").write_text("mine")  # a user's file: not ours to delete
    (folder / "epoch-0").symlink_to(untouched / "epoch-0001")  # a link: never followed
    with caplog.at_level("WARNING", logger="invtransfer.checkpoint"):
        prune_numbered(folder, "epoch", keep=1)
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0", "epoch-1", "epoch-3"]
    assert "epoch-1: not deleted, it holds files this library does not write" in caplog.text


@pytest.mark.parametrize("method", ["../../x", "..", "a/b", "a\\b", "", "x\0"])
def test_a_method_name_that_leaves_the_folder_is_refused(study, untouched, method):
    with pytest.raises(ValueError, match=r"^method: expected a name without '/'"):
        load_run(study, method, seed=0)


def test_a_linked_curve_file_is_never_written_through(study, untouched, capsys):
    (study / RUN / "curve-K2.csv").symlink_to(untouched / "victim.txt")
    command = ["curve", str(study), "--method", "ce", "--samples-per-class", "2",
               "--transforms", "2"]  # fmt: skip
    assert main(command) == 2
    assert "curve-K2.csv: expected a regular file or nothing" in capsys.readouterr().err
    assert not (study / RUN / "curve-K2.json").exists()  # refused before the table was written


@pytest.mark.parametrize("name", ["training_log.csv", "tensorboard"])
def test_a_linked_training_log_is_neither_read_nor_written(study, untouched, name):
    target = study / RUN / name
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    target.symlink_to(untouched / ("victim.txt" if name.endswith(".csv") else "epoch-0001"))
    with pytest.raises(ValueError, match=rf"{name}: expected a path inside"):
        EpochLog(study / RUN, first=1)


def test_a_planted_partial_log_file_is_not_written_through(study, untouched):
    (study / RUN / ".training_log.csv.partial").symlink_to(untouched / "victim.txt")
    with EpochLog(study / RUN, first=1, tensorboard=False) as log:
        log.write(2, {"loss": 1.0})
    assert (study / RUN / "training_log.csv").read_text().splitlines()[-1].startswith("2,")


def test_a_malformed_training_log_names_the_file(study):
    (study / RUN / "training_log.csv").write_text("epoch,loss\nnot-a-number,1.0\n")
    with pytest.raises(ValueError, match=r"training_log.csv: expected a training log with"):
        EpochLog(study / RUN, first=1)


def test_a_linked_run_folder_is_not_read(study, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(study / RUN, elsewhere)
    (study / RUN).symlink_to(elsewhere)
    before = snapshot(elsewhere)
    with pytest.raises(ValueError, match=r"ce-seed0-order0: expected a path inside"):
        load_run(study, "ce", seed=0)
    assert snapshot(elsewhere) == before


def test_paths_and_names_helpers_refuse_what_leaves(tmp_path, untouched):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(untouched)
    with pytest.raises(ValueError, match="expected a path inside"):
        write_text(tmp_path / "root" / "link" / "new.txt", "x", tmp_path / "root")
    with pytest.raises(ValueError, match="expected a path inside"):
        inside(tmp_path / "root", tmp_path / "root" / ".." / "outside" / "victim.txt")
    with pytest.raises(ValueError, match=r"^replicate: expected a name"):
        safe_name(None, "replicate")
    assert write_text(tmp_path / "root" / "a" / "b.txt", "ok", tmp_path / "root").read_text()


def _latest(study):
    return Checkpoints(study / RUN / "checkpoints", "epoch", digits=4).latest()


def _edit_json(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _sgd_run(tmp_path):
    """A small model, optimizer and the runner's schedule, saved at epoch 2."""
    model = torch.nn.Linear(2, 2)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = warmup_step_lr(sgd, 1, [2], 0.1)
    for _ in range(2):
        sgd.step()
        schedule.step()
    checkpoints = Checkpoints(tmp_path / "checkpoints", "epoch", digits=4)
    path = checkpoints.save(2, {"model": model}, {"sgd": sgd}, {"lr": schedule}, {"epoch": 2})

    def fresh():
        model = torch.nn.Linear(2, 2)
        sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return {"model": model}, {"sgd": sgd}, {"lr": warmup_step_lr(sgd, 1, [2], 0.1)}

    return checkpoints, path, fresh


def test_an_epoch_out_of_bounds_is_refused(tmp_path):
    checkpoints, path, fresh = _sgd_run(tmp_path)
    _edit_json(path / "training.json", lambda d: d.update(epoch=1000000000))
    with pytest.raises(ValueError, match=r"expected epoch an int in \[0, 3\], received 10+$"):
        checkpoints.load(path, *fresh(), bounds={"epoch": (0, 3)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["schedulers"]["lr"].update(base_lrs=[1e6]), "expected the base learning"),
        (lambda d: d["schedulers"]["lr"].update(last_epoch=-5), "expected last_epoch an int"),
        (lambda d: d["optimizers"]["sgd"]["param_groups"][0].update(lr=1e6), "schedule 'lr' gives"),
        (lambda d: d["optimizers"]["sgd"]["param_groups"][0].update(lr=None), "expected lr a fin"),
        (
            lambda d: d["optimizers"]["sgd"]["param_groups"][0].update(momentum=5.0),
            r"other settings \(momentum: saved 5.0, yours 0.9\)",
        ),
    ],
)
def test_a_tampered_schedule_or_optimizer_is_refused_before_anything_loads(
    tmp_path, change, message
):
    checkpoints, path, fresh = _sgd_run(tmp_path)
    _edit_json(path / "training.json", change)
    modules, optimizers, schedulers = fresh()
    before = modules["model"].weight.clone(), optimizers["sgd"].state_dict()
    with pytest.raises(ValueError, match=message):
        checkpoints.load(path, modules, optimizers, schedulers)
    assert torch.equal(modules["model"].weight, before[0])  # nothing was loaded
    assert optimizers["sgd"].state_dict() == before[1] and schedulers["lr"].last_epoch == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), r"weight is not finite"),
        (torch.float64, r"weight has dtype torch.float64, the model needs torch.float32"),
        (torch.int8, r"weight has dtype torch.int8"),
    ],
)
def test_bad_weights_in_a_run_are_refused_naming_file_and_tensor(study, untouched, value, message):
    path = _latest(study) / "model.safetensors"
    weights = load_file(path)
    key = next(k for k in weights if k.endswith("weight"))
    if isinstance(value, float):
        weights[key] = weights[key].clone().fill_(value)
    else:
        weights[key] = weights[key].to(value)
    save_file(weights, path)
    with pytest.raises(ValueError, match=rf"model.safetensors does not match .*{message}"):
        load_run(study, "ce", seed=0)


class _Payload:
    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


@pytest.mark.parametrize("form", ["pickle", "torch.save"])
def test_a_pickle_where_weights_are_read_is_never_unpickled(study, tmp_path, untouched, form):
    sentinel = tmp_path / "payload-ran"
    path = _latest(study) / "model.safetensors"
    if form == "pickle":
        path.write_bytes(pickle.dumps(_Payload(sentinel)))
    else:
        torch.save({"weight": _Payload(sentinel)}, path)
    with pytest.raises(ValueError, match=r"this is a pickle .* never loaded"):
        load_run(study, "ce", seed=0)
    assert not sentinel.exists()


def test_deeply_nested_json_is_a_clear_error(study):
    path = _latest(study) / "training.json"
    path.write_text("[" * 200000 + "]" * 200000)
    with pytest.raises(ValueError, match=r"training.json: .* nested too deeply to parse"):
        read_json(path.parent, "training")


def test_a_generator_config_of_a_huge_network_is_refused_before_it_is_built(tmp_path):
    generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
    folder = GenerativeAugment(generator, fraction=0.25).save(tmp_path / "augment")
    _edit_json(folder / "config.json", lambda d: d.update(dim=1000000))
    message = r"config.json: expected a generator of at most 200000000 parameters"
    with pytest.raises(ValueError, match=message):
        load_generator(folder)
    with pytest.raises(ValueError, match=message):
        GenerativeAugment.load(folder)
    _edit_json(folder / "config.json", lambda d: d.update(dim=4, n_res=10**9))
    with pytest.raises(ValueError, match=r"expected at most 1000 residual blocks"):
        load_generator(folder)


def test_a_generator_checkpoint_must_hold_its_folders_iteration(tmp_path):
    from invtransfer.generative import MUNITTrainer

    trainer = MUNITTrainer(preset("tiny", image_size=8, channels=1), tmp_path, seed=0)
    path = trainer.save_checkpoint()
    _edit_json(path / "training.json", lambda d: d.update(iteration=1000000000))
    with pytest.raises(ValueError, match=r"expected iteration an int in \[0, 0\]"):
        trainer.load_checkpoint(path)


def test_an_augment_saved_over_another_is_old_or_new_at_every_moment(tmp_path, monkeypatch):
    generator = MUNITGenerator(preset("tiny", image_size=8, channels=1), seed=0)
    folder = GenerativeAugment(generator, fraction=0.25).save(tmp_path / "augment")
    seen = []

    def killed_after_the_swap(path, *args, **kwargs):  # the process dies right after it
        seen.append(GenerativeAugment.load(folder).fraction)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.shutil, "rmtree", killed_after_the_swap)
    with pytest.raises(KeyboardInterrupt):
        GenerativeAugment(generator, fraction=0.5).save(folder)
    assert seen[0] == 0.5 and GenerativeAugment.load(folder).fraction == 0.5
    monkeypatch.undo()
    with monkeypatch.context() as patched:
        patched.setattr(checkpoint, "fsync", _die_on_folder(folder.parent))
        with pytest.raises(KeyboardInterrupt):  # killed before the swap
            GenerativeAugment(generator, fraction=0.75).save(folder)
    assert GenerativeAugment.load(folder).fraction == 0.5
    monkeypatch.setattr(checkpoint, "_exchange", lambda *paths: False)  # no renameat2: 2 renames
    GenerativeAugment(generator, fraction=0.75).save(folder)
    assert GenerativeAugment.load(folder).fraction == 0.75
    assert not [p for p in folder.parent.iterdir() if ".old-" in p.name]  # retired, removed


def _die_on_folder(staging_parent):
    """An ``fsync`` that dies when the staging folder is synced, just before the swap."""

    def fsync(path):
        if path.is_dir() and path.parent == staging_parent and path.name.startswith("."):
            raise KeyboardInterrupt
        descriptor = os.open(path, os.O_RDONLY)
        os.fsync(descriptor)
        os.close(descriptor)

    return fsync


def test_a_failed_start_writes_nothing_and_a_finished_run_is_read_without_writing(study, tmp_path):
    out = tmp_path / "failed"
    with pytest.raises(ValueError, match=r"data\.root"):
        run_experiment(small_config('data.recipe="mnist_lt"'), out, progress=False)
    assert not out.exists()
    config = study / "config.json"
    before = config.stat().st_ino, config.stat().st_mtime_ns
    run_experiment(small_config('methods=["ce"]'), study, progress=False)
    assert (config.stat().st_ino, config.stat().st_mtime_ns) == before


def test_a_report_that_cannot_be_written_names_the_file(study):
    (study / "report" / "metrics.csv").unlink()
    (study / "report" / "metrics.csv").mkdir()  # os.replace cannot put a file over it
    with pytest.raises(OSError, match=r"report/metrics.csv'$"):
        write_report(study)


def test_the_generator_message_says_what_happens(tmp_path):
    assert _generator_message(tmp_path / "munit-seed0", 40, 4) == (
        "munit-seed0: training the generator for GIT first: 40 iterations of 4 images"
    )
    write_folder(tmp_path / "munit-seed0" / "checkpoints" / "iter-0000010", {}, {})
    assert "resuming at iteration 10 of 40" in _generator_message(tmp_path / "munit-seed0", 40, 4)
    assert "trained before (10 iterations)" in _generator_message(tmp_path / "munit-seed0", 10, 4)


def test_replacing_a_folder_keeps_the_library_from_deleting_a_linked_target(tmp_path, untouched):
    (tmp_path / "ckpt").symlink_to(untouched / "epoch-0001")
    with pytest.raises(ValueError, match="found a symbolic link"):
        write_folder(tmp_path / "ckpt", {}, {"meta": {}})
