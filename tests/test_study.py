"""Studies: replicates (a seed and a class order each), the nuisance an evaluation measures,
the report's paired comparisons and pooled trend against scipy, and a study run in parts."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from scipy import stats
from test_runner import small_config

from invtransfer.cli import build_parser
from invtransfer.experiments import (
    DataConfig,
    EvaluationConfig,
    ExperimentConfig,
    Replicate,
    compare_runs,
    comparisons,
    load_data,
    load_run,
    measured_nuisance,
    method_table,
    replicates,
    run_experiment,
    write_report,
)
from invtransfer.generative import LearnedNuisance, MUNITGenerator, preset
from invtransfer.metrics import spearman
from invtransfer.transforms import BackgroundIntensity, Brightness


def config_with(*overrides: str) -> ExperimentConfig:
    return ExperimentConfig().with_overrides(list(overrides))


# replicates


def test_each_seed_gets_its_own_class_order_by_default():
    assert replicates(config_with("seeds=[0, 3, 5]")) == [
        Replicate(0, 0), Replicate(3, 3), Replicate(5, 5),
    ]  # fmt: skip


def test_k_class_orders_run_under_every_seed():
    found = replicates(config_with("seeds=[4, 7]", "data.class_orders=3"))
    assert [(r.seed, r.order) for r in found] == [(s, o) for s in (4, 7) for o in range(3)]
    assert [r.name for r in found][:2] == ["seed4-order0", "seed4-order1"]


@pytest.mark.parametrize("recipe", ["cifar_lt", "image_folder"])
def test_recipes_without_drawn_orders_have_one_replicate_per_seed(recipe):
    config = config_with(f'data.recipe="{recipe}"', 'data.variant="none"', "seeds=[0, 2]")
    assert replicates(config) == [Replicate(0, None), Replicate(2, None)]
    assert [r.name for r in replicates(config)] == ["seed0", "seed2"]
    with pytest.raises(ValueError, match=rf"data.class_orders: the {recipe} recipe .*received 2"):
        replicates(config.with_overrides(["data.class_orders=2"]))


def test_class_orders_come_from_the_study_only():
    with pytest.raises(ValueError, match=r"data\.options\.class_order_seed: a study draws"):
        replicates(config_with("data.options={ class_order_seed = 3 }"))
    with pytest.raises(ValueError, match=r"data\.class_orders: expected an int >= 1, received 0"):
        replicates(config_with("data.class_orders=0"))


# class orders in the data

GLYPHS = DataConfig(
    "glyphs_lt", variant="bg",
    options=dict(num_classes=5, per_class=300, test_per_class=2, max_count=40),
)  # fmt: skip


def test_a_class_order_gives_the_same_sizes_to_other_classes():
    first, second = load_data(GLYPHS, seed=0, order=0), load_data(GLYPHS, seed=0, order=1)
    assert sorted(first.class_counts.tolist()) == sorted(second.class_counts.tolist())
    assert sorted(first.class_counts.tolist()) == [5, 5, 5, 10, 40]
    assert int(first.class_counts.argmax()) != int(second.class_counts.argmax())
    assert load_data(GLYPHS).class_counts.tolist() == [40, 10, 5, 5, 5]  # the recipe's order
    # the order alone sets the sizes; the seed draws the images
    assert torch.equal(load_data(GLYPHS, seed=1, order=0).class_counts, first.class_counts)


def test_the_same_seed_and_order_give_the_same_data():
    a, b = load_data(GLYPHS, seed=2, order=1), load_data(GLYPHS, seed=2, order=1)
    assert torch.equal(a.class_counts, b.class_counts)
    assert [a.train[i][1] for i in range(len(a.train))] == [
        b.train[i][1] for i in range(len(b.train))
    ]
    assert all(torch.equal(a.train[i][0], b.train[i][0]) for i in range(len(a.train)))


# the nuisance an evaluation measures


def test_the_recipes_family_measures_the_clean_test_images():
    data = load_data(GLYPHS)
    family, images = measured_nuisance(EvaluationConfig(), data)
    assert isinstance(family, BackgroundIntensity) and family is data.family
    assert images is data.clean_test


def test_a_named_family_measures_the_test_images_with_its_options():
    data = load_data(GLYPHS)
    config = config_with(
        'evaluation.family="brightness"', "evaluation.family_options={ factor = [0.5, 1.5] }"
    ).evaluation
    family, images = measured_nuisance(config, data)
    assert isinstance(family, Brightness) and family.range == (0.5, 1.5)
    assert images is data.test


def test_the_generators_nuisance_needs_a_generator():
    data = load_data(GLYPHS)
    with pytest.raises(ValueError, match=r"evaluation\.family: 'generator' measures the run's"):
        measured_nuisance(EvaluationConfig(family="generator"), data)
    generator = MUNITGenerator(preset("tiny", image_size=28, channels=1), seed=0)
    family, images = measured_nuisance(EvaluationConfig(family="generator"), data, generator)
    assert isinstance(family, LearnedNuisance) and images is data.test


def test_bad_family_names_and_options_are_refused_with_the_setting_named():
    data = load_data(GLYPHS)
    with pytest.raises(ValueError, match=r"evaluation.family: .*close matches: \['brightness'\]"):
        measured_nuisance(EvaluationConfig(family="brightnes"), data)
    bad_option = EvaluationConfig(family="rotation", family_options={"angle": 15})
    with pytest.raises(TypeError, match=r"evaluation.family 'rotation': .*'angle'"):
        measured_nuisance(bad_option, data)


# synthetic metrics.json documents, with the keys the report reads

SIZES = [400, 150, 60, 25, 10, 4]
"""Training images of the classes, largest first; the tail is the smallest third (10, 4)."""


def metrics(
    method: str, seed: int, order: int, shift: float = 0.0, accuracy: float = 0.6, skip=None
) -> dict:
    """A run's metrics.json: per-class eKLD falling with class size (seeded noise) plus
    ``shift``, the classes in the order's permutation; class ``skip`` was not evaluated."""
    g = torch.Generator().manual_seed(1000 * seed + 10 * order + len(method))
    permutation = torch.randperm(len(SIZES), generator=torch.Generator().manual_seed(order))
    sizes = torch.tensor(SIZES)[permutation]
    ekld = 1.0 / sizes.double().log() + 0.05 * torch.rand(len(SIZES), generator=g) + shift
    consistency = 1 - ekld / 2
    images = torch.full((len(SIZES),), 2)
    if skip is not None:
        images[skip], ekld[skip] = 0, 9.0  # a value that would show if it were pooled
    kept = images > 0
    tail = [c for c in range(len(SIZES)) if sizes[c] <= 10 and kept[c]]
    return {
        "method": method, "seed": seed, "order": order, "replicate": f"seed{seed}-order{order}",
        "class_counts": sizes.tolist(),
        "accuracy": {"balanced": accuracy, "many": accuracy + 0.2, "medium": accuracy,
                     "few": accuracy - 0.3},
        "invariance": {
            "family": "BackgroundIntensity",
            "columns": {
                "class_size": sizes.tolist(), "images": images.tolist(),
                "ekld_mean": ekld.tolist(), "ekld_low": (ekld - 0.01).tolist(),
                "ekld_high": (ekld + 0.01).tolist(), "consistency_mean": consistency.tolist(),
            },
            "summary": {
                "mean": float(ekld[kept].mean()), "tail_mean": float(ekld[tail].mean()),
                "spearman": stats.spearmanr(sizes[kept].tolist(), ekld[kept].tolist()).statistic,
            },
        },
    }  # fmt: skip


def write_study(folder, runs: list[dict], methods: list[str]):
    config = config_with(f"methods={json.dumps(methods)}", "name='synthetic'")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    for run in runs:
        path = folder / "runs" / f"{run['method']}-{run['replicate']}" / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(run))
    return (write_report(folder) / "summary.md").read_text()


def tail(run: dict) -> float:
    return run["invariance"]["summary"]["tail_mean"]


def test_paired_comparisons_are_scipys_paired_t_interval_over_shared_replicates():
    shifts = [-0.21, -0.15, -0.24, -0.18]
    before = [metrics("ce", s, s) for s in range(4)]
    after = [metrics("ce_drs+git", s, s, shift) for s, shift in enumerate(shifts)]
    unpaired = [metrics("ce", 9, 9, accuracy=0.4), metrics("ce_drs+git", 8, 8, 5.0)]
    difference = compare_runs(before + after + unpaired, "ce", "ce_drs+git", "tail_ekld")
    reference = stats.ttest_rel([tail(r) for r in after], [tail(r) for r in before])
    interval = reference.confidence_interval(0.95)
    assert difference.n == 4
    paired = [tail(a) - tail(b) for a, b in zip(after, before, strict=True)]
    assert difference.mean == pytest.approx(np.mean(paired), abs=1e-12)
    assert (difference.low, difference.high) == pytest.approx(
        (interval.low, interval.high), rel=1e-9
    )
    assert difference.finding() == "lower, CI excludes 0"
    accuracy = compare_runs(before + after + unpaired, "ce", "ce_drs+git", "few")
    assert (accuracy.mean, accuracy.n) == (pytest.approx(0.0), 4)
    with pytest.raises(ValueError, match="column: expected one of"):
        compare_runs(before, "ce", "ce_drs+git", "ekld")


