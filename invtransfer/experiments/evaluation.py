"""Evaluate a trained classifier: accuracy per class, balanced and by shot group on the
test set, and its invariance curve under the dataset's nuisance family."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from invtransfer.experiments.config import EvaluationConfig
from invtransfer.experiments.datasets import ExperimentData
from invtransfer.metrics import invariance_curve, per_class_accuracy, shot_accuracy

__all__ = ["evaluate_run", "predict"]


def predict(
    model: nn.Module, dataset: Dataset, batch_size: int = 512, workers: int = 0
) -> tuple[Tensor, Tensor]:
    """The logits of ``model`` (in eval mode, without gradients, on the CPU) on every image of
    ``dataset`` (items ``(uint8 image, label)``, read by a DataLoader), and the labels.

    Examples:
        >>> from invtransfer.data import Glyphs
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 3))
        >>> logits, labels = predict(model, Glyphs(num_classes=3, per_class=2))
        >>> logits.shape, labels.tolist()
        (torch.Size([6, 3]), [0, 0, 1, 1, 2, 2])
    """
    device = next(model.parameters()).device
    loader = DataLoader(dataset, batch_size, num_workers=workers, pin_memory=device.type == "cuda")
    model.eval()
    logits, labels = [], []
    with torch.no_grad():
        for images, batch_labels in loader:
            logits.append(model(images.to(device).float().div_(255)).cpu())
            labels.append(torch.as_tensor(batch_labels))
    return torch.cat(logits), torch.cat(labels)


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
        >>> from invtransfer.models import build_model
        >>> data = load_data(DataConfig(options=dict(num_classes=3, per_class=200,
        ...                                          test_per_class=4, max_count=50)))
        >>> model = build_model("small_cnn", 3, (1, 28, 28), seed=0)
        >>> result = evaluate_run(model, data, EvaluationConfig(2, 3), seed=0, progress=False)
        >>> sorted(result), len(result["per_class_accuracy"])
        (['accuracy', 'invariance', 'per_class_accuracy'], 3)
    """
    logits, labels = predict(model, data.test)
    result: dict[str, Any] = {
        "accuracy": shot_accuracy(logits, labels, data.class_counts).to_dict(),
        "per_class_accuracy": per_class_accuracy(logits, labels, data.num_classes).tolist(),
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
