"""The CIFAR-style ResNets (structure, parameter counts, validation, initialisation, training)
and the model factory (every kind of name, seeding, local weights, bad input)."""

from __future__ import annotations

import re
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from invtransfer.losses import NonFiniteLossError
from invtransfer.models import (
    BasicBlock,
    CifarResNet,
    build_model,
    cifar_resnet,
    resnet20,
    resnet32,
    small_cnn,
    train_classifier,
)


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


# --- the model factory ---------------------------------------------------------------------

KINDS = [
    "resnet20",
    "resnet32",
    "small_cnn",
    "torchvision:resnet18",
    "torchvision:mobilenet_v3_small",
    "timm:resnet18",
    "invtransfer.models:small_cnn",
    f"{__name__}:user_factory",
]
SEEDED = ["resnet20", "torchvision:resnet18", "timm:resnet18", f"{__name__}:user_factory"]


def user_factory(num_classes, in_channels, image_size):
    """A user's factory, called as build_model documents; records its arguments."""
    user_factory.calls.append((num_classes, in_channels, image_size))
    return nn.Sequential(
        nn.Conv2d(in_channels, 4, 3),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, num_classes),
    )


user_factory.calls = []


def one_output_too_many(num_classes, in_channels, image_size):
    return small_cnn(num_classes + 1, in_channels, image_size)


def returns_a_tuple(num_classes, in_channels, image_size):
    return _Pair(small_cnn(num_classes, in_channels, image_size))


class _Pair(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x), self.model(x)


def needs_large_images(num_classes, in_channels, image_size):
    return nn.Sequential(nn.Conv2d(in_channels, num_classes, 64), nn.Flatten())


def not_a_module(num_classes, in_channels, image_size):
    return "resnet"


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32)])
def test_every_kind_gives_logits_for_the_data(name, shape):
    model = build_model(name, 5, shape, seed=0)
    assert isinstance(model, nn.Module) and model.training
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert model(torch.rand(2, *shape)).shape == (2, 5)


def test_import_path_factories_get_the_documented_arguments():
    user_factory.calls.clear()
    build_model(f"{__name__}:user_factory", 6, (3, 28, 36), seed=0)
    assert user_factory.calls == [(6, 3, (28, 36))]


def test_small_cnn_takes_non_square_images():
    model = build_model("small_cnn", 4, (1, 28, 36))
    assert model(torch.rand(2, 1, 28, 36)).shape == (2, 4)


@pytest.mark.parametrize("size", [30, 0, (28,), (28, 30), "28", True])
def test_small_cnn_sides_must_be_divisible_by_4(size):
    with pytest.raises(
        ValueError, match=rf"image_size: expected .* received {re.escape(repr(size))}"
    ):
        small_cnn(3, image_size=size)


def test_torchvision_first_convolution_takes_the_datas_channels():
    rgb = build_model("torchvision:resnet18", 10, (3, 32, 32))
    gray = build_model("torchvision:resnet18", 10, (1, 32, 32))
    assert rgb.conv1.weight.shape == (64, 3, 7, 7)
    assert gray.conv1.weight.shape == (64, 1, 7, 7)
    for attribute in ("out_channels", "kernel_size", "stride", "padding", "dilation", "bias"):
        assert getattr(gray.conv1, attribute) == getattr(rgb.conv1, attribute)
    assert gray.fc.out_features == 10
    small = build_model("torchvision:mobilenet_v3_small", 10, (1, 28, 28))
    assert small.features[0][0].in_channels == 1 and small.classifier[-1].out_features == 10


def test_timm_builds_the_channels_and_head_itself():
    model = build_model("timm:resnet18", 7, (1, 28, 28))
    assert model.conv1.in_channels == 1 and model.get_classifier().out_features == 7


@pytest.mark.parametrize("name", SEEDED)
def test_the_seed_alone_fixes_the_initial_weights(name):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        first = _state(build_model(name, 5, (1, 28, 28), seed=3))
        torch.manual_seed(2)
        again = _state(build_model(name, 5, (1, 28, 28), seed=3))
    other = build_model(name, 5, (1, 28, 28), seed=4).state_dict()
    _assert_same_state(first, again)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_pinned_initial_weights():
    model = build_model("small_cnn", 3, (1, 28, 28), seed=0)
    torch.testing.assert_close(
        model[0].weight.flatten()[:4],
        torch.tensor([0.31624538, -0.08759563, -0.06137316, 0.10704367]),
    )
    torch.testing.assert_close(model[9].bias, torch.tensor([0.02151149, -0.02620236, -0.04687523]))


