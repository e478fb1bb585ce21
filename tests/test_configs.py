"""The experiment configs in configs/ load, name real methods and recipes, ask for their
files clearly, and (ImageNet-LT, iNaturalist-2018, Places-LT) read their list files."""

from __future__ import annotations

import pytest
from conftest import ROOT
from data_files import write_split_lists

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


BENCHMARKS = [p for p in CONFIGS if ExperimentConfig.from_file(p).data.recipe == "split_file"]
"""The configs of ImageNet-LT, iNaturalist-2018 and Places-LT: their published list files."""


def test_the_long_tail_benchmarks_have_configs():
    assert {p.stem for p in BENCHMARKS} == {"imagenet_lt", "inaturalist2018", "places_lt"}


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_each_benchmark_config_reads_its_lists_at_test_size(path, tmp_path):
    config = ExperimentConfig.from_file(path)
    options = config.data.options
    assert config.model.name.startswith("torchvision:resnet") and options["image_size"] == 224
    held_out = [options[split] for split in ("val", "test") if options[split]]
    write_split_lists(
        tmp_path, {options["train"]: [0, 0, 0, 1, 1, 2], **{name: [2, 1, 0] for name in held_out}}
    )
    small = config.with_overrides([f"data.root='{tmp_path}'", "data.options.image_size=8"])
    data = load_data(small.data)
    assert data.class_counts.tolist() == [3, 2, 1] and data.image_shape == (3, 8, 8)
    assert data.test.targets.tolist() == [2, 1, 0] and data.family is None
    assert (data.val is None) == (path.stem == "inaturalist2018")
    image, label = data.train[4]
    assert image.shape == (3, 8, 8) and label == 1
