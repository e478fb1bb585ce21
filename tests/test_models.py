"""The CIFAR-style ResNets: structure, parameter counts, validation, initialisation, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from invtransfer.models import BasicBlock, CifarResNet, cifar_resnet, resnet20, resnet32


def _parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("build", [resnet20, resnet32])
@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, 32)])
def test_output_and_feature_shapes(build, channels, size):
    model = build(num_classes=7, in_channels=channels, seed=0)
    x = torch.rand(3, channels, size, size)
    assert model(x).shape == (3, 7)
    assert model.features(x).shape == (3, 64)
    assert model.num_features == 64


@pytest.mark.parametrize(("size", "sides"), [(28, [28, 14, 7]), (32, [32, 16, 8])])
def test_stages_keep_then_halve_the_resolution(size, sides):
    model = resnet20(num_classes=10, in_channels=3, seed=0)
    x = model.features.stem(torch.rand(2, 3, size, size))
    for stage, width, side in zip(model.features.stages, (16, 32, 64), sides, strict=True):
        x = stage(x)
        assert x.shape == (2, width, side, side)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: resnet20(10), 269_722),
        (lambda: resnet32(10), 464_154),
        (lambda: resnet20(10, in_channels=1), 269_434),
        (lambda: cifar_resnet(20, 10), 269_722),
        (lambda: resnet20(10, shortcut="B"), 272_474),
        (lambda: resnet32(10, shortcut="B"), 466_906),
    ],
)
def test_parameter_counts(build, expected):
    assert _parameters(build()) == expected


def test_option_b_shortcuts_add_2752_parameters_to_the_papers_counts():
    model = resnet20(10, shortcut="B")
    shortcut = sum(p.numel() for name, p in model.named_parameters() if "shortcut" in name)
    assert shortcut == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64) == 2752
    # He et al.: 0.27 M and 0.46 M with parameter-free (option A) shortcuts.
    assert round(_parameters(resnet20(10)) / 1e6, 2) == 0.27
    assert round(_parameters(resnet32(10)) / 1e6, 2) == 0.46


def test_option_a_shortcuts_subsample_and_pad_with_zeros():
    block = BasicBlock(16, 32, stride=2, shortcut="A")
    x = torch.rand(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert not out[:, :8].any() and not out[:, 24:].any()
    with pytest.raises(ValueError, match=r"shortcut: expected one of \('A', 'B'\)"):
        BasicBlock(16, 32, stride=2, shortcut="C")


@pytest.mark.parametrize("depth", [8, 20, 32, 44])
def test_depth_counts_the_layers_with_weights(depth):
    model = cifar_resnet(depth, num_classes=10)
    convs = [
        m
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and "shortcut" not in name
    ]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == depth
    assert [len(stage) for stage in model.features.stages] == [(depth - 2) // 6] * 3


def test_shortcuts_project_only_where_the_shape_changes():
    model = resnet32(10, shortcut="B")
    projected = [
        (i, j)
        for i, stage in enumerate(model.features.stages)
        for j, block in enumerate(stage)
        if not isinstance(block.shortcut, nn.Identity)
    ]
    assert projected == [(1, 0), (2, 0)]
    conv, norm = model.features.stages[1][0].shortcut
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and conv.bias is None
    assert isinstance(norm, nn.BatchNorm2d)


def test_custom_widths():
    model = cifar_resnet(14, num_classes=4, widths=[8, 16, 24])
    assert model.widths == (8, 16, 24) and model.num_features == 24
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 4)
    assert model.features(torch.rand(2, 3, 32, 32)).shape == (2, 24)


@pytest.mark.parametrize("depth", [21, 7, 2, 0, -4, 20.0, "20", True, None])
def test_depth_must_be_6n_plus_2(depth):
    with pytest.raises(ValueError, match=rf"depth: expected 6n \+ 2 .* received {depth!r}"):
        cifar_resnet(depth, num_classes=10)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_classes": 0}, "num_classes: expected an int >= 1, received 0"),
        ({"num_classes": 2.0}, "num_classes: expected an int >= 1, received 2.0"),
        ({"in_channels": 0}, "in_channels: expected an int >= 1, received 0"),
        ({"widths": (16, 32)}, r"widths: expected 3 channel counts, .* received \(16, 32\)"),
        ({"widths": 16}, "widths: expected 3 channel counts, .* received 16"),
        ({"widths": (16, 0, 64)}, r"widths: expected ints >= 1, received \(16, 0, 64\)"),
        ({"seed": -1}, "seed: expected a non-negative int or None, received -1"),
    ],
)
def test_bad_arguments(arguments, message):
    options = {"depth": 20, "num_classes": 10, **arguments}
    with pytest.raises(ValueError, match=message):
        cifar_resnet(**options)


def test_images_with_the_wrong_channels_are_refused():
    model = resnet20(10, in_channels=1)
    with pytest.raises(ValueError, match=r"x: expected images of shape \(N, 1, H, W\), received"):
        model(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"received \(1, 28, 28\)"):
        model(torch.rand(1, 28, 28))


def test_initialisation():
    model = resnet32(10, seed=0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            assert torch.equal(module.weight, torch.ones_like(module.weight))
            assert torch.equal(module.bias, torch.zeros_like(module.bias))
    # Kaiming normal, fan out, ReLU gain: std sqrt(2 / (out_channels * 3 * 3)).
    weight = model.features.stages[2][1].conv1.weight
    expected = (2 / (64 * 9)) ** 0.5
    assert weight.mean().abs() < 0.1 * expected
    assert weight.std().item() == pytest.approx(expected, rel=0.05)
    assert model.fc.weight.abs().max() <= 1 / 64**0.5


def test_seed_fixes_the_weights_without_touching_the_global_rng():
    state = torch.get_rng_state()
    a, b, c = resnet20(10, seed=3), resnet20(10, seed=3), resnet20(10, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert not torch.equal(a.fc.weight, c.fc.weight)
    assert not torch.equal(a.features.stem[0].weight, c.features.stem[0].weight)


def test_features_are_what_the_features_module_outputs_and_what_fc_classifies():
    model = resnet20(5, in_channels=1, seed=0).eval()
    assert isinstance(model.features, nn.Module)  # hookable, as the metrics need
    captured = []
    model.features.register_forward_hook(lambda _m, _i, out: captured.append(out))
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        logits = model(x)
        features = model.features(x)
    torch.testing.assert_close(captured[0], features)
    torch.testing.assert_close(model.fc(features), logits)
    assert (features >= 0).all()  # averages of ReLU outputs


def test_a_few_sgd_steps_reduce_the_loss():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(16, 3, 32, 32, generator=generator)
    labels = torch.randint(0, 10, (16,), generator=generator)
    model = resnet20(10, seed=0).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.grad is not None for p in model.parameters())


def test_train_mode_uses_batch_statistics_and_eval_mode_running_ones():
    model = resnet20(10, seed=0)
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    running = model.features.stem[1].running_mean.clone()

    model.train()
    with torch.no_grad():
        alone, in_batch = model(x[:2]), model(x)[:2]
    assert not torch.allclose(alone, in_batch)  # batch statistics couple the samples
    assert not torch.equal(model.features.stem[1].running_mean, running)
    assert model.features.stem[1].num_batches_tracked.item() == 2

    model.eval()
    running = model.features.stem[1].running_mean.clone()
    with torch.no_grad():
        alone, in_batch = model(x[:2]), model(x)[:2]
    torch.testing.assert_close(alone, in_batch)  # each sample on its own
    assert torch.equal(model.features.stem[1].running_mean, running)
    assert all(not m.training for m in model.modules())


def test_basic_block_identity_and_projection():
    same = BasicBlock(16, 16)
    assert isinstance(same.shortcut, nn.Identity)
    assert same(torch.rand(2, 16, 8, 8)).shape == (2, 16, 8, 8)
    down = BasicBlock(16, 32, stride=2)
    assert down(torch.rand(2, 16, 7, 7)).shape == (2, 32, 4, 4)
    assert (down(torch.randn(2, 16, 8, 8)) >= 0).all()  # ReLU after the add


def test_resnets_are_cifar_resnets():
    assert isinstance(resnet20(10), CifarResNet)
    assert resnet32(10).depth == 32 and resnet20(10).depth == 20


def test_feature_distance_on_the_pooled_features():
    from torch.utils.data import TensorDataset

    from invtransfer.metrics import invariance_curve
    from invtransfer.transforms import Rotation

    model = resnet20(3, in_channels=1, seed=0)
    labels = torch.arange(6) % 3
    data = TensorDataset(
        torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0)), labels
    )
    data.targets = labels
    curve = invariance_curve(
        model,
        data,
        Rotation(degrees=90),
        class_sizes=[100, 10, 1],
        samples_per_class=2,
        transforms_per_sample=2,
        measures=("feature_distance",),
        features=model.features,
        progress=False,
    )
    assert (curve.measures["feature_distance"]["mean"] > 0).all()
    assert model.training  # the evaluation restored the mode
