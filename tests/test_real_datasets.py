"""The recipes on the real MNIST and CIFAR-10 files in ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch
from conftest import ROOT
from data_files import real_data

from invtransfer.cli import main
from invtransfer.data import cifar_lt, longtail_counts, mnist_lt


@pytest.fixture(scope="module")
def cifar10_folder(tmp_path_factory):
    archive = real_data("cifar10") / "cifar10-jpeg.tar.xz"
    target = tmp_path_factory.mktemp("cifar10")
    subprocess.run(["tar", "-xJf", archive, "-C", target], check=True)
    return target


def test_mnist_rot_lt_follows_the_profile_and_is_reproducible():
    root = real_data("mnist")
    splits = mnist_lt(root, variant="rot")
    expected = longtail_counts("zipf", 10, 4800, alpha=2, min_count=5)
    assert torch.equal(splits.class_counts, expected)
    assert torch.equal(splits.train.targets.bincount(), expected)
    assert len(splits.val) == 300 and len(splits.test) == 10_000
    again = mnist_lt(root, variant="rot")
    for index in (0, 123, len(splits.train) - 1):
        assert torch.equal(splits.train[index][0], again.train[index][0])
    image, clean = splits.train[5][0], splits.train.clean(5)[0]
    assert image.shape == clean.shape == (1, 28, 28) and not torch.equal(image, clean)
    other_seed = mnist_lt(root, variant="rot", seed=1)
    assert not torch.equal(other_seed.train.params.angle, splits.train.params.angle)


def test_cifar10_lt_from_the_image_folder(cifar10_folder):
    splits = cifar_lt(cifar10_folder, imbalance_ratio=100)
    assert len(splits.train) == 12_406 and splits.class_counts[0] == 5000
    assert len(splits.test) == 10_000 and splits.val is None
    image, label = splits.train[len(splits.train) - 1]
    assert image.dtype == torch.uint8 and image.shape == (3, 32, 32) and label == 9
    first_kept = splits.train.indices[splits.train.targets == 9]
    assert first_kept.tolist() == list(range(45_000, 45_050))  # the first 50 trucks


def test_cifar10_lt_holds_a_balanced_val_set_out_first(cifar10_folder):
    splits = cifar_lt(cifar10_folder, imbalance_ratio=100, val_per_class=20, seed=0)
    assert len(splits.val) == 200 and splits.val.class_counts.tolist() == [20] * 10
    assert splits.class_counts[0] == 4980  # the largest class that remains
    in_train = splits.train.dataset.indices  # the Subset of images left after the hold-out
    assert not set(splits.val.indices.tolist()) & set(in_train)


def test_the_cifar10_lt_config_trains_end_to_end_with_crop_and_flip(cifar10_folder, tmp_path):
    settings = [
        "data.options={ imbalance_ratio = 10.0, max_count = 50 }",
        'model.name="small_cnn"',
        "train.epochs=2",
        "train.warmup_epochs=1",
        "train.milestones=[1]",
        'methods=["ce", "ce_drs"]',
        "seeds=[0]",
    ]
    overrides = [item for setting in settings for item in ("--set", setting)]
    out, config = tmp_path / "run", ROOT / "configs/cifar10_lt.toml"
    main(["train", str(config), "--data-root", str(cifar10_folder), *overrides,
          "--out", str(out), "--no-progress"])  # fmt: skip
    metrics = json.loads((out / "runs/ce_drs-seed0/metrics.json").read_text())
    expected = longtail_counts("exponential", 10, 50, imbalance_ratio=10.0)
    assert metrics["class_counts"] == expected.tolist()
    assert "invariance" not in metrics  # CIFAR has no nuisance family
    assert 0.1 <= metrics["accuracy"]["balanced"] <= 1  # on the full balanced test set
    assert (out / "report" / "summary.md").is_file()
