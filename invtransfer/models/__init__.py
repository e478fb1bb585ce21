"""Classifiers: the model factory (built-ins, torchvision, timm, import paths) and small
reference classifiers for the examples, tests and benchmarks.

Examples:
    >>> import torch
    >>> from invtransfer.models import build_model, resnet32, small_cnn
    >>> small_cnn(num_classes=10)(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> resnet32(num_classes=10)(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> build_model("torchvision:resnet18", 10, (1, 28, 28), seed=0)(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from invtransfer.models.factory import MODELS, build_model
from invtransfer.models.resnet import (
    SHORTCUTS,
    BasicBlock,
    CifarResNet,
    cifar_resnet,
    resnet20,
    resnet32,
)
from invtransfer.models.small import small_cnn
from invtransfer.models.training import train_classifier

__all__ = [
    "MODELS",
    "SHORTCUTS",
    "BasicBlock",
    "CifarResNet",
    "build_model",
    "cifar_resnet",
    "resnet20",
    "resnet32",
    "small_cnn",
    "train_classifier",
]