def test_the_compared_pairs():
    assert comparisons(["ce", "ce_drs", "ce_drs+git", "ldam_drw"]) == [
        ("ce", "ce_drs"), ("ce", "ce_drs+git"), ("ce", "ldam_drw"), ("ce_drs", "ce_drs+git"),
    ]  # fmt: skip
    assert comparisons(["ce_drs", "ce_drs+git"]) == [("ce_drs", "ce_drs+git")]
    assert comparisons(["ce", "ce+git"]) == [("ce", "ce+git")]


def test_the_method_table_is_scipys_t_interval_per_column():
    accuracies = [0.52, 0.61, 0.57, 0.49, 0.58]
    runs = [metrics("ce", s, s, accuracy=a) for s, a in enumerate(accuracies)]
    table = method_table(runs, ["ce", "ce_drs"])
    assert list(table) == ["ce"]  # methods that did not run are left out
    cell = table["ce"]["balanced_accuracy"]
    low, high = stats.t.interval(
        0.95, len(accuracies) - 1, loc=np.mean(accuracies), scale=stats.sem(accuracies)
    )
    assert (cell.mean, cell.low, cell.high, cell.n) == pytest.approx(
        (np.mean(accuracies), low, high, 5), rel=1e-9
    )
    tails = [tail(run) for run in runs]
    expected = stats.t.interval(0.95, 4, loc=np.mean(tails), scale=stats.sem(tails))
    assert (table["ce"]["tail_ekld"].low, table["ce"]["tail_ekld"].high) == pytest.approx(
        expected, rel=1e-9
    )


def test_a_report_of_one_replicate_says_n_is_1(tmp_path):
    runs = [metrics("ce", 0, 0), metrics("ce_drs+git", 0, 0, -0.2)]
    summary = write_study(tmp_path, runs, ["ce", "ce_drs+git"])
    assert "1 replicate: seeds [0], class orders [0]" in summary
    assert "one replicate (n = 1: no interval" in summary
    assert "| ce | 0.600 (n = 1) |" in summary
    assert "(n = 1, no interval)" in summary and "n = 1 replicate: no interval" in summary
    assert "± 0.000" not in summary


def findings(summary: str) -> list[str]:
    return summary.split("## Findings")[1].strip().split("\n\n")[0].splitlines()


def test_a_clear_difference_is_worded_lower_with_its_interval(tmp_path):
    shifts = [-0.21, -0.15, -0.24, -0.18]
    runs = [metrics("ce", s, s) for s in range(4)]
    accuracies = [0.62, 0.60, 0.63, 0.61]  # +0.015 on average, but not clearly
    runs += [metrics("ce_drs+git", s, s, shifts[s], accuracies[s]) for s in range(4)]
    summary = write_study(tmp_path, runs, ["ce", "ce_drs+git"])
    tails = stats.ttest_rel([tail(r) for r in runs[4:]], [tail(r) for r in runs[:4]])
    low, high = tails.confidence_interval(0.95)
    mean = np.mean([tail(a) - tail(b) for a, b in zip(runs[4:], runs[:4], strict=True)])
    [line] = findings(summary)
    assert line.startswith(
        f"- ce_drs+git vs ce: tail eKLD lower, CI excludes 0: {mean:+.3f} [{low:+.3f}, "
        f"{high:+.3f}], n = 4; balanced accuracy no detectable difference: +0.015 ["
    )
    low, high = stats.ttest_rel(accuracies, [0.6] * 4).confidence_interval(0.95)
    assert line.endswith(f"+0.015 [{low:+.3f}, {high:+.3f}], n = 4.")
    assert "4 replicates: seeds [0, 1, 2, 3], class orders [0, 1, 2, 3]" in summary


