"""Experiments: configs, the paper's long-tail methods by name and its learning-rate schedule.

Examples:
    >>> from invtransfer.experiments import method_parts
    >>> method_parts("ce_drw", [500, 50, 5], defer_epoch=30).sampling_power is None
    True
"""

from invtransfer.experiments.config import (
    DataConfig,
    EvaluationConfig,
    ExperimentConfig,
    GITConfig,
    ModelConfig,
    TrainConfig,
)
from invtransfer.experiments.lr import lr_factor, warmup_step_lr
from invtransfer.experiments.methods import GIT_SUFFIX, METHODS, MethodParts, method_parts

__all__ = [
    "GIT_SUFFIX",
    "METHODS",
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "GITConfig",
    "MethodParts",
    "ModelConfig",
    "TrainConfig",
    "lr_factor",
    "method_parts",
    "warmup_step_lr",
]
