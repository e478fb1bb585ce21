"""Glyphs: deterministic, split-independent handwriting of seed-fixed classes, and learnable."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import run_script
from torch import nn

from invtransfer.data.glyphs import Glyphs, render


def class_means(data: Glyphs, centre: torch.Tensor) -> torch.Tensor:
    """``(num_classes, 784)`` mean image of each class, minus ``centre``, unit length."""
    images = data.images.float().flatten(1)
    means = images.view(data.num_classes, data.per_class, -1).mean(1) - centre
    return means / means.norm(dim=1, keepdim=True)


def test_same_seed_same_glyphs_other_seed_other_glyphs():
    first, again = Glyphs(6, 8, seed=3), Glyphs(6, 8, seed=3)
    assert torch.equal(first.images, again.images)
    assert torch.equal(first.targets, again.targets)
    assert not torch.equal(first.images, Glyphs(6, 8, seed=4).images)


def test_global_rng_is_untouched():
    state = torch.random.get_rng_state()
    Glyphs(3, 4)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_shapes_dtypes_and_labels():
    data = Glyphs(num_classes=7, per_class=5)
    assert data.images.shape == (35, 1, 28, 28) and data.images.dtype == torch.uint8
    assert data.targets.dtype == torch.int64
    assert data.targets.tolist() == [c for c in range(7) for _ in range(5)]  # class-major
    assert data.classes == [f"glyph_{c:02d}" for c in range(7)] and data.num_classes == 7
    assert len(data) == 35
    image, label = data[12]
    assert torch.equal(image, data.images[12]) and label == 2 and isinstance(label, int)


def test_every_image_has_bright_strokes_on_exactly_black_background():
    images = Glyphs(num_classes=49, per_class=20).images.flatten(1)
    assert (images.amax(1) >= 200).all()
    assert ((images > 0).sum(1) >= 20).all()
    assert ((images == 0).float().mean(1) > 0.5).all()
    border = Glyphs(num_classes=49, per_class=20).images[..., [0, -1], :]
    assert (border == 0).float().mean() > 0.9  # glyphs sit in the middle


def test_far_pixels_are_exactly_zero():
    width = torch.tensor([1.8])
    dot = render(torch.tensor([[[10.3, 17.6]]]), width)[0, 0].float()
    y, x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    distance = ((x - 10.3) ** 2 + (y - 17.6) ** 2).sqrt()
    assert (dot[distance >= width + 0.5] == 0).all()
    assert (dot[distance <= width - 0.5] == 255).all()


def test_unused_and_offscreen_points_draw_nothing():
    points = torch.tensor([[[float("inf"), float("inf")], [-40.0, 3.0], [3.0, 90.0]]])
    assert render(points, torch.tensor([1.5])).eq(0).all()


def test_first_classes_do_not_depend_on_the_number_of_classes():
    few, many = Glyphs(num_classes=10, per_class=6), Glyphs(num_classes=49, per_class=6)
    assert torch.equal(few.images, many.images[:60])
    assert torch.equal(few.targets, many.targets[:60])


def test_splits_are_new_handwriting_of_the_same_classes():
    splits = {name: Glyphs(10, 40, seed=1, split=name) for name in ("train", "val", "test")}
    rows = {name: {bytes(image.numpy()) for image in data.images} for name, data in splits.items()}
    assert not rows["train"] & rows["test"] and not rows["train"] & rows["val"]
    assert not rows["val"] & rows["test"]
    centre = splits["train"].images.float().flatten(1).mean(0)  # what all glyphs share
    test = splits["test"].images.float().flatten(1) - centre
    nearest = (test @ class_means(splits["train"], centre).T).argmax(1)
    accuracy = (nearest == splits["test"].targets).float().mean()
    assert accuracy > 0.6  # held-out glyphs are nearest their own class's mean (chance 0.1)


def test_within_class_variation_is_real():
    data = Glyphs(num_classes=5, per_class=30)
    images = data.images.float().view(5, 30, -1)
    spread = (images - images.mean(1, keepdim=True)).abs().mean()
    assert spread > 10  # samples are not copies of one picture
    assert len({bytes(image.numpy()) for image in data.images}) == len(data)


def test_transform_is_applied_to_the_image():
    data = Glyphs(2, 3, transform=lambda image: image.float() / 255)
    image, label = data[4]
    assert image.dtype == torch.float32 and image.max() <= 1 and label == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_classes": 0}, ValueError, "num_classes: expected an int >= 1, received 0"),
        ({"num_classes": 2.5}, TypeError, "num_classes: expected an int >= 1, received 2.5"),
        ({"num_classes": True}, TypeError, "num_classes"),
        ({"per_class": -3}, ValueError, "per_class: expected an int >= 1, received -3"),
        ({"per_class": "10"}, TypeError, "per_class"),
        ({"seed": 1.0}, ValueError, "seed: expected a non-negative int, received 1.0"),
        ({"seed": -1}, ValueError, "seed: expected a non-negative int, received -1"),
        ({"split": "valid"}, ValueError, r"split: expected one of .*'test'.*received 'valid'"),
        ({"transform": 3}, TypeError, "transform: expected a callable or None, received 3"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        Glyphs(**kwargs)


def small_cnn(num_classes: int, generator: torch.Generator) -> nn.Module:
    """Two conv layers and a linear layer, initialised from ``generator`` (not global RNG)."""
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, device="meta"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, device="meta"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, num_classes, device="meta"),
    ).to_empty(device="cpu")
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, (nn.Conv2d, nn.Linear)):  # PyTorch's default ranges
                bound = layer.weight[0].numel() ** -0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return model


def test_a_small_cnn_learns_the_classes_from_held_out_handwriting():
    train, test = Glyphs(10, 200, seed=0), Glyphs(10, 50, seed=0, split="test")
    generator = torch.Generator().manual_seed(0)
    model = small_cnn(10, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = train.images.float() / 255, train.targets
    for _ in range(3):
        for batch in torch.randperm(len(x), generator=generator).split(64):
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        predicted = model(test.images.float() / 255).argmax(1)
    accuracy = (predicted == test.targets).float().mean().item()
    assert accuracy > 0.75, f"held-out accuracy {accuracy:.3f}, chance 0.1"


def test_grid_example_writes_a_png(tmp_path):
    out = tmp_path / "grid.png"
    run_script("examples/glyphs_grid.py", "--classes", 4, "--samples", 3, "--out", out)
    assert out.read_bytes().startswith(b"\x89PNG")


def test_learnability_example_reports_accuracy_and_chance(tmp_path):
    out = tmp_path / "result.json"
    args = ["--classes", 3, "--per-class", 10, "--test-per-class", 4, "--epochs", 1]
    result = run_script("examples/glyphs_learnability.py", *args, "--out", out)
    assert "held-out test accuracy" in result.stderr
    report = json.loads(out.read_text())
    assert report["chance"] == pytest.approx(1 / 3) and 0 <= report["test_accuracy"] <= 1
