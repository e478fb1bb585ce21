"""The examples and the README's code run as written."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, run_script
from data_files import SHARED_DATA, write_mnist_layout


def test_transforms_tour_writes_a_grid_per_family(tmp_path):
    result = run_script("examples/transforms_tour.py", "--out", tmp_path, "--images", 2)
    assert "identical = True" in result.stderr
    grids = {path.name for path in tmp_path.glob("*.png")}
    assert {"rotation.png", "background.png", "morphology.png"} <= grids


def test_longtail_datasets_example_saves_a_grid_per_variant(tmp_path):
    mnist = SHARED_DATA / "mnist"
    if not mnist.is_dir():  # the small files the tests write, when the real ones are absent
        mnist = write_mnist_layout(tmp_path, per_class=300, classes=10)
    out = tmp_path / "out"
    run_script(
        "examples/longtail_datasets.py", "--data-root", mnist, "--out", out, "--max-count", 40
    )
    grids = sorted(path.name for path in out.glob("*.png"))
    assert grids == ["mnist_bg_lt.png", "mnist_dil_lt.png", "mnist_rot_lt.png"]


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
    result = run_script("benchmarks/transforms.py", "--quick")
    assert result.stdout.count("256x") == 4  # one row per (op, shape)


def test_samplers_benchmark_smoke_run():
    result = run_script("benchmarks/samplers.py", "--quick")
    assert "1M epoch, list(sampler)" in result.stdout and "10M epoch" in result.stdout


def test_metrics_benchmark_smoke_run():
    result = run_script("benchmarks/metrics.py", "--quick")
    assert "curve/bare" in result.stdout


def test_generative_benchmark_smoke_run():
    result = run_script("benchmarks/generative.py", "--quick", "--threads", "1")
    assert "ours/two-domain" in result.stdout and "bank build" in result.stdout


def test_runner_benchmark_smoke_run():
    result = run_script("benchmarks/runner.py", "--quick")
    assert "runner throughput / plain:" in result.stdout and "peak resident memory" in result.stdout
