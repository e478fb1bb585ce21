"""The generative augment example runs end to end on a small fake MNIST."""

from __future__ import annotations

import json

from conftest import run_script
from data_files import write_mnist_layout


def test_train_generative_augment_example_writes_grid_augment_and_summary(tmp_path):
    root = tmp_path / "mnist"
    root.mkdir()  # random IDX files; 300 per class leave the recipe 30 for validation
    write_mnist_layout(root, per_class=300, classes=3)
    out = tmp_path / "out"
    run_script(
        "examples/train_generative_augment.py", "--data-root", root, "--variant", "bg",
        "--preset", "tiny", "--iterations", 3, "--batch-size", 4, "--judge-per-class", 20,
        "--judge-epochs", 1, "--eval-images", 12, "--spread-images", 4, "--styles", 3,
        "--out", out,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["iterations"] == 3 and 0 <= summary["judge_accuracy_translations"] <= 1
    assert summary["spread_of_the_real_nuisance"] > 0
    assert (out / "grid.png").is_file() and (out / "augment" / "generator.safetensors").is_file()
