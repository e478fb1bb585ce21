"""The invariance-curve example runs end to end with tiny settings and writes its files."""

from __future__ import annotations

import json

from conftest import run_script
from data_files import SHARED_DATA, write_mnist_layout


def test_invariance_curve_example_writes_plot_csv_and_json(tmp_path):
    mnist = SHARED_DATA / "mnist"
    if not mnist.is_dir():  # small random files, when the real ones are absent
        # 300 per class: the recipe's 20% validation split must hold its 30 images per class.
        mnist = write_mnist_layout(tmp_path, per_class=300, classes=10)
    out = tmp_path / "out"
    result = run_script(
        "examples/invariance_curve.py",
        *("--data-root", mnist, "--out", out, "--epochs", 1, "--max-count", 60),
        *("--samples-per-class", 3, "--transforms", 2),
    )
    assert "Spearman(class size, eKLD)" in result.stderr
    assert {path.name for path in out.iterdir()} == {"curve.png", "curve.csv", "curve.json"}
    document = json.loads((out / "curve.json").read_text())
    assert document["settings"]["transforms_per_sample"] == 2
    assert document["columns"]["images"] == [3] * 10
    assert len((out / "curve.csv").read_text().splitlines()) == 11  # header + one row per class
