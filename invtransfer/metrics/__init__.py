"""Invariance metrics and curves for any model: per-class eKLD, consistency and feature
distance against class size, and accuracy per class, balanced and by shot group.

``InvarianceMetric``, a ``torchmetrics.Metric``, is imported on first use, so that
``import invtransfer.metrics`` never imports torchmetrics; without it, using the name raises
an ``ImportError`` that says what to install.

Examples:
    >>> import torch
    >>> from invtransfer.metrics import consistency, ekld
    >>> clean = torch.tensor([[2.0, 0.0]])
    >>> ekld(clean, clean).item(), consistency(clean, clean).item()
    (0.0, 1.0)
"""

from typing import Any

from invtransfer.metrics.accuracy import (
    ShotAccuracy,
    balanced_accuracy,
    per_class_accuracy,
    shot_accuracy,
)
from invtransfer.metrics.curve import InvarianceCurve, invariance_curve, strength_curve
from invtransfer.metrics.evaluation import MEASURES, EvaluationSet, evaluation_set
from invtransfer.metrics.measures import (
    DIVERGENCES,
    consistency,
    divergence,
    ekld,
    feature_distance,
    random_pair_distance,
)
from invtransfer.metrics.pairs import (
    PAIR_STATISTICS,
    add_pairs,
    group_means,
    pair_statistics,
    regroup,
)
from invtransfer.metrics.statistics import (
    Interval,
    PairedDifference,
    bootstrap_interval,
    log_slope,
    mean_interval,
    paired_difference,
    pooled_spearman,
    ranks,
    size_trend,
    spearman,
    t_quantile,
)
from invtransfer.metrics.streaming import InvarianceMeter

__all__ = [
    "DIVERGENCES",
    "MEASURES",
    "PAIR_STATISTICS",
    "EvaluationSet",
    "InvarianceCurve",
    "InvarianceMeter",
    "Interval",
    "PairedDifference",
    "ShotAccuracy",
    "add_pairs",
    "balanced_accuracy",
    "bootstrap_interval",
    "consistency",
    "divergence",
    "ekld",
    "evaluation_set",
    "feature_distance",
    "group_means",
    "invariance_curve",
    "log_slope",
    "mean_interval",
    "paired_difference",
    "pair_statistics",
    "per_class_accuracy",
    "pooled_spearman",
    "random_pair_distance",
    "ranks",
    "regroup",
    "shot_accuracy",
    "size_trend",
    "spearman",
    "strength_curve",
    "t_quantile",
]

_NEEDS_TORCHMETRICS = ("InvarianceMetric",)


def __getattr__(name: str) -> Any:
    """``InvarianceMetric`` from `invtransfer.metrics.torchmetric`, imported on first use."""
    if name not in _NEEDS_TORCHMETRICS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from invtransfer.metrics import torchmetric
    except ModuleNotFoundError as error:
        if error.name != "torchmetrics":
            raise
        raise ImportError(
            f"invtransfer.metrics.{name} needs torchmetrics: pip install invtransfer[torchmetrics]"
        ) from error
    return getattr(torchmetric, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_NEEDS_TORCHMETRICS])
