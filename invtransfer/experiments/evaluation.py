"""Evaluate a trained classifier (accuracy per class, balanced and by shot group on the test
set, and its invariance curve under a nuisance family) and a generator for GIT (class keeping,
nuisance coverage, a translation grid)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from invtransfer._seeding import generator_for
from invtransfer._validation import instance, non_negative_int, positive_int
from invtransfer.experiments.config import EvaluationConfig
from invtransfer.experiments.datasets import ExperimentData
from invtransfer.generative import (
    LearnedNuisance,
    MUNITGenerator,
    class_keeping,
    nuisance_coverage,
    translation_grid,
)
from invtransfer.metrics import evaluation_set, invariance_curve, per_class_accuracy, shot_accuracy
from invtransfer.metrics.evaluation import _as_model_input, _eval_mode, _model_device
from invtransfer.transforms import TransformFamily, family_by_name

__all__ = ["evaluate_run", "generator_quality", "measured_nuisance", "predict"]

GRID_ROWS = 8
"""Rows of the quality report's translation grid: classes from the largest to the smallest."""
KEEPING_STYLES = 4
"""Translations per held-out image when judging class keeping."""
COVERAGE_DRAWS = 8
"""Style codes (and family draws) per image when measuring nuisance coverage."""


def predict(
    model: nn.Module, dataset: Dataset, batch_size: int = 512, workers: int = 0
) -> tuple[Tensor, Tensor]:
    """The logits of ``model`` (in eval mode, without gradients, on the CPU) on every image of
    ``dataset`` (items ``(image, label)``, read by a DataLoader), and the labels.

    Images are ``uint8`` (scaled to [0, 1] on a copy) or float, already in [0, 1], given to the
    model as they are; the dataset's tensors are never changed, and the model's train/eval
    mode is restored afterwards.

    Examples:
        >>> from invtransfer.data import Glyphs
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 3))
        >>> logits, labels = predict(model, Glyphs(num_classes=3, per_class=2))
        >>> logits.shape, labels.tolist()
        (torch.Size([6, 3]), [0, 0, 1, 1, 2, 2])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, received {type(model).__name__}")
    positive_int("batch_size", batch_size)
    non_negative_int("workers", workers)
    device = _model_device(model, None)
    loader = DataLoader(
        dataset,
        batch_size,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        generator=generator_for(0),  # the workers' seeds; the global RNG is left alone
    )
    logits, labels = [], []
    with _eval_mode(model), torch.no_grad():
        for images, batch_labels in loader:
            logits.append(model(_model_input(images.to(device))).cpu())
            labels.append(torch.as_tensor(batch_labels))
    return torch.cat(logits), torch.cat(labels)


def _model_input(images: Tensor) -> Tensor:
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"dataset: expected uint8 or float images, received dtype {images.dtype}")
    return _as_model_input(images)


def evaluate_run(
    model: nn.Module,
    data: ExperimentData,
    config: EvaluationConfig,
    seed: int,
    progress: bool = True,
    generator: MUNITGenerator | None = None,
) -> dict[str, Any]:
    """Test accuracy (overall, balanced, per shot group and per class) and, when there is a
    nuisance to measure (see `measured_nuisance`), the per-class invariance curve (eKLD and
    consistency) with its summary.

    Examples:
        >>> from invtransfer.experiments import DataConfig, EvaluationConfig
        >>> from invtransfer.experiments.datasets import load_data
        >>> from invtransfer.models import build_model
        >>> data = load_data(DataConfig(options=dict(num_classes=3, per_class=200,
        ...                                          test_per_class=4, max_count=50)))
        >>> model = build_model("small_cnn", 3, (1, 28, 28), seed=0)
        >>> result = evaluate_run(model, data, EvaluationConfig(2, 3), seed=0, progress=False)
        >>> sorted(result), result["invariance"]["family"]
        (['accuracy', 'invariance', 'per_class_accuracy'], 'BackgroundIntensity')
    """
    _check_config_and_data(config, data)
    logits, labels = predict(model, data.test)
    result: dict[str, Any] = {
        "accuracy": shot_accuracy(logits, labels, data.class_counts).to_dict(),
        "per_class_accuracy": per_class_accuracy(logits, labels, data.num_classes).tolist(),
    }
    if (nuisance := measured_nuisance(config, data, generator)) is not None:
        family, images = nuisance
        curve = invariance_curve(
            model, images, family, data.class_counts,
            samples_per_class=config.samples_per_class,
            transforms_per_sample=config.transforms_per_sample,
            seed=seed, progress=progress,
        )  # fmt: skip
        result["invariance"] = {
            "family": type(family).__name__,
            "columns": curve.columns(),
            "summary": curve.summary("ekld"),
        }
    return result


def measured_nuisance(
    config: EvaluationConfig, data: ExperimentData, generator: MUNITGenerator | None = None
) -> tuple[TransformFamily, Dataset] | None:
    """The family an invariance curve measures and the test images it transforms.

    The recipe's own family transforms the clean test images (before their fixed nuisance),
    as in the paper; a family named by ``config.family`` (or the generator's learned nuisance)
    transforms the test images as the model sees them. ``None`` when there is nothing to
    measure (a recipe without a nuisance and no ``config.family``).

    Examples:
        >>> from invtransfer.experiments import DataConfig, EvaluationConfig, load_data
        >>> data = load_data(DataConfig(variant=None, options=dict(num_classes=2,
        ...                             per_class=200, test_per_class=2, max_count=10)))
        >>> measured_nuisance(EvaluationConfig(), data) is None
        True
        >>> measured_nuisance(EvaluationConfig(family="brightness"), data)[0]
        Brightness(factor=(0.6, 1.4))
    """
    _check_config_and_data(config, data)
    if config.family is None:
        return None if data.family is None else (data.family, data.clean_test)
    if config.family == "generator":
        if generator is None:
            raise ValueError(
                "evaluation.family: 'generator' measures the run's generator, received none"
            )
        return LearnedNuisance(generator), data.test
    try:
        return family_by_name(config.family, **config.family_options), data.test
    except (ValueError, TypeError) as error:
        raise type(error)(f"evaluation.{error}") from None


def generator_quality(
    judge: nn.Module,
    generator: MUNITGenerator,
    data: ExperimentData,
    config: EvaluationConfig,
    seed: int,
) -> dict[str, Any]:
    """How good ``generator`` is for GIT on ``data``, measured on ``config.samples_per_class``
    held-out test images per class:

    - ``class_keeping``: the accuracy of ``judge`` (a classifier trained without the
      generator) on the images and on `KEEPING_STYLES` translations of each;
    - ``coverage``: for a recipe family with a measurable statistic (background level, ink
      mass), its spread across `COVERAGE_DRAWS` style codes against the family's own spread
      on the clean versions of the same images (``None`` otherwise);
    - ``grid``: a `translation_grid` of one image from each of up to `GRID_ROWS` classes,
      largest class first (``image``, and each row's ``classes`` and training ``sizes``).

    Examples:
        >>> from invtransfer.experiments import DataConfig, EvaluationConfig, load_data
        >>> from invtransfer.generative import MUNITGenerator, preset
        >>> from invtransfer.models import build_model
        >>> data = load_data(DataConfig(variant="dil", options=dict(num_classes=3,
        ...                             per_class=200, test_per_class=4, max_count=20)))
        >>> generator = MUNITGenerator(preset("tiny", image_size=28, channels=1), seed=0)
        >>> judge = build_model("small_cnn", 3, (1, 28, 28), seed=0)
        >>> quality = generator_quality(judge, generator, data, EvaluationConfig(2), seed=0)
        >>> quality["class_keeping"]["translations"], quality["coverage"]["family"]
        (24, 'Morphology')
        >>> quality["grid"]["sizes"]
        [20, 5, 5]
    """
    _check_config_and_data(config, data)
    chosen = evaluation_set(data.test, data.num_classes, config.samples_per_class, seed)
    keeping = class_keeping(
        judge, generator, chosen.images, chosen.labels, KEEPING_STYLES, seed
    ).to_dict()
    coverage = None
    if data.family is not None and data.family.statistic_name is not None:
        clean = evaluation_set(data.clean_test, data.num_classes, config.samples_per_class, seed)
        coverage = nuisance_coverage(
            generator, data.family, chosen.images, clean.images, COVERAGE_DRAWS, seed
        ).to_dict()
    return {
        "class_keeping": keeping,
        "coverage": coverage,
        "grid": _grid(generator, chosen.images, chosen.labels, data, seed),
    }


def _grid(
    generator: MUNITGenerator, images: Tensor, labels: Tensor, data: ExperimentData, seed: int
) -> dict[str, Any]:
    """One held-out image of each of up to `GRID_ROWS` classes spread from the largest to
    the smallest, translated."""
    by_size = data.class_counts.argsort(descending=True, stable=True)
    picks = torch.linspace(0, len(by_size) - 1, min(GRID_ROWS, len(by_size))).round().long()
    classes = [int(c) for c in by_size[picks] if bool((labels == c).any())]
    rows = torch.stack([images[(labels == c).nonzero()[0, 0]] for c in classes])
    return {
        "image": translation_grid(generator, rows, seed=seed),
        "classes": classes,
        "sizes": [int(data.class_counts[c]) for c in classes],
    }


def _check_config_and_data(config: object, data: object) -> None:
    instance("config", config, EvaluationConfig)
    instance("data", data, ExperimentData)
