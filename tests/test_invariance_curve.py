"""invariance_curve: exact invariance, correct pairing, batch-size independence, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_on_two_ranks
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from invtransfer.metrics import InvarianceCurve, ekld, invariance_curve, strength_curve
from invtransfer.transforms import BackgroundIntensity, Rotation

CLASSES = 3
SIZES = [500, 50, 5]


def dataset(per_class: int = 6, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(CLASSES).repeat_interleave(per_class)
    images = torch.rand(len(labels), 1, 8, 8, generator=generator) * 0.5
    data = TensorDataset(images, labels)
    data.targets = labels
    return data


class MeanIntensity(nn.Module):
    """Logits from the mean pixel only: exactly invariant to rotation by multiples of 90."""

    def forward(self, x):
        mean = x.mean(dim=(1, 2, 3))
        return torch.stack([mean, -mean, mean * 2], dim=1)


class Identity(nn.Module):
    """Logits that remember the exact image (through one pixel per class), so that a copy
    paired with another image's clean prediction would show a large divergence."""

    def forward(self, x):
        return x.flatten(1)[:, :CLASSES] * 50


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, CLASSES))


def curve(model, family=None, **kwargs) -> InvarianceCurve:
    options = {"samples_per_class": 4, "transforms_per_sample": 5, "progress": False}
    family = Rotation() if family is None else family
    return invariance_curve(model, dataset(), family, SIZES, **{**options, **kwargs})


def test_an_invariant_model_scores_zero_and_full_consistency():
    constant = nn.Sequential(nn.Flatten(), nn.Linear(64, CLASSES))
    nn.init.zeros_(constant[1].weight)
    result = curve(constant)
    assert torch.equal(result.measures["ekld"]["mean"], torch.zeros(CLASSES, dtype=torch.float64))
    assert torch.equal(
        result.measures["consistency"]["mean"], torch.ones(CLASSES, dtype=torch.float64)
    )
    mean_only = curve(MeanIntensity(), family=Rotation(degrees=(90, 90), interpolation="nearest"))
    assert mean_only.measures["ekld"]["mean"].abs().max() < 1e-6


def test_a_model_that_is_not_invariant_scores_above_zero():
    result = curve(small_cnn())
    assert (result.measures["ekld"]["mean"] > 0).all()


def test_each_copy_is_paired_with_its_own_source():
    # The background nuisance leaves the first pixels of these images alone, so a correctly
    # paired copy has the clean logits exactly; a mispaired one would differ a lot.
    data = dataset()
    data.tensors[0][:, :, 0, :CLASSES] = torch.rand(len(data), 1, CLASSES) * 0.4 + 0.5
    result = invariance_curve(
        Identity(),
        data,
        BackgroundIntensity(),
        SIZES,
        samples_per_class=4,
        transforms_per_sample=7,
        progress=False,
    )
    assert result.measures["ekld"]["mean"].abs().max() < 1e-9
    assert torch.equal(
        result.measures["consistency"]["mean"], torch.ones(CLASSES, dtype=torch.float64)
    )
    swapped = ekld(Identity()(data.tensors[0][:1]), Identity()(data.tensors[0][1:2]))
    assert swapped.item() > 1  # what a mispairing would have cost


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_numbers_do_not_depend_on_batch_size(batch_size):
    reference = curve(small_cnn(), batch_size=256)
    other = curve(small_cnn(), batch_size=batch_size)
    for name in ("ekld", "consistency"):
        torch.testing.assert_close(
            other.measures[name]["mean"], reference.measures[name]["mean"], rtol=1e-5, atol=1e-7
        )


def test_same_seed_same_numbers_and_a_dataloader_works():
    first, second = curve(small_cnn(), seed=3), curve(small_cnn(), seed=3)
    assert torch.equal(first.measures["ekld"]["mean"], second.measures["ekld"]["mean"])
    loader = DataLoader(dataset(), batch_size=5)
    from_loader = invariance_curve(
        small_cnn(),
        loader,
        Rotation(),
        SIZES,
        samples_per_class=4,
        transforms_per_sample=2,
        progress=False,
    )
    assert from_loader.images.tolist() == [4, 4, 4]


