"""Resampling and reweighting for long-tailed data: samplers (single process, DDP,
Lightning, Accelerate; finite or infinite), schedules, class weights, and label resolution.

Examples:
    >>> from invtransfer.sampling import Deferred, class_weights
    >>> weights = class_weights([500, 50, 5], method="inverse_sqrt")
    >>> bool(weights[2] > weights[1] > weights[0]), round(float(weights.sum()), 4)
    (True, 3.0)
    >>> Deferred(160, before=1.0, after=0.0)(170)
    0.0
"""

from invtransfer.labels import class_counts, resolve_labels
from invtransfer.sampling.distributed import Shard, resharding_wrapper, resolve_replicas
from invtransfer.sampling.samplers import (
    BalancedBatchSampler,
    ClassBalancedSampler,
    RepeatFactorSampler,
)
from invtransfer.sampling.schedules import Constant, Cosine, Deferred, Linear, Schedule
from invtransfer.sampling.weights import METHODS, class_weights

__all__ = [
    "METHODS",
    "BalancedBatchSampler",
    "ClassBalancedSampler",
    "RepeatFactorSampler",
    "Shard",
    "Constant",
    "Cosine",
    "Deferred",
    "Linear",
    "Schedule",
    "class_counts",
    "class_weights",
    "resharding_wrapper",
    "resolve_labels",
    "resolve_replicas",
]
