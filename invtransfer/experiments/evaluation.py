"""Evaluate a trained classifier: accuracy per class, balanced and by shot group on the
test set, and its invariance curve under the dataset's nuisance family."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from invtransfer.experiments.config import EvaluationConfig
from invtransfer.experiments.datasets import ExperimentData
from invtransfer.metrics import invariance_curve, per_class_accuracy, shot_accuracy

__all__ = ["evaluate_run", "predict"]


def predict(model: nn.Module, images: Tensor, batch_size: int = 512) -> Tensor:
    """The logits of ``model`` (in eval mode, without gradients) on ``uint8`` ``images``."""
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        return torch.cat(
            [model(batch.to(device).float().div_(255)).cpu() for batch in images.split(batch_size)]
        )


def evaluate_run(
    model: nn.Module,
    data: ExperimentData,
    config: EvaluationConfig,
    seed: int,
    progress: bool = True,
) -> dict[str, Any]:
    """Test accuracy (overall, balanced, per shot group and per class) and, when the data has
    a nuisance family, the per-class invariance curve (eKLD and consistency) with its summary.

    Examples:
        >>> from invtransfer.experiments import DataConfig, EvaluationConfig
        >>> from invtransfer.experiments.datasets import load_data
        >>> from invtransfer.experiments.training import build_model
        >>> data = load_data(DataConfig(options=dict(num_classes=3, per_class=200,
        ...                                          test_per_class=4, max_count=50)))
        >>> model = build_model("small_cnn", 3, (1, 28, 28), seed=0)
        >>> result = evaluate_run(model, data, EvaluationConfig(2, 3), seed=0, progress=False)
        >>> sorted(result), len(result["per_class_accuracy"])
        (['accuracy', 'invariance', 'per_class_accuracy'], 3)
    """
    logits = predict(model, data.test_images)
    result: dict[str, Any] = {
        "accuracy": shot_accuracy(logits, data.test_labels, data.class_counts).to_dict(),
        "per_class_accuracy": per_class_accuracy(
            logits, data.test_labels, data.num_classes
        ).tolist(),
    }
    if data.family is not None:
        curve = invariance_curve(
            model, data.clean_test, data.family, data.class_counts,
            samples_per_class=config.samples_per_class,
            transforms_per_sample=config.transforms_per_sample,
            seed=seed, progress=progress,
        )  # fmt: skip
        result["invariance"] = {"columns": curve.columns(), "summary": curve.summary("ekld")}
    return result