def test_summary_exports_and_comparison(tmp_path):
    result = curve(small_cnn())
    summary = result.summary()
    assert set(summary) >= {"spearman", "log_size_slope", "tail_over_head", "balanced_accuracy"}
    assert -1 <= summary["spearman"] <= 1
    result.to_csv(tmp_path / "curve.csv")
    result.to_json(tmp_path / "curve.json")
    header = (tmp_path / "curve.csv").read_text().splitlines()[0]
    assert header.startswith("class,class_size,images,ekld_mean,ekld_low,ekld_high")
    document = json.loads((tmp_path / "curve.json").read_text())
    assert document["columns"]["class_size"] == SIZES
    low, mean, high = (result.measures["ekld"][k] for k in ("low", "mean", "high"))
    assert ((low <= mean + 1e-12) & (mean <= high + 1e-12)).all()
    difference = result.compare(result)["difference"]
    assert difference == [0.0] * CLASSES
    written = result.save(tmp_path / "saved" / "curve", title="eKLD per class")
    assert [path.name for path in written] == ["curve.png", "curve.csv", "curve.json"]
    assert written[1].read_text() == (tmp_path / "curve.csv").read_text()
    assert written[0].read_bytes().startswith(b"\x89PNG")


def test_plot_on_a_log_axis(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = curve(small_cnn()).plot()
    assert ax.get_xscale() == "log"
    plt.savefig(tmp_path / "curve.png")
    plt.close("all")


def test_classes_without_images_are_reported_not_a_crash():
    data = dataset()
    keep = data.targets != 2
    subset = TensorDataset(data.tensors[0][keep], data.tensors[1][keep])
    subset.targets = data.targets[keep]
    result = invariance_curve(
        small_cnn(),
        subset,
        Rotation(),
        SIZES,
        samples_per_class=3,
        transforms_per_sample=2,
        progress=False,
    )
    assert result.images.tolist() == [3, 3, 0]
    assert torch.isnan(result.measures["ekld"]["mean"][2])
    assert not torch.isnan(torch.tensor(result.summary()["spearman"]))


def test_strength_curve_grows_with_the_angle():
    table = strength_curve(
        small_cnn(),
        dataset(),
        Rotation(),
        "angle",
        [0.0, 45.0, 180.0],
        num_classes=CLASSES,
        samples_per_class=4,
        progress=False,
    )
    assert table["ekld"][0] == 0.0 and table["ekld"][2] > 0
    assert table["consistency"][0] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"class_sizes": [5, 5]}, r"class_sizes: expected one size per class \(3 classes"),
        ({"transforms_per_sample": 0}, "transforms_per_sample: expected an int >= 1"),
        ({"measures": ("accuracy",)}, "measures: expected some of"),
        ({"measures": ("feature_distance",)}, "features: 'feature_distance' needs"),
    ],
)
def test_bad_arguments(kwargs, message):
    options = {"class_sizes": SIZES, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        invariance_curve(small_cnn(), dataset(), Rotation(), **options)


def test_a_tensor_dataset_gives_its_labels_and_one_without_them_says_what_to_do():
    data = dataset()
    plain = TensorDataset(*data.tensors)  # labels as the last tensor, no targets attribute
    with_targets = curve(small_cnn()).measures["ekld"]["mean"]
    options = {"samples_per_class": 4, "transforms_per_sample": 5, "progress": False}
    from_plain = invariance_curve(small_cnn(), plain, Rotation(), SIZES, **options)
    assert torch.equal(from_plain.measures["ekld"]["mean"], with_targets)
    unlabelled = TensorDataset(data.tensors[0])
    with pytest.raises(TypeError) as raised:
        invariance_curve(small_cnn(), unlabelled, Rotation(), SIZES, **options)
    message = str(raised.value)
    assert message.startswith("dataset: expected a TensorDataset(inputs, ..., labels) whose")
    assert "received a single tensor of dtype torch.float32 and shape (18, 1, 8, 8)" in message
    assert "Set `dataset.targets` to one integer label per example" in message


def test_bad_models():
    wrong_shape = nn.Sequential(nn.Flatten(), nn.Linear(64, 5))
    with pytest.raises(ValueError, match=r"model: expected logits of shape \(\d+, 3\)"):
        curve(wrong_shape)

    class NotFinite(nn.Module):
        def forward(self, x):
            return torch.full((len(x), CLASSES), float("nan"))

    with pytest.raises(ValueError, match="model: expected finite logits"):
        curve(NotFinite())


def test_feature_distance_of_a_chosen_layer():
    model = small_cnn()
    result = curve(model, measures=("feature_distance",), features=model[1])
    assert (result.measures["feature_distance"]["mean"] > 0).all()


def _curve_on_rank(rank: int) -> tuple[list[float], list[int]]:
    result = curve(small_cnn(), samples_per_class=5)
    return result.measures["ekld"]["mean"].tolist(), result.images.tolist()


def test_two_ranks_share_the_images_and_both_get_the_whole_curve(tmp_path):
    single = curve(small_cnn(), samples_per_class=5)
    for ekld_mean, images in run_on_two_ranks(_curve_on_rank, tmp_path):
        assert images == single.images.tolist()
        expected = single.measures["ekld"]["mean"]
        torch.testing.assert_close(torch.tensor(ekld_mean, dtype=torch.float64), expected)
