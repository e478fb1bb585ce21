"""A small CNN for small images (28x28, 32x32, ...): a quick, honest baseline on a CPU."""

from __future__ import annotations

from torch import nn

__all__ = ["small_cnn"]


def small_cnn(
    num_classes: int, in_channels: int = 1, image_size: int | tuple[int, int] = 28
) -> nn.Sequential:
    """Two 3x3 convolutions with max pooling, a hidden layer of 128, then the classifier.

    Args:
        num_classes: outputs (logits).
        in_channels: image channels (1 for MNIST-like data, 3 for RGB).
        image_size: the side of the square input, or its ``(height, width)``; each divisible
            by 4.

    Examples:
        >>> import torch
        >>> model = small_cnn(num_classes=3, in_channels=3, image_size=32)
        >>> model(torch.rand(4, 3, 32, 32)).shape
        torch.Size([4, 3])
        >>> small_cnn(num_classes=3, image_size=(28, 36))(torch.rand(4, 1, 28, 36)).shape
        torch.Size([4, 3])
    """
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected an int >= 1, received {value!r}")
    sides = (image_size, image_size) if isinstance(image_size, int) else image_size
    if (
        not isinstance(sides, (tuple, list))
        or len(sides) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 4 or s % 4 for s in sides)
    ):
        raise ValueError(
            "image_size: expected an int or (height, width) divisible by 4, "
            f"received {image_size!r}"
        )
    height, width = sides
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * (height // 4) * (width // 4), 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )
