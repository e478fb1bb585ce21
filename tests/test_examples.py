"""The examples and the README's code run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from data_files import SHARED_DATA, write_mnist_layout

ROOT = Path(__file__).resolve().parents[1]


def test_transforms_tour_writes_a_grid_per_family(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            ROOT / "examples" / "transforms_tour.py",
            "--out",
            tmp_path,
            "--images",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "identical = True" in result.stderr
    grids = sorted(path.name for path in tmp_path.glob("*.png"))
    assert {"rotation.png", "background.png", "morphology.png"} <= set(grids)


def test_longtail_datasets_example_saves_a_grid_per_variant(tmp_path):
    mnist = SHARED_DATA / "mnist"
    if not mnist.is_dir():  # the small files the tests write, when the real ones are absent
        mnist = write_mnist_layout(tmp_path, per_class=60, classes=10)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            ROOT / "examples" / "longtail_datasets.py",
            "--data-root",
            mnist,
            "--out",
            out,
            "--max-count",
            "40",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.png")) == [
        "mnist_bg_lt.png",
        "mnist_dil_lt.png",
        "mnist_rot_lt.png",
    ]


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_python_blocks_in_documents_run(document):
    blocks = re.findall(r"```python\n(.*?)```", document.read_text(), flags=re.S)
    for number, block in enumerate(blocks, start=1):
        if "../shared/data" in block and not SHARED_DATA.is_dir():
            continue  # a block that reads the real datasets, absent here
        exec(compile(block, f"{document.name} block {number}", "exec"), {})


def test_transforms_benchmark_smoke_run():
    pytest.importorskip(
        "kornia", reason="the benchmark compares against kornia (pip install kornia)"
    )
    result = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "transforms.py", "--quick"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("256x") == 4  # one row per (op, shape)
