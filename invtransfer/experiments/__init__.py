"""Experiments: configs, the paper's long-tail methods by name, its learning-rate schedule,
and the runner that trains, evaluates and reports every method of a config.

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
from invtransfer.experiments.datasets import RECIPES, ExperimentData, load_data
from invtransfer.experiments.evaluation import evaluate_run, predict
from invtransfer.experiments.lr import lr_factor, warmup_step_lr
from invtransfer.experiments.methods import GIT_SUFFIX, METHODS, MethodParts, method_parts
from invtransfer.experiments.report import write_report
from invtransfer.experiments.runner import load_run, run_experiment
from invtransfer.experiments.training import check_settings, train_run, training_loader

__all__ = [
    "GIT_SUFFIX",
    "METHODS",
    "RECIPES",
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "ExperimentData",
    "GITConfig",
    "MethodParts",
    "ModelConfig",
    "TrainConfig",
    "evaluate_run",
    "load_data",
    "load_run",
    "lr_factor",
    "method_parts",
    "predict",
    "run_experiment",
    "train_run",
    "warmup_step_lr",
    "check_settings",
    "training_loader",
    "write_report",
]
