"""invtransfer: long-tail invariance tools for PyTorch.

Deep networks learn invariance to class-agnostic nuisances from their large classes but do
not transfer it to the small ones. invtransfer gives the pieces to measure and fix that:
nuisance transform families (``invtransfer.transforms``), long-tailed datasets
(``invtransfer.data``), samplers and schedules (``invtransfer.sampling``) and long-tail
losses (``invtransfer.losses``), invariance metrics (``invtransfer.metrics``) and generative
invariance transfer (``invtransfer.generative``).

The headline names of every subpackage are also here, imported on first use (PEP 562), so
that ``import invtransfer`` is cheap and does not import torch until a name is used.

Examples:
    >>> import invtransfer
    >>> family = invtransfer.Rotation(degrees=30)
    >>> family is not None and invtransfer.transforms.Rotation is invtransfer.Rotation
    True
    >>> isinstance(invtransfer.__version__, str)
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = (
    "checkpoint",
    "data",
    "generative",
    "labels",
    "losses",
    "metrics",
    "models",
    "sampling",
    "transforms",
)

_EXPORTS = {
    "invtransfer.transforms": (
        "Affine", "BackgroundIntensity", "Brightness", "Compose", "Contrast", "Gamma",
        "GaussianBlur", "HorizontalFlip", "Morphology", "Params", "RandomApply", "RandomChoice",
        "RandomCrop", "Rotation", "Saturation", "TransformFamily", "from_torchvision",
        "skip_range_checks", "to_torchvision",
    ),
    "invtransfer.data": (
        "Glyphs", "ImageFiles", "NuisanceDataset", "WithIndex", "cifar_lt", "glyphs_lt",
        "grayscale_lt", "gtsrb_lt", "image_folder", "k49_lt", "kmnist_lt", "longtail_counts",
        "make_longtail", "mnist_lt", "split_file", "tinyimagenet_lt",
    ),
    "invtransfer.sampling": (
        "BalancedBatchSampler", "ClassBalancedSampler", "Deferred", "RepeatFactorSampler",
        "class_weights",
    ),
    "invtransfer.labels": ("resolve_labels",),
    "invtransfer.losses": (
        "BalancedSoftmaxLoss", "ClassBalancedLoss", "FocalLoss", "LDAMLoss",
        "LogitAdjustedLoss", "WeightedCrossEntropy",
    ),
    "invtransfer.metrics": (
        "InvarianceCurve", "InvarianceMeter", "InvarianceMetric", "balanced_accuracy",
        "invariance_curve",
    ),
    "invtransfer.models": ("build_model",),
    "invtransfer.generative": (
        "GenerativeAugment", "LearnedNuisance", "MUNITObjectives", "MUNITTrainer",
        "load_generator", "preset",
    ),
}  # fmt: skip
"""Which subpackage each top-level name comes from."""

_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *_SUBPACKAGES, *sorted(_HOME)]


def __getattr__(name: str) -> Any:
    """Import a subpackage, or the subpackage a headline name lives in, on first use."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"invtransfer.{name}")
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value  # the next access is a plain attribute lookup
        return value
    raise AttributeError(f"module 'invtransfer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
