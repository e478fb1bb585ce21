"""Small reference classifiers for the examples, tests and benchmarks.

Examples:
    >>> import torch
    >>> from invtransfer.models import small_cnn
    >>> small_cnn(num_classes=10)(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from invtransfer.models.small import small_cnn
from invtransfer.models.training import train_classifier

__all__ = ["small_cnn", "train_classifier"]
