"""Invariance metrics and curves for any model: per-class eKLD, consistency and feature
distance against class size, and accuracy per class, balanced and by shot group.

Examples:
    >>> import torch
    >>> from invtransfer.metrics import consistency, ekld
    >>> clean = torch.tensor([[2.0, 0.0]])
    >>> ekld(clean, clean).item(), consistency(clean, clean).item()
    (0.0, 1.0)
"""

from invtransfer.metrics.accuracy import (
    ShotAccuracy,
    balanced_accuracy,
    per_class_accuracy,
    shot_accuracy,
)
from invtransfer.metrics.curve import InvarianceCurve, invariance_curve, strength_curve
from invtransfer.metrics.evaluation import MEASURES
from invtransfer.metrics.measures import (
    DIVERGENCES,
    consistency,
    divergence,
    ekld,
    feature_distance,
    random_pair_distance,
)
from invtransfer.metrics.statistics import bootstrap_interval, log_slope, ranks, spearman
from invtransfer.metrics.streaming import InvarianceMeter

__all__ = [
    "DIVERGENCES",
    "MEASURES",
    "InvarianceCurve",
    "InvarianceMeter",
    "ShotAccuracy",
    "balanced_accuracy",
    "bootstrap_interval",
    "consistency",
    "divergence",
    "ekld",
    "feature_distance",
    "invariance_curve",
    "log_slope",
    "per_class_accuracy",
    "random_pair_distance",
    "ranks",
    "shot_accuracy",
    "spearman",
    "strength_curve",
]
