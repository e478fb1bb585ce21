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
from invtransfer.experiments.datasets import (
    RECIPES,
    ExperimentData,
    Replicate,
    load_data,
    replicates,
)
from invtransfer.experiments.evaluation import (
    evaluate_run,
    generator_quality,
    measured_nuisance,
    predict,
)
from invtransfer.experiments.lr import lr_factor, warmup_step_lr
from invtransfer.experiments.methods import GIT_SUFFIX, METHODS, MethodParts, method_parts
from invtransfer.experiments.report import (
    compare_runs,
    comparisons,
    method_table,
    study_summary,
    write_report,
)
from invtransfer.experiments.runner import TrainedRun, load_run, run_experiment
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
    "Replicate",
    "TrainConfig",
    "TrainedRun",
    "compare_runs",
    "comparisons",
    "evaluate_run",
    "generator_quality",
    "load_data",
    "load_run",
    "lr_factor",
    "measured_nuisance",
    "method_parts",
    "method_table",
    "predict",
    "replicates",
    "run_experiment",
    "train_run",
    "warmup_step_lr",
    "check_settings",
    "training_loader",
    "study_summary",
    "write_report",
]
