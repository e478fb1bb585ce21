"""CIFAR-style ResNets (He et al., 2016, section 4.2), as the long-tail papers train them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invtransfer._seeding import generator_for, global_rng_kept
from invtransfer._validation import check_positive_ints, positive_int

__all__ = ["SHORTCUTS", "BasicBlock", "CifarResNet", "cifar_resnet", "resnet20", "resnet32"]

SHORTCUTS = ("A", "B")
"""He et al.'s shortcuts where a block changes shape: ``"A"`` subsamples and pads the new
channels with zeros (no parameters; the paper's CIFAR models, LDAM-DRW and GIT), ``"B"``
projects with a 1x1 convolution and batch norm."""


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to a shortcut, then ReLU.

    The first convolution has stride ``stride``. The shortcut is the identity when the shape is
    kept, otherwise option ``shortcut`` of `SHORTCUTS`.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: 1, or 2 to halve the height and width.
        shortcut: ``"A"`` (subsample and zero-pad) or ``"B"`` (1x1 convolution, batch norm).

    Examples:
        >>> block = BasicBlock(16, 32, stride=2)
        >>> block(torch.rand(2, 16, 28, 28)).shape
        torch.Size([2, 32, 14, 14])
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, shortcut: str = "A"
    ) -> None:
        super().__init__()
        check_positive_ints(in_channels=in_channels, out_channels=out_channels, stride=stride)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut: expected one of {SHORTCUTS}, received {shortcut!r}")
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = (
                _ZeroPadShortcut(stride, out_channels - in_channels)
                if shortcut == "A"
                else nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )
            )

    def forward(self, x: Tensor) -> Tensor:
        """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _ZeroPadShortcut(nn.Module):
    """Option A: keep every ``stride``-th pixel and add ``extra`` zero channels, half on
    each side."""

    def __init__(self, stride: int, extra: int) -> None:
        super().__init__()
        if extra < 0:
            raise ValueError(f"shortcut 'A' cannot drop channels, received {extra} extra")
        self.stride, self.extra = stride, extra

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class CifarResNet(nn.Module):
    """A ResNet for small images (He et al., 2016, section 4.2) with ``depth = 6n + 2`` layers.

    A 3x3 convolution to ``widths[0]`` channels with batch norm and ReLU; three stages of ``n``
    basic blocks with ``widths`` channels, the first block of stages 2 and 3 with stride 2;
    global average pooling; a linear layer to ``num_classes`` logits. Where the shape changes,
    the shortcut is option ``shortcut`` of `SHORTCUTS`: by default ``"A"``, parameter-free
    subsampling and zero padding, as in the paper's CIFAR models and the long-tail papers;
    ``"B"``, a 1x1 convolution with batch norm, adds 2,752 parameters with the default widths.

    Any image size works (28x28 becomes 7x7 before pooling, 32x32 becomes 8x8). Convolutions
    are initialised Kaiming-normal (fan out, ReLU), batch norm with weight 1 and bias 0, the
    linear layer as PyTorch does by default (uniform within 1/sqrt(fan in)). ``seed`` makes
    the initial weights a function of the seed alone, without touching the global RNG;
    ``None`` initialises from the global RNG, like any module.

    The model is two modules: ``features`` (``stem``, ``stages`` and ``pool``), which maps
    images to the pooled features ``(N, num_features)`` with ``num_features = widths[-1]``,
    and ``fc``, which classifies them. ``model.features(x)`` computes the features, and
    ``features=model.features`` is what ``invtransfer.metrics.invariance_curve`` needs to
    measure invariance in feature space.

    Args:
        depth: layers with weights, ``6n + 2`` for an integer ``n >= 1`` (20, 32, 44, 56, ...).
        num_classes: outputs (logits).
        in_channels: image channels (1 for MNIST-like data, 3 for RGB).
        widths: channels of the three stages.
        shortcut: ``"A"`` or ``"B"`` (see `SHORTCUTS`).
        seed: seed of the initial weights; ``None`` uses the global RNG.

    Examples:
        >>> model = CifarResNet(depth=8, num_classes=5, in_channels=1, seed=0)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> model(x).shape, model.features(x).shape
        (torch.Size([4, 5]), torch.Size([4, 64]))

        Invariance in feature space, measured on the pooled features:

        >>> from torch.utils.data import TensorDataset
        >>> from invtransfer.metrics import invariance_curve
        >>> from invtransfer.transforms import Rotation
        >>> labels = torch.arange(8) % 5
        >>> data = TensorDataset(torch.rand(8, 1, 28, 28), labels)
        >>> data.targets = labels
        >>> curve = invariance_curve(model, data, Rotation(), class_sizes=[50, 20, 10, 5, 2],
        ...                          samples_per_class=1, transforms_per_sample=2,
        ...                          measures=["feature_distance"], features=model.features,
        ...                          progress=False)
        >>> curve.images.tolist()
        [1, 1, 1, 1, 1]
    """

    def __init__(
        self,
        depth: int,
        num_classes: int,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64),
        *,
        shortcut: str = "A",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        blocks = _blocks_per_stage(depth)
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
            positive_int(name, value)
        widths = _checked_widths(widths)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed: expected a non-negative int or None, received {seed!r}")
        self.depth, self.num_classes, self.in_channels = depth, num_classes, in_channels
        self.widths, self.num_features = widths, widths[-1]
        with global_rng_kept():  # the initialisation below replaces this one
            self.features = _Features(in_channels, widths, blocks, shortcut)
            self.fc = nn.Linear(widths[-1], num_classes)
        self._initialise(None if seed is None else generator_for(seed))

    def _initialise(self, generator: torch.Generator | None) -> None:
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(
                    layer.weight, mode="fan_out", nonlinearity="relu", generator=generator
                )
            elif isinstance(layer, nn.BatchNorm2d):
                nn.init.ones_(layer.weight)
                nn.init.zeros_(layer.bias)
            elif isinstance(layer, nn.Linear):
                bound = 1 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        """The logits ``(N, num_classes)`` of images ``x`` ``(N, C, H, W)``."""
        return self.fc(self.features(x))


class _Features(nn.Module):
    """Stem, three stages of basic blocks and global average pooling: images to features."""

    def __init__(
        self, in_channels: int, widths: tuple[int, int, int], blocks: int, shortcut: str
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        )
        stages, channels = [], widths[0]
        for index, width in enumerate(widths):
            stage = [BasicBlock(channels, width, 1 if index == 0 else 2, shortcut)]
            stage += [BasicBlock(width, width, 1, shortcut) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            channels = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        """The pooled features ``(N, widths[-1])`` of images ``x`` ``(N, C, H, W)``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x: expected images of shape (N, {self.in_channels}, H, W), "
                f"received {tuple(x.shape)}"
            )
        return self.pool(self.stages(self.stem(x)))


def cifar_resnet(
    depth: int,
    num_classes: int,
    in_channels: int = 3,
    widths: Sequence[int] = (16, 32, 64),
    *,
    shortcut: str = "A",
    seed: int | None = None,
) -> CifarResNet:
    """A CIFAR-style ResNet of any depth ``6n + 2``; see ``CifarResNet`` for the structure.

    Args:
        depth: layers with weights, ``6n + 2`` for an integer ``n >= 1`` (20, 32, 44, 56, ...).
        num_classes: outputs (logits).
        in_channels: image channels (1 for MNIST-like data, 3 for RGB).
        widths: channels of the three stages.
        shortcut: ``"A"`` or ``"B"`` (see `SHORTCUTS`).
        seed: seed of the initial weights; ``None`` uses the global RNG.

    Examples:
        >>> model = cifar_resnet(depth=44, num_classes=100)
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 100])
        >>> cifar_resnet(depth=21, num_classes=10)
        Traceback (most recent call last):
        ...
        ValueError: depth: expected 6n + 2 for an int n >= 1 (8, 14, 20, 26, 32, ...), received 21
    """
    return CifarResNet(depth, num_classes, in_channels, widths, shortcut=shortcut, seed=seed)


def resnet20(
    num_classes: int, in_channels: int = 3, *, shortcut: str = "A", seed: int | None = None
) -> CifarResNet:
    """ResNet-20: three blocks per stage; the paper's K49 classifier (GIT, Zhou et al. 2022).

    269,722 parameters for 10 classes with the default shortcut ``"A"`` (He et al.: 0.27 M);
    ``"B"`` adds 2,752.

    Args:
        num_classes: outputs (logits).
        in_channels: image channels (1 for MNIST-like data, 3 for RGB).
        shortcut: ``"A"`` or ``"B"`` (see `SHORTCUTS`).
        seed: seed of the initial weights; ``None`` uses the global RNG.

    Examples:
        >>> model = resnet20(num_classes=49, in_channels=1)
        >>> model(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 49])
    """
    return CifarResNet(20, num_classes, in_channels, shortcut=shortcut, seed=seed)


def resnet32(
    num_classes: int, in_channels: int = 3, *, shortcut: str = "A", seed: int | None = None
) -> CifarResNet:
    """ResNet-32: five blocks per stage; the CIFAR-LT classifier of LDAM-DRW and GIT.

    464,154 parameters for 10 classes with the default shortcut ``"A"`` (He et al.: 0.46 M);
    ``"B"`` adds 2,752.

    Args:
        num_classes: outputs (logits).
        in_channels: image channels (1 for MNIST-like data, 3 for RGB).
        shortcut: ``"A"`` or ``"B"`` (see `SHORTCUTS`).
        seed: seed of the initial weights; ``None`` uses the global RNG.

    Examples:
        >>> model = resnet32(num_classes=10)
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    return CifarResNet(32, num_classes, in_channels, shortcut=shortcut, seed=seed)


def _blocks_per_stage(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth: expected 6n + 2 for an int n >= 1 (8, 14, 20, 26, 32, ...), received {depth!r}"
        )
    return (depth - 2) // 6


def _checked_widths(widths: Sequence[int]) -> tuple[int, int, int]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) != 3:
        raise ValueError(f"widths: expected 3 channel counts, one per stage, received {widths!r}")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths: expected ints >= 1, received {widths!r}")
    return (widths[0], widths[1], widths[2])
