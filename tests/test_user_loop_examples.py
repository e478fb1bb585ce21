"""The user-loop examples (GIT in a DataLoader, the balanced sampler under DDP, the curve of a
torchvision model) run end to end with tiny settings and keep their promises."""

from __future__ import annotations

import ast
import json
import re

import torch
from conftest import run_script
from torch.utils.data import BatchSampler, RandomSampler

from invtransfer._seeding import derive_seed, keyed_uniforms

TINY_GLYPHS = ("--classes", 4, "--per-class", 40, "--test-per-class", 5, "--max-count", 30)
"""Class sizes [30, 7, 5, 5]: 47 training images; 5 test images per class."""


def proposed_in_epoch(epoch: int, seed: int = 0, fraction: float = 0.5) -> int:
    """The rows the example's augment translates in ``epoch`` (from its start epoch on),
    computed here: its loader's batches (CE-DRW shuffles with ``RandomSampler`` seeded with
    ``seed``, two full batches of 16 of the 47 images per epoch), and for each of their
    dataset indices the documented per-index draw, uniform ``(seed, 2, epoch)`` < fraction."""
    sampler = RandomSampler(range(47), generator=torch.Generator().manual_seed(seed))
    epochs = [list(BatchSampler(sampler, 16, drop_last=True)) for _ in range(epoch + 1)]
    index = torch.tensor(epochs[epoch]).flatten()
    assert len(index) == 32
    uniforms = keyed_uniforms(derive_seed(seed, 2, epoch), index, 1)[:, 0]
    return int((uniforms < fraction).sum())


def test_augment_in_dataloader_translates_from_the_start_epoch_in_workers(tmp_path):
    out = tmp_path / "out"
    result = run_script(
        "examples/augment_in_dataloader.py", *TINY_GLYPHS, "--out", out,
        "--gan-iterations", 2, "--gan-batch-size", 4, "--epochs", 2, "--defer-epoch", 1,
        "--warmup-epochs", 1, "--batch-size", 16, "--workers", 2,
    )  # fmt: skip
    # two full batches of 16 per epoch; from epoch 1 (the second) on, each image with
    # probability 0.5, as its (seed, epoch, index) decides
    translated = proposed_in_epoch(1)
    assert 0 < translated < 32
    logged = re.findall(r"epoch (\d)/2: loss [\d.]+, (\d+) of 32 rows translated", result.stderr)
    assert logged == [("1", "0"), ("2", str(translated))], result.stderr
    assert "test balanced accuracy" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["translated_per_epoch"] == [0, translated]
    assert summary["class_counts"] == [30, 7, 5, 5]
    assert 0 <= summary["test_balanced_accuracy"] <= 1
    assert (out / "munit" / "checkpoints" / "iter-0000002" / "generator.safetensors").is_file()


def test_balanced_sampler_ddp_draws_balanced_disjoint_shards_on_two_ranks():
    result = run_script(
        "examples/balanced_sampler_ddp.py", *TINY_GLYPHS, "--world-size", 2,
        "--start-method", "fork", "--epochs", 1, "--batch-size", 8,
    )  # fmt: skip
    log = result.stderr
    assert "[rank 0] 2 ranks; each draws 24 of the 47 indices" in log
    drawn = re.search(r"48 draws over 2 ranks, per class (\[.*?\]) \(dataset: (\[.*?\])\)", log)
    assert drawn is not None, log
    per_class, dataset = map(ast.literal_eval, drawn.groups())
    assert dataset == [30, 7, 5, 5] and sum(per_class) == 48
    assert min(per_class) >= 8  # about 12 each, against 5 of 48 for the smallest by size
    assert "interleaved they rebuild the single-process stream" in log
    assert "test balanced accuracy" in log
    assert "[rank 1]" not in log  # only rank 0 reports


def test_torchvision_model_curve_writes_plot_csv_and_json(tmp_path):
    out = tmp_path / "out"
    result = run_script(
        "examples/torchvision_model_curve.py", *TINY_GLYPHS, "--out", out, "--arch", "resnet18",
        "--epochs", 1, "--batch-size", 16, "--samples-per-class", 3, "--transforms", 2,
    )  # fmt: skip
    assert "Spearman(class size, eKLD)" in result.stderr
    assert {path.name for path in out.iterdir()} == {"curve.png", "curve.csv", "curve.json"}
    document = json.loads((out / "curve.json").read_text())
    assert document["settings"]["transforms_per_sample"] == 2
    assert document["columns"]["class_size"] == [30, 7, 5, 5]
    assert document["columns"]["images"] == [3] * 4
    assert -1 <= document["summary"]["ekld"]["spearman"] <= 1
    assert len((out / "curve.csv").read_text().splitlines()) == 5  # header + a row per class
