"""The experiment runner and the command line: train, evaluate, report, resume."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT
from safetensors.torch import load_file

from invtransfer.checkpoint import latest_numbered
from invtransfer.cli import main
from invtransfer.experiments import ExperimentConfig, run_experiment, write_report
from invtransfer.experiments.demo import demo_config
from invtransfer.experiments.report import method_table

SMALL = [
    "data.options={ num_classes = 4, per_class = 200, test_per_class = 6, max_count = 60 }",
    'model.name="small_cnn"',
    "train.lr=0.02",
    "train.epochs=3",
    "train.warmup_epochs=1",
    "train.milestones=[2]",
    "train.batch_size=16",
    'git.preset="tiny"',
    "git.iterations=4",
    "git.batch_size=4",
    "evaluation.samples_per_class=2",
    "evaluation.transforms_per_sample=3",
]


def small_config(*overrides: str) -> ExperimentConfig:
    return ExperimentConfig().with_overrides([*SMALL, *overrides])


def test_an_experiment_trains_evaluates_and_reports_every_method(tmp_path):
    config = small_config('methods=["ce", "ce_drs", "ce_drs+git", "ldam_drw"]')
    results = run_experiment(config, tmp_path, progress=False)
    methods = ["ce", "ce_drs", "ce_drs+git", "ldam_drw"]
    assert list(results) == [f"{method}-seed0-order0" for method in methods]
    for metrics in results.values():
        assert 0 <= metrics["accuracy"]["balanced"] <= 1
        assert len(metrics["invariance"]["columns"]["ekld_mean"]) == 4
    report = tmp_path / "report"
    expected = {"summary.md", "metrics.csv", "curves.png", "class_sizes.png"}
    assert expected <= {p.name for p in report.iterdir()}
    assert (report / "translations-seed0-order0.png").is_file()
    summary = (report / "summary.md").read_text()
    assert "| ce_drs+git |" in summary and "ce_drs+git vs ce_drs: tail eKLD" in summary
    assert len((report / "metrics.csv").read_text().splitlines()) == 1 + 4


def _final_weights(out_dir, key):
    latest = latest_numbered(out_dir / "runs" / key / "checkpoints", "epoch")
    return load_file(latest / "model.safetensors")


def test_deferred_methods_start_from_plain_ce_and_end_as_if_trained_alone(tmp_path, caplog):
    deferred = '"ce_drs", "ce_drs+git"'
    with caplog.at_level("INFO", logger="invtransfer.experiments.training"):
        run_experiment(small_config(f'methods=["ce", {deferred}]'), tmp_path / "a", False)
    assert caplog.text.count("from CE's checkpoint at epoch 2") == 2
    kept = sorted(p.name for p in (tmp_path / "a/runs/ce-seed0-order0/checkpoints").iterdir())
    assert kept == ["epoch-0002", "epoch-0003"]  # the defer epoch and the last
    run_experiment(small_config(f"methods=[{deferred}]"), tmp_path / "b", progress=False)
    for key in ("ce_drs-seed0-order0", "ce_drs+git-seed0-order0"):
        forked, alone = _final_weights(tmp_path / "a", key), _final_weights(tmp_path / "b", key)
        assert all(torch.equal(forked[name], alone[name]) for name in alone), key


def test_crop_flip_augmentation_changes_training_and_replays_exactly(tmp_path):
    plain = small_config('methods=["ce"]', "train.epochs=1", "train.milestones=[]")
    augmented = plain.with_overrides(['train.augmentation="crop_flip"'])
    for name, config in (("plain", plain), ("a", augmented), ("b", augmented)):
        run_experiment(config, tmp_path / name, progress=False)
    weights = {
        name: _final_weights(tmp_path / name, "ce-seed0-order0") for name in ("plain", "a", "b")
    }
    assert all(torch.equal(weights["a"][k], weights["b"][k]) for k in weights["a"])
    assert not all(torch.equal(weights["a"][k], weights["plain"][k]) for k in weights["a"])
    with pytest.raises(ValueError, match=r"train.augmentation: expected one of \['crop'"):
        run_experiment(plain.with_overrides(["train.augmentation=jitter"]), tmp_path / "c")


def test_a_run_folder_from_before_a_new_setting_still_resumes(tmp_path):
    config = small_config('methods=["ce"]', "train.epochs=1", "train.milestones=[]")
    run_experiment(config, tmp_path, progress=False)
    written = json.loads((tmp_path / "config.json").read_text())
    del written["train"]["augmentation"]  # as a folder written before the setting existed
    (tmp_path / "config.json").write_text(json.dumps(written))
    assert run_experiment(config, tmp_path, progress=False)["ce-seed0-order0"]["seed"] == 0


def test_finished_runs_are_read_back_and_another_config_is_refused(tmp_path):
    config = small_config('methods=["ce"]')
    first = run_experiment(config, tmp_path, progress=False)
    again = run_experiment(config, tmp_path, progress=False)
    assert json.dumps(again) == json.dumps(first)  # (NaN != NaN, so compare the text)
    with pytest.raises(ValueError, match="holds runs of another config"):
        run_experiment(small_config('methods=["focal"]'), tmp_path, progress=False)


def test_files_recipes_need_a_data_root(tmp_path):
    with pytest.raises(ValueError, match=r"data\.root: the mnist_lt recipe reads files"):
        run_experiment(small_config('data.recipe="mnist_lt"'), tmp_path, progress=False)


def test_the_report_command_rebuilds_the_report(tmp_path, capsys):
    run_experiment(small_config('methods=["ce"]'), tmp_path, progress=False)
    (tmp_path / "report" / "summary.md").unlink()
    assert main(["report", str(tmp_path)]) == 0
    assert "| ce |" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="expected finished runs"):
        write_report(tmp_path / "nothing")


def test_the_demo_configs():
    quick, faithful = demo_config(quick=True), demo_config()
    assert quick.methods == faithful.methods == ["ce", "ce_drs", "ce_drs+git"]
    assert quick.data.recipe == faithful.data.recipe == "glyphs_lt"
    assert faithful.model.name == "resnet20" and faithful.data.options["num_classes"] == 49


def _write_config(path, *overrides: str) -> None:
    config = small_config(*overrides)
    lines = [f"{key} = {json.dumps(value)}" for key, value in config.to_dict().items()
             if not isinstance(value, dict) and value is not None]  # fmt: skip
    for section, values in config.to_dict().items():
        if isinstance(values, dict):
            lines.append(f"[{section}]")
            for key, value in values.items():
                if isinstance(value, dict):
                    inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
                    lines.append(f"{key} = {{ {inner} }}")
                elif value is not None:
                    lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")


def train_command(config_path, out) -> list[str]:
    return [sys.executable, "-m", "invtransfer", "train", str(config_path), "--out", str(out),
            "--no-progress"]  # fmt: skip


def stop_mid_training(config_path, out, sig: int) -> tuple[int, str]:
    """Start the train command, send ``sig`` once epoch 2 is checkpointed; its exit status
    and stderr."""
    victim = subprocess.Popen(
        train_command(config_path, out),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # a job started in the background inherits SIGINT ignored: Ctrl-C must reach it
    checkpoints = out / "runs" / "ce-seed0-order0" / "checkpoints"
    deadline = time.monotonic() + 120
    while (latest := latest_numbered(checkpoints, "epoch")) is None or latest.name < "epoch-0002":
        assert victim.poll() is None and time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.005)
    victim.send_signal(sig)
    _, err = victim.communicate(timeout=60)
    assert latest_numbered(checkpoints, "epoch").name < "epoch-0012", "finished before the stop"
    return victim.returncode, err


def assert_same_run(first, second) -> None:
    """Two study folders whose CE run ended with the same weights, metrics and log."""
    runs = [folder / "runs" / "ce-seed0-order0" for folder in (first, second)]
    weights = [
        load_file(latest_numbered(r / "checkpoints", "epoch") / "model.safetensors") for r in runs
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all((weights[0][k] == weights[1][k]).all() for k in weights[0])
    assert (runs[0] / "metrics.json").read_text() == (runs[1] / "metrics.json").read_text()
    logs = [_log_rows(r) for r in runs]  # one row per epoch, the resumed ones replayed exactly
    assert [row["epoch"] for row in logs[1]] == [str(epoch) for epoch in range(1, 13)]
    assert [row["loss"] for row in logs[0]] == [row["loss"] for row in logs[1]]


def config_and_straight_run(tmp_path):
    """A 12-epoch CE config and its uninterrupted run in ``tmp_path / "straight"``."""
    config_path = tmp_path / "experiment.toml"
    _write_config(config_path, 'methods=["ce"]', "train.epochs=12", "train.milestones=[9]")
    subprocess.run(
        train_command(config_path, tmp_path / "straight"), check=True, cwd=ROOT,
        capture_output=True,
    )  # fmt: skip
    return config_path


def test_a_killed_train_command_resumes_to_the_same_result(tmp_path):
    config_path = config_and_straight_run(tmp_path)
    stop_mid_training(config_path, tmp_path / "killed", signal.SIGKILL)
    subprocess.run(
        train_command(config_path, tmp_path / "killed"), check=True, cwd=ROOT, capture_output=True
    )
    assert_same_run(tmp_path / "straight", tmp_path / "killed")


def _log_rows(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "training_log.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_bf16_channels_last_training_logs_every_epoch(tmp_path):
    config = small_config('methods=["ce"]', 'train.amp="bf16"', "train.channels_last=true")
    metrics = run_experiment(config, tmp_path, progress=False)["ce-seed0-order0"]
    assert 0 <= metrics["accuracy"]["balanced"] <= 1
    rows = _log_rows(tmp_path / "runs" / "ce-seed0-order0")
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert set(rows[0]) == {"epoch", "loss", "train_accuracy", "lr", "val_balanced_accuracy"}
    assert all(math.isfinite(float(row["loss"])) for row in rows)
    assert [float(row["lr"]) for row in rows] == pytest.approx([0.02, 0.02, 0.02 * 0.01])


def test_the_epoch_log_goes_to_tensorboard_too(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_experiment(small_config('methods=["ce"]'), tmp_path, progress=False)
    events = EventAccumulator(str(tmp_path / "runs" / "ce-seed0-order0" / "tensorboard")).Reload()
    losses = [event.value for event in events.Scalars("loss")]
    rows = _log_rows(tmp_path / "runs" / "ce-seed0-order0")
    assert losses == pytest.approx([float(row["loss"]) for row in rows])


def test_fp16_on_the_cpu_is_refused_before_anything_trains(tmp_path):
    config = small_config('methods=["ce"]', 'train.amp="fp16"', 'device="cpu"')
    with pytest.raises(ValueError, match="'fp16' needs a CUDA device, received cpu; use 'bf16'"):
        run_experiment(config, tmp_path, progress=False)
    assert not (tmp_path / "runs" / "ce-seed0-order0" / "checkpoints").exists()


@pytest.mark.slow
def test_a_compiled_model_trains_and_resumes(tmp_path):
    config = small_config(
        'methods=["ce"]', "train.compile=true", "train.epochs=2", "train.milestones=[1]"
    )
    run_experiment(config, tmp_path, progress=False)
    rows = _log_rows(tmp_path / "runs" / "ce-seed0-order0")
    assert [row["epoch"] for row in rows] == ["1", "2"]


def test_the_train_command_runs_under_torchrun_on_two_cpu_processes(tmp_path):
    config_path, out = tmp_path / "experiment.toml", tmp_path / "out"
    _write_config(config_path, 'methods=["ce", "ce_drs+git"]', 'train.augmentation="crop_flip"')
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command = [*torchrun, "-m", "invtransfer", "train", str(config_path), "--out", str(out)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("## Methods") == 1  # rank 0 alone prints the summary
    for key in ("ce-seed0-order0", "ce_drs+git-seed0-order0"):
        metrics = json.loads((out / "runs" / key / "metrics.json").read_text())
        assert 0 <= metrics["accuracy"]["balanced"] <= 1
    generator = latest_numbered(out / "munit-seed0-order0" / "checkpoints", "iter")
    assert json.loads((generator / "training.json").read_text())["world_size"] == 2


def test_the_curve_command_measures_a_trained_run(tmp_path, capsys):
    run_experiment(small_config('methods=["ce"]'), tmp_path, progress=False)
    arguments = ["curve", str(tmp_path), "--method", "ce", "--samples-per-class", "2"]
    assert main([*arguments, "--transforms", "3"]) == 0
    assert "spearman" in capsys.readouterr().out
    stem = tmp_path / "runs" / "ce-seed0-order0" / "curve-K3"
    assert all(stem.with_suffix(suffix).is_file() for suffix in (".csv", ".json", ".png"))
    assert main(["curve", str(tmp_path), "--method", "focal"]) == 2
    assert "expected epoch checkpoints" in capsys.readouterr().err


def test_the_train_munit_command_trains_a_generator_for_git(tmp_path, capsys):
    out = tmp_path / "munit"
    arguments = ["train-munit", "--preset", "tiny", "--iterations", "2", "--batch-size", "2"]
    options = "{ num_classes = 4, per_class = 200, test_per_class = 6, max_count = 60 }"
    arguments += ["--variant", "dil", "--options", options, "--out", str(out), "--no-progress"]
    assert main(arguments) == 0
    assert "iteration 2" in capsys.readouterr().out
    config = small_config('methods=["ce_drs+git"]', f"git.generator='{out}'")
    run_experiment(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "munit-seed0-order0").exists()  # the given generator was used


def test_the_report_table_gives_t_intervals_and_leaves_empty_groups_out():
    def run(seed: int, balanced: float) -> dict:
        accuracy = {"balanced": balanced, "many": 1.0, "medium": 0.5, "few": float("nan")}
        return {"method": "ce", "seed": seed, "accuracy": accuracy}

    table = method_table([run(0, 0.5), run(1, 0.7), run(2, 0.6)], ["ce", "focal"])
    assert list(table) == ["ce"]  # methods that did not run are left out
    balanced = table["ce"]["balanced_accuracy"]
    half = 4.302652729749464 * 0.1 / math.sqrt(3)  # scipy.stats.t.ppf(0.975, 2) * s / sqrt(n)
    assert (balanced.mean, balanced.low, balanced.high, balanced.n) == pytest.approx(
        (0.6, 0.6 - half, 0.6 + half, 3)
    )
    assert table["ce"]["few"].n == 0 and math.isnan(table["ce"]["mean_ekld"].mean)
    single = method_table([run(0, 0.5)], ["ce"])["ce"]["balanced_accuracy"]
    assert single.n == 1 and str(single) == "0.500 (n = 1)"


@pytest.mark.slow
def test_a_torchvision_model_trains_on_cifar10_image_folders(tmp_path):
    from data_files import unpacked_cifar10

    from invtransfer.data import longtail_counts

    (tmp_path / "cifar").mkdir()
    cifar = unpacked_cifar10(tmp_path / "cifar")
    root = tmp_path / "small"  # the first images of each class: a test-size copy by links
    for split, count in (("train", 30), ("test", 5)):
        for folder in sorted((cifar / split).iterdir()):
            (root / split / folder.name).mkdir(parents=True)
            for image in sorted(folder.iterdir())[:count]:
                (root / split / folder.name / image.name).symlink_to(image)
    config_path, out = tmp_path / "cifar.toml", tmp_path / "out"
    config_path.write_text(
        'methods = ["ce", "ce_drs"]\n'
        "[data]\n"
        'recipe = "image_folder"\n'
        'variant = "none"\n'
        'options = { profile = "exponential", imbalance_ratio = 10.0 }\n'
        "[model]\n"
        'name = "torchvision:resnet18"\n'
        "[train]\n"
        "epochs = 2\nbatch_size = 16\nlr = 0.05\nwarmup_epochs = 0\nmilestones = [1]\n"
        'augmentation = "crop_flip"\n'
    )
    assert main(["train", str(config_path), "--data-root", str(root), "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    metrics = json.loads((out / "runs" / "ce_drs-seed0" / "metrics.json").read_text())
    expected = longtail_counts("exponential", 10, 30, imbalance_ratio=10.0)
    assert metrics["class_counts"] == expected.tolist()  # 30 down to 3
    assert len(metrics["per_class_accuracy"]) == 10
    assert {"summary.md", "metrics.csv", "class_sizes.png"} <= {
        path.name for path in (out / "report").iterdir()
    }
    assert len(_log_rows(out / "runs" / "ce_drs-seed0")) == 2


def test_a_diverging_run_stops_with_one_line_before_its_epoch_is_saved(tmp_path, capsys):
    config = tmp_path / "experiment.toml"
    _write_config(config, 'methods=["ce"]', "train.lr=1e12")
    assert main(["train", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(
        "invtransfer: error: ce seed 0, epoch 1: the weights are no longer finite ("
    ), error
    assert "stopped before this epoch was checkpointed" in error and "\n" not in error
    assert not (tmp_path / "out/runs/ce-seed0-order0/checkpoints").exists()