@pytest.mark.parametrize("name", KINDS)
def test_the_global_cpu_rng_is_left_as_it_was(name):
    state = torch.get_rng_state()
    build_model(name, 5, (1, 28, 28), seed=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_the_cuda_rng_is_never_seeded_or_set(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the CUDA RNG was touched")

    for function in ("manual_seed", "manual_seed_all", "seed", "seed_all", "set_rng_state"):
        monkeypatch.setattr(torch.cuda, function, refuse)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", refuse)
    initialised = torch.cuda.is_initialized()
    for name in SEEDED:
        build_model(name, 5, (1, 28, 28), seed=1)
    assert torch.cuda.is_initialized() == initialised


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_cuda_rng_state_is_left_as_it_was():
    state = torch.cuda.get_rng_state_all()
    for name in SEEDED:
        build_model(name, 5, (1, 28, 28), seed=1)
    assert all(
        torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), state, strict=True)
    )


def test_built_on_the_cpu_whatever_the_default_device():
    with torch.device("meta"):
        model = build_model("resnet20", 5, (1, 28, 28), seed=2)
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    _assert_same_state(
        model.state_dict(), build_model("resnet20", 5, (1, 28, 28), seed=2).state_dict()
    )


def test_the_output_check_leaves_no_trace():
    model = build_model("resnet20", 5, (3, 32, 32))
    assert model.training
    norm = model.features.stem[1]
    assert not norm.running_mean.any() and norm.num_batches_tracked.item() == 0
    assert all(p.grad is None for p in model.parameters())


# --- weights from a local file


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_from_a_local_file(tmp_path, suffix):
    from safetensors.torch import save_file

    trained = _state(build_model("torchvision:resnet18", 10, (3, 32, 32), seed=5))
    path = tmp_path / f"resnet18{suffix}"
    save_file(trained, path) if suffix == ".safetensors" else torch.save(trained, path)
    model = build_model("torchvision:resnet18", 10, (3, 32, 32), seed=0, weights=str(path))
    _assert_same_state(model.state_dict(), trained)
    assert model.training


def test_a_head_of_another_width_is_left_as_initialised(tmp_path, caplog):
    imagenet = _state(build_model("torchvision:resnet18", 1000, (3, 32, 32), seed=5))
    torch.save(imagenet, tmp_path / "imagenet.pth")
    with caplog.at_level("INFO", logger="invtransfer.models.factory"):
        model = build_model(
            "torchvision:resnet18", 10, (3, 32, 32), weights=tmp_path / "imagenet.pth"
        )
    fresh = build_model("torchvision:resnet18", 10, (3, 32, 32)).state_dict()
    state = model.state_dict()
    for key in state:
        assert torch.equal(state[key], fresh[key] if key.startswith("fc.") else imagenet[key]), key
    assert "except the head fc.bias, fc.weight" in caplog.text
    assert "1000 outputs in the file, 10 in the model" in caplog.text


def test_rgb_first_convolution_weights_are_summed_for_gray_data(tmp_path):
    rgb = build_model("torchvision:resnet18", 10, (3, 32, 32), seed=5).eval()
    torch.save(rgb.state_dict(), tmp_path / "rgb.pth")
    gray = build_model("torchvision:resnet18", 10, (1, 32, 32), weights=tmp_path / "rgb.pth").eval()
    torch.testing.assert_close(gray.conv1.weight, rgb.conv1.weight.sum(dim=1, keepdim=True))
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(gray(x), rgb(x.expand(-1, 3, -1, -1)), atol=1e-5, rtol=1e-4)


def test_weights_that_do_not_fit_name_the_keys(tmp_path):
    torch.save(build_model("resnet32", 10, (3, 32, 32)).state_dict(), tmp_path / "resnet32.pth")
    with pytest.raises(
        ValueError,
        match=r"weights: expected the tensors of 'resnet20', .*"
        r"unexpected: features\.stages\.0\.3\.bn1\.bias",
    ):
        build_model("resnet20", 10, (3, 32, 32), weights=tmp_path / "resnet32.pth")
    torch.save(build_model("small_cnn", 10, (1, 28, 28)).state_dict(), tmp_path / "small.pth")
    with pytest.raises(
        ValueError,
        match=r"shapes that differ: 7\.weight \(128, 3136\) in the file, \(128, 4096\) in the",
    ):
        build_model("small_cnn", 10, (1, 32, 32), weights=tmp_path / "small.pth")
    partial = {k: v for k, v in build_model("small_cnn", 10, (1, 28, 28)).state_dict().items()}
    del partial["0.bias"]
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"missing: 0\.bias\)"):
        build_model("small_cnn", 10, (1, 28, 28), weights=tmp_path / "partial.pth")


