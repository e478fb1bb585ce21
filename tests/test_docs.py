"""The documentation site builds with ``mkdocs build --strict``: no warnings, no broken links."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

DOCS_TOOLS = [
    ("mkdocs", "mkdocs"),
    ("material", "mkdocs-material"),
    ("mkdocstrings", "mkdocstrings"),
    ("mkdocstrings_handlers.python", "mkdocstrings-python"),
]
"""(module, distribution) pairs the build needs; the test skips when one is missing."""


def test_docs_build_strict(tmp_path: Path) -> None:
    for module, package in DOCS_TOOLS:
        pytest.importorskip(module, reason=f"{package} is not installed (pip install -e '.[docs]')")
    # Silence Material's MkDocs 2.0 notice; it is not a build warning.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "api" / "transforms" / "index.html").is_file()