def test_differences_either_side_of_0_are_no_detectable_difference(tmp_path):
    shifts = [0.05, -0.05, 0.04, -0.06]
    runs = [metrics("ce", s, s) for s in range(4)]
    runs += [metrics("ce_drs+git", s, s, shift) for s, shift in enumerate(shifts)]
    [line] = findings(write_study(tmp_path, runs, ["ce", "ce_drs+git"]))
    assert line.startswith("- ce_drs+git vs ce: tail eKLD no detectable difference: ")
    difference = compare_runs(runs, "ce", "ce_drs+git", "tail_ekld")
    assert difference.low < 0 < difference.high


def test_the_pooled_spearman_is_over_every_evaluated_point(tmp_path):
    runs = [metrics("ce", s, s, skip=1 if s == 2 else None) for s in range(3)]
    summary = write_study(tmp_path, runs, ["ce"])
    sizes, values = [], []
    for run in runs:
        columns = run["invariance"]["columns"]
        for size, images, ekld in zip(
            columns["class_size"], columns["images"], columns["ekld_mean"], strict=True
        ):
            if images:
                sizes.append(size)
                values.append(ekld)
    assert len(values) == 3 * len(SIZES) - 1
    rho = spearman(torch.tensor(sizes), torch.tensor(values))
    assert rho == pytest.approx(stats.spearmanr(sizes, values).statistic, abs=1e-12)
    row = re.search(r"^\| ce \| (-?\d\.\d{3}) \[", summary.split("## Invariance")[1], re.M)
    assert row is not None and float(row.group(1)) == round(rho, 3)
    assert "eKLD rises as classes shrink (interval below 0)" in summary


# a study run in parts


@pytest.mark.slow
def test_a_study_runs_seed_by_seed_and_reads_back_what_it_has(tmp_path):
    config = small_config("seeds=[0, 1]", 'methods=["ce", "ce_drs+git"]')
    first = run_experiment(config, tmp_path, progress=False, seeds=[1])
    assert sorted(first) == ["ce-seed1-order1", "ce_drs+git-seed1-order1"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(first)
    assert not (tmp_path / "munit-seed0-order0").exists()
    finished = tmp_path / "runs/ce-seed1-order1/metrics.json"
    written = finished.stat().st_mtime_ns
    results = run_experiment(config, tmp_path, progress=False)
    assert sorted(results) == [
        "ce-seed0-order0", "ce-seed1-order1", "ce_drs+git-seed0-order0", "ce_drs+git-seed1-order1",
    ]  # fmt: skip
    assert finished.stat().st_mtime_ns == written  # read back, not trained again
    assert json.dumps(results["ce-seed1-order1"]) == json.dumps(first["ce-seed1-order1"])
    assert (results["ce-seed0-order0"]["seed"], results["ce-seed0-order0"]["order"]) == (0, 0)
    for name in ("seed0-order0", "seed1-order1"):
        quality = json.loads((tmp_path / "quality" / f"{name}.json").read_text())
        assert quality["judge"] == "ce"  # there is no ce_drs to judge with
        assert (tmp_path / "quality" / f"{name}-grid.png").is_file()
    summary = (tmp_path / "report/summary.md").read_text()
    assert "2 replicates: seeds [0, 1], class orders [0, 1]" in summary
    assert load_run(tmp_path, "ce", 1).folder == tmp_path / "runs/ce-seed1-order1"
    with pytest.raises(ValueError, match=r"seed=1, order=0: expected one of the replicates"):
        load_run(tmp_path, "ce", 1, order=0)
    with pytest.raises(ValueError, match=r"seeds: expected seeds of the config \[0, 1\], .*\[7\]"):
        run_experiment(config, tmp_path, progress=False, seeds=[7])


def test_the_command_line_takes_seeds_and_a_class_order():
    parser = build_parser()
    train = parser.parse_args(["train", "study.toml", "--seeds", "1"])
    assert (train.command, train.seeds) == ("train", [1])
    assert parser.parse_args(["train", "study.toml", "--seeds", "0", "2"]).seeds == [0, 2]
    assert parser.parse_args(["train", "study.toml"]).seeds is None
    curve = parser.parse_args(["curve", "runs/x", "--method", "ce", "--seed", "1", "--order", "3"])
    assert (curve.seed, curve.order) == (1, 3)
    assert parser.parse_args(["curve", "runs/x", "--method", "ce"]).order is None