def test_weights_files_are_never_unpickled(tmp_path):
    torch.save({"model": nn.Linear(2, 2)}, tmp_path / "pickled.pth")
    with pytest.raises(ValueError, match=r"weights: expected a \.safetensors file or a state dict"):
        build_model("small_cnn", 2, (1, 28, 28), weights=tmp_path / "pickled.pth")
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(TypeError, match=r"weights: expected a state dict .* received a list"):
        build_model("small_cnn", 2, (1, 28, 28), weights=tmp_path / "list.pth")


def test_weights_must_be_a_local_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights: expected an existing file, received"):
        build_model("small_cnn", 2, (1, 28, 28), weights=tmp_path / "absent.safetensors")
    with pytest.raises(TypeError, match="weights: expected a path to a local file or None"):
        build_model("small_cnn", 2, (1, 28, 28), weights=3)


# --- bad names and models


@pytest.mark.parametrize(
    ("name", "matches"),
    [
        ("resnet18", "torchvision:resnet18, timm:resnet18"),
        ("torchvision:mobilenet_v3_smal", "torchvision:mobilenet_v3_small"),
        ("resnet2", "resnet20"),
        ("timm:resnet18x", "timm:resnet18"),
    ],
)
def test_unknown_names_list_the_close_matches(name, matches):
    with pytest.raises(ValueError, match=rf"received '{name}'; close matches: .*{matches}"):
        build_model(name, 10, (3, 32, 32))


def test_unknown_names_without_close_matches():
    with pytest.raises(
        ValueError, match=r"or an import path 'package.module:factory', received 'x'$"
    ):
        build_model("x", 10, (3, 32, 32))


def test_timm_names_without_timm_say_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(ImportError, match=r"pip install invtransfer\[timm\]"):
        build_model("timm:resnet18", 10, (3, 32, 32))
    with pytest.raises(ValueError, match=r"close matches: torchvision:resnet18") as error:
        build_model("resnet18", 10, (3, 32, 32))
    assert "timm:resnet" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("no_such_package.models:factory", ValueError, r"No module named 'no_such_package'"),
        (
            "invtransfer.models:no_such",
            ValueError,
            r"invtransfer.models has no attribute 'no_such'",
        ),
        (":factory", ValueError, r"expected an import path 'package.module:factory'"),
        (
            "invtransfer.models:MODELS",
            TypeError,
            r"expected 'invtransfer.models:MODELS' to be callable",
        ),
        (f"{__name__}:not_a_module", TypeError, r"to build an nn.Module, received 'resnet'"),
    ],
)
def test_import_paths_that_do_not_resolve(name, error, message):
    with pytest.raises(error, match=message):
        build_model(name, 10, (3, 32, 32))


def test_a_model_of_another_output_width_is_refused():
    name = f"{__name__}:one_output_too_many"
    with pytest.raises(
        ValueError, match=rf"{name}: expected logits of width num_classes = 5, received width 6"
    ):
        build_model(name, 5, (1, 28, 28))
    with pytest.raises(
        ValueError, match="expected logits of width num_classes = 5, received a tuple"
    ):
        build_model(f"{__name__}:returns_a_tuple", 5, (1, 28, 28))


def test_a_model_that_cannot_run_on_the_images_is_refused():
    with pytest.raises(
        ValueError, match=r"runs on images of shape \(1, 28, 28\), received an error"
    ):
        build_model(f"{__name__}:needs_large_images", 5, (1, 28, 28))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"num_classes": 0}, ValueError, "num_classes: expected an int >= 1, received 0"),
        (
            {"image_shape": (28, 28)},
            ValueError,
            r"image_shape: expected \(channels, height, width\)",
        ),
        ({"image_shape": (1, 0, 28)}, ValueError, r"image_shape: .* received \(1, 0, 28\)"),
        ({"seed": -1}, ValueError, "seed: expected a non-negative int, received -1"),
        ({"seed": 1.0}, ValueError, "seed: expected a non-negative int, received 1.0"),
        ({"name": None}, TypeError, "name: expected a str, received None"),
    ],
)
def test_bad_arguments_to_build_model(arguments, error, message):
    options = {"name": "small_cnn", "num_classes": 3, "image_shape": (1, 28, 28), **arguments}
    with pytest.raises(error, match=message):
        build_model(**options)


def test_train_classifier_stops_on_a_non_finite_loss_before_the_update():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].bias.fill_(float("inf"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
    with pytest.raises(NonFiniteLossError, match=r"^epoch 1: the loss is not finite \(nan\)"):
        train_classifier(model, images, labels, epochs=2, generator=torch.Generator())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no update
