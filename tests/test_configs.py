"""The paper's experiment configs in configs/ load, name real methods and recipes, and ask
for their files clearly."""

from __future__ import annotations

import pytest
from conftest import ROOT

from invtransfer.experiments import RECIPES, ExperimentConfig, load_data, method_parts

CONFIGS = sorted((ROOT / "configs").glob("*.toml"))


def test_there_are_configs():
    assert {p.stem for p in CONFIGS} >= {"k49_rot_lt", "k49_bg_lt", "k49_dil_lt"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_each_config_loads_with_real_methods_and_recipes(path):
    config = ExperimentConfig.from_file(path)
    assert config.data.recipe in RECIPES and config.data.root is None
    for method in config.methods:
        method_parts(method, [100, 10, 1], config.train.deferred_start)
    with pytest.raises(ValueError, match="pass --data-root"):
        load_data(config.data)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_a_missing_data_folder_is_a_clear_error(path, tmp_path):
    config = ExperimentConfig.from_file(path).with_overrides([f"data.root='{tmp_path}'"])
    with pytest.raises((FileNotFoundError, ValueError), match=str(tmp_path)):
        load_data(config.data)
