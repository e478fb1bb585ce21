"""The methods table and the learning-rate schedule of invtransfer.experiments."""

from __future__ import annotations

import pytest
import torch

from invtransfer.experiments import (
    METHODS,
    ExperimentConfig,
    lr_factor,
    method_parts,
    warmup_step_lr,
)
from invtransfer.losses import LDAMLoss, WeightedCrossEntropy
from invtransfer.sampling import ClassBalancedSampler

COUNTS = torch.tensor([500, 120, 30, 5])
PAPER_METHODS = {
    "ce", "ce_rs", "ce_rw", "ce_drs", "ce_drw", "ldam_drw", "focal", "logit_adjustment",
    "balanced_softmax",
}  # fmt: skip


def test_every_paper_method_is_there_and_gives_a_finite_loss():
    assert set(METHODS) == PAPER_METHODS
    logits, labels = torch.randn(8, 4), torch.tensor([0, 1, 2, 3] * 2)
    for name in PAPER_METHODS:
        for full in (name, name + "+git"):
            parts = method_parts(full, COUNTS, defer_epoch=3)
            assert parts.git == full.endswith("+git")
            if hasattr(parts.loss, "set_epoch"):
                parts.loss.set_epoch(5)
            assert torch.isfinite(parts.loss(logits, labels)), full


@pytest.mark.parametrize(
    ("name", "powers"),
    [("ce", None), ("ce_rw", None), ("ce_rs", [0.0, 0.0]), ("ce_drs", [1.0, 0.0])],
)
def test_sampling_schedules_before_and_after_the_deferred_epoch(name, powers):
    power = method_parts(name, COUNTS, defer_epoch=3).sampling_power
    assert (power is None) if powers is None else [power(2), power(3)] == powers


def test_a_deferred_sampler_draws_instance_balanced_then_class_balanced():
    power = method_parts("ce_drs", COUNTS, defer_epoch=1).sampling_power
    labels = torch.repeat_interleave(torch.arange(4), COUNTS)
    sampler = ClassBalancedSampler(labels, schedule=power, epoch_length=20_000, seed=0)
    before = labels[list(sampler)].bincount(minlength=4) / 20_000
    sampler.set_epoch(1)
    after = labels[list(sampler)].bincount(minlength=4) / 20_000
    assert torch.allclose(before, COUNTS / COUNTS.sum(), atol=0.02)
    assert torch.allclose(after, torch.full((4,), 0.25), atol=0.02)


@pytest.mark.parametrize("name", ["ce_drw", "ldam_drw"])
def test_deferred_reweighting_switches_on_at_the_deferred_epoch(name):
    loss = method_parts(name, COUNTS, defer_epoch=3).loss
    assert isinstance(loss, (WeightedCrossEntropy, LDAMLoss))
    loss.set_epoch(2)
    assert loss.strength == 0.0  # every class weighs 1
    loss.set_epoch(3)
    assert loss.strength == 1.0 and loss.class_weight[3] > loss.class_weight[0]


def test_an_unknown_method_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"method: expected one of \['balanced_softmax'.*'ce_git'"):
        method_parts("ce_git", COUNTS, 3)


def test_the_paper_schedules():
    k49 = [lr_factor(e, 5, [30, 40], 0.01) for e in range(50)]
    assert k49[:5] == [0.2, 0.4, 0.6, 0.8, 1.0] and set(k49[5:30]) == {1.0}
    assert set(k49[30:40]) == {0.01} and set(k49[40:]) == {0.01**2}
    cifar = [lr_factor(e, 5, [160, 180], 0.01) for e in (159, 160, 180, 199)]
    assert cifar == [1.0, 0.01, 0.01**2, 0.01**2]


def test_the_scheduler_sets_the_optimizer_rate_each_epoch():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    schedule = warmup_step_lr(optimizer, warmup_epochs=5, milestones=[30, 40])
    rates = []
    for _ in range(45):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    expected = [0.1 * lr_factor(e, 5, [30, 40], 0.01) for e in range(45)]
    assert rates == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup_epochs": -1}, "warmup_epochs: expected an int >= 0"),
        ({"milestones": [40, 30]}, "milestones: expected increasing epochs"),
        ({"milestones": [3]}, r"milestones: expected increasing epochs from warmup_epochs=5"),
        ({"gamma": 0.0}, r"gamma: expected a number in \(0, 1\]"),
    ],
)
def test_bad_schedules_are_refused(kwargs, message):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=message):
        warmup_step_lr(optimizer, **{"warmup_epochs": 5, **kwargs})


# configs


def test_a_config_round_trips_through_plain_data_and_toml(tmp_path):
    config = ExperimentConfig().with_overrides(
        ['data.recipe="mnist_lt"', "data.options={ max_count = 100 }", "train.milestones=[6, 7]"]
    )
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "experiment.toml"
    path.write_text(
        'name = "k49-bg"\nmethods = ["ce", "ldam_drw+git"]\nseeds = [0, 1]\n'
        '[data]\nrecipe = "k49_lt"\nvariant = "bg"\n[train]\nepochs = 50\nlr = 1\n'
    )
    loaded = ExperimentConfig.from_file(path)
    assert loaded.methods == ["ce", "ldam_drw+git"] and loaded.data.recipe == "k49_lt"
    assert loaded.train.lr == 1.0 and isinstance(loaded.train.lr, float)
    assert loaded.model == ExperimentConfig().model  # missing sections keep their defaults


def test_yaml_configs_load_when_pyyaml_is_there(tmp_path):
    pytest.importorskip("yaml", reason="YAML configs need PyYAML")
    path = tmp_path / "experiment.yaml"
    path.write_text("methods: [ce]\ndata:\n  variant: null\n")
    loaded = ExperimentConfig.from_file(path)
    assert loaded.methods == ["ce"] and loaded.data.variant is None


def test_overrides_read_toml_values_and_fall_back_to_strings():
    config = ExperimentConfig().with_overrides(["data.variant=dil", "train.defer_epoch=7"])
    assert config.data.variant == "dil" and config.train.deferred_start == 7
    assert ExperimentConfig().train.deferred_start == 30  # the first milestone


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train": {"epochs": 2.5}}, r"train\.epochs: expected int, received 2\.5"),
        ({"train": {"epochs": True}}, r"train\.epochs: expected int, received True"),
        ({"model": {"depth": 20}}, r"model: unknown keys \['depth'\]"),
        ({"methods": "ce"}, r"methods: expected a list, received 'ce'"),
        ({"seeds": [0, "one"]}, r"seeds\[1\]: expected int, received 'one'"),
        ({"data": 3}, r"data: expected a table of settings, received 3"),
    ],
)
def test_bad_configs_name_the_key(values, message):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict(values)


def test_bad_overrides_and_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="expected key=value"):
        ExperimentConfig().with_overrides(["epochs"])
    with pytest.raises(ValueError, match="'name' is not a section"):
        ExperimentConfig().with_overrides(["name.first=3"])
    with pytest.raises(FileNotFoundError, match="expected a config file"):
        ExperimentConfig.from_file(tmp_path / "missing.toml")
    (tmp_path / "config.ini").write_text("")
    with pytest.raises(ValueError, match=r"expected a \.toml, \.yaml or \.yml file"):
        ExperimentConfig.from_file(tmp_path / "config.ini")
