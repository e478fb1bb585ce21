"""Invariance curves: per-class invariance of a model against the class's training size."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from invtransfer._paths import write_bytes
from invtransfer._seeding import derive_seed, generator_for
from invtransfer._validation import positive_int
from invtransfer.labels import check_class_counts
from invtransfer.metrics.evaluation import (
    MEASURES,
    EvaluationSet,
    PairedOutputs,
    evaluation_set,
    measure_pairs,
)
from invtransfer.metrics.pairs import group_means, regroup
from invtransfer.metrics.statistics import bootstrap_interval, size_trend
from invtransfer.transforms import Params, TransformFamily

__all__ = ["InvarianceCurve", "invariance_curve", "strength_curve"]


@dataclass(frozen=True)
class InvarianceCurve:
    """Per-class invariance of one model: a table with one row per class.

    ``measures[name]`` holds the per-class ``mean`` and bootstrap interval (``low``,
    ``high``) of each measure; ``accuracy`` and ``confidence`` are those of the clean
    predictions, reported beside the measures because a flat, unconfident predictor scores
    an eKLD near 0. Classes without evaluation images have ``images == 0`` and NaN entries.
    """

    class_sizes: Tensor
    images: Tensor
    measures: dict[str, dict[str, Tensor]]
    accuracy: Tensor
    confidence: Tensor
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """The number of classes (rows)."""
        return len(self.class_sizes)

    def columns(self) -> dict[str, list]:
        """The table as a plain dict of columns (no pandas needed: ``pd.DataFrame(...)`` it)."""
        table: dict[str, list] = {
            "class": list(range(self.num_classes)),
            "class_size": self.class_sizes.tolist(),
            "images": self.images.tolist(),
        }
        for name, stats in self.measures.items():
            for stat, values in stats.items():
                table[f"{name}_{stat}"] = values.tolist()
        table["accuracy"] = self.accuracy.tolist()
        table["confidence"] = self.confidence.tolist()
        return table

    def summary(self, measure: str = "ekld") -> dict[str, float]:
        """Spearman correlation with class size, slope against log class size, the means of
        the smallest and largest thirds of the classes and their ratio (tail over head)."""
        evaluated = self.images > 0
        return {
            **size_trend(self.class_sizes[evaluated], self._means(measure)[evaluated]),
            "balanced_accuracy": float(self.accuracy[evaluated].mean()),
            "mean_confidence": float(self.confidence[evaluated].mean()),
        }

    def compare(self, other: InvarianceCurve, measure: str = "ekld") -> dict[str, list]:
        """Per-class difference ``self - other`` of a measure, for two models on the same data
        (e.g. CE+DRS vs CE+DRS+GIT)."""
        if not torch.equal(self.class_sizes, other.class_sizes):
            raise ValueError(
                "other: expected a curve over the same classes and class sizes, received "
                f"sizes {other.class_sizes.tolist()} vs {self.class_sizes.tolist()}"
            )
        mine, theirs = self._means(measure), other._means(measure)
        return {
            "class": list(range(self.num_classes)),
            "class_size": self.class_sizes.tolist(),
            f"{measure}_self": mine.tolist(),
            f"{measure}_other": theirs.tolist(),
            "difference": (mine - theirs).tolist(),
        }

    def to_csv(self, path: str | Path) -> None:
        """Write the table as CSV, one row per class (atomically: see `save`)."""
        table, text = self.columns(), io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(table)
        writer.writerows(zip(*table.values(), strict=True))
        _write(path, text.getvalue().encode())

    def to_json(self, path: str | Path) -> None:
        """Write the table, the summaries of every measure, and the settings as JSON
        (atomically: see `save`)."""
        document = {
            "columns": self.columns(),
            "summary": {name: self.summary(name) for name in self.measures},
            "settings": self.settings,
        }
        _write(path, json.dumps(document, indent=2, allow_nan=True).encode())

    def save(self, stem: str | Path, title: str | None = None, measure: str = "ekld") -> list[Path]:
        """Write ``STEM.png`` (the plot of ``measure``, drawn without pyplot's global state,
        so no display is needed), ``STEM.csv`` and ``STEM.json``; return their paths. Needs
        matplotlib for the PNG.

        Each file is replaced atomically (a killed process leaves the old file or the new
        one), and a symbolic link at a file's path is refused rather than written through.

        Examples:
            >>> import tempfile
            >>> from torch.utils.data import TensorDataset
            >>> from invtransfer.transforms import Brightness
            >>> data = TensorDataset(torch.rand(6, 1, 8, 8), torch.arange(6) % 3)
            >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
            >>> curve = invariance_curve(model, data, Brightness(), [100, 10, 1],
            ...                          samples_per_class=2, transforms_per_sample=2,
            ...                          progress=False)
            >>> [path.name for path in curve.save(f"{tempfile.mkdtemp()}/curve")]
            ['curve.png', 'curve.csv', 'curve.json']
        """
        from matplotlib.figure import Figure

        paths = [Path(f"{stem}.{suffix}") for suffix in ("png", "csv", "json")]
        figure = Figure(figsize=(5, 3.5), layout="tight")
        ax = self.plot(measure, ax=figure.subplots())
        if title is not None:
            ax.set_title(title)
        image = io.BytesIO()
        figure.savefig(image, format="png", dpi=120)
        _write(paths[0], image.getvalue())
        self.to_csv(paths[1])
        self.to_json(paths[2])
        return paths

    def plot(self, measure: str = "ekld", ax: Any = None, label: str | None = None) -> Any:
        """Plot the measure against class size on a log axis, with interval bars; needs
        matplotlib (``pip install invtransfer[plot]``). Returns the axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.gca()
        stats = self._stats(measure)
        evaluated = self.images > 0
        sizes, mean = self.class_sizes[evaluated], stats["mean"][evaluated]
        errors = torch.stack([mean - stats["low"][evaluated], stats["high"][evaluated] - mean])
        ax.errorbar(sizes, mean, yerr=errors, fmt="o", capsize=2, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("training images in the class")
        ax.set_ylabel(measure)
        return ax

    def _stats(self, measure: str) -> dict[str, Tensor]:
        if measure not in self.measures:
            raise ValueError(
                f"measure: expected one of {list(self.measures)}, received {measure!r}"
            )
        return self.measures[measure]

    def _means(self, measure: str) -> Tensor:
        return self._stats(measure)["mean"]


def invariance_curve(
    model: nn.Module,
    data: Dataset | DataLoader,
    family: TransformFamily,
    class_sizes: Sequence[int] | Tensor,
    samples_per_class: int = 40,
    transforms_per_sample: int = 100,
    measures: Sequence[str] = ("ekld", "consistency"),
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: bool = True,
    features: nn.Module | None = None,
) -> InvarianceCurve:
    """Measure how invariant ``model`` is to ``family``, class by class.

    Takes up to ``samples_per_class`` clean images of every class from ``data`` (a seeded
    choice from a Dataset, or the first ones a DataLoader yields), predicts each once, and
    compares the prediction with those on ``transforms_per_sample`` transformed copies, each
    copy paired with its own source image. Parameters are drawn per image from ``(seed,
    image)``, so the numbers do not depend on ``batch_size``. Under an initialised process
    group each rank evaluates its share of the images and every rank gets the whole curve.

    A class's mean is over its pairs, summed with the accumulator of
    `invtransfer.metrics.pairs`: `InvarianceMetric` and `InvarianceMeter` updated with the
    same pairs report the same per-class numbers.

    Args:
        model: maps float images in [0, 1] (``uint8`` data is scaled) to logits ``(N, C)``.
        data: clean, labelled images: a Dataset whose labels `invtransfer.labels.resolve_labels`
            finds (a ``targets`` attribute, or a ``TensorDataset(images, labels)``), or a
            DataLoader of ``(images, labels)``.
        family: the nuisance transformations.
        class_sizes: training images per class, one per class.
        samples_per_class: clean images evaluated per class (the paper used 40).
        transforms_per_sample: transformed copies per image, ``K`` (the paper used 100).
        measures: among ``"ekld"``, ``"symmetric_kl"``, ``"js"``, ``"consistency"`` and
            ``"feature_distance"`` (which needs ``features``).
        seed: the seed of the image choice, the transformations and the bootstrap.
        batch_size: images per forward pass (bounds memory).
        device: where the model runs; by default where its first parameter is.
        progress: show a progress bar.
        features: the module whose output ``feature_distance`` compares.

    Examples:
        >>> from torch.utils.data import TensorDataset
        >>> from invtransfer.transforms import Rotation
        >>> data = TensorDataset(torch.rand(20, 1, 8, 8), torch.arange(20) % 2)
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
        >>> curve = invariance_curve(model, data, Rotation(), class_sizes=[100, 10],
        ...                          samples_per_class=5, transforms_per_sample=3,
        ...                          progress=False)
        >>> curve.images.tolist(), sorted(curve.measures)
        ([5, 5], ['consistency', 'ekld'])
    """
    sizes = check_class_counts(class_sizes, "class_sizes")
    measures = _checked_measures(measures, features)
    copies = positive_int("transforms_per_sample", transforms_per_sample)
    evaluation = evaluation_set(
        data, len(sizes), positive_int("samples_per_class", samples_per_class), seed
    )
    params = _per_image_params(family, len(evaluation.labels), copies, seed)
    outputs = measure_pairs(
        model,
        evaluation,
        family,
        params,
        copies,
        measures,
        batch_size,
        device,
        progress,
        features,
        len(sizes),
    )
    settings = {
        "samples_per_class": samples_per_class,
        "transforms_per_sample": copies,
        "seed": seed,
        "family": repr(family),
    }
    return _tabulate(outputs, evaluation, sizes, seed, settings)


def strength_curve(
    model: nn.Module,
    data: Dataset | DataLoader,
    family: TransformFamily,
    field_name: str,
    values: Sequence[float],
    num_classes: int,
    samples_per_class: int = 40,
    measures: Sequence[str] = ("ekld", "consistency"),
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[str, list]:
    """A measure against transformation strength: for each value of one parameter field
    (e.g. ``"angle"`` of a ``Rotation``), every image is transformed with that value, the
    other fields at the family's identity. Returns columns ``value`` and the mean of each
    measure over all evaluated images.

    Examples:
        >>> from torch.utils.data import TensorDataset
        >>> from invtransfer.transforms import Rotation
        >>> data = TensorDataset(torch.rand(8, 1, 8, 8), torch.arange(8) % 2)
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
        >>> table = strength_curve(model, data, Rotation(), "angle", [0.0, 90.0],
        ...                        num_classes=2, samples_per_class=4, progress=False)
        >>> eklds = table["ekld"]
        >>> len(eklds), eklds[0]  # no rotation, no divergence
        (2, 0.0)
    """
    measures = _checked_measures(measures, None)
    evaluation = evaluation_set(
        data, num_classes, positive_int("samples_per_class", samples_per_class), seed
    )
    table: dict[str, list] = {"value": [float(v) for v in values]}
    for value in values:
        params = _with_field(family.identity(len(evaluation.labels)), field_name, value)
        outputs = measure_pairs(
            model,
            evaluation,
            family,
            params,
            1,
            measures,
            batch_size,
            device,
            progress,
            None,
            num_classes,
        )
        overall = _means(outputs, outputs.sums.sum(1))
        for name in measures:
            table.setdefault(name, []).append(float(overall[name]))
    return table


def _tabulate(
    outputs: PairedOutputs,
    evaluation: EvaluationSet,
    sizes: Tensor,
    seed: int,
    settings: dict[str, Any],
) -> InvarianceCurve:
    """Per-class means over pairs (the images' sums regrouped by class, as `InvarianceMetric`
    would sum them), and bootstrap intervals over the images' own means."""
    by_class = _means(outputs, regroup(outputs.sums, evaluation.labels, len(sizes)))
    per_image = _means(outputs, outputs.sums)
    members = [evaluation.labels == c for c in range(len(sizes))]
    measures = {}
    measured = [name for name in outputs.names if name in MEASURES]  # not accuracy, confidence
    for name in measured:
        intervals = [
            bootstrap_interval(per_image[name][rows], derive_seed(seed, c))
            for c, rows in enumerate(members)
        ]
        measures[name] = {
            "mean": by_class[name],
            "low": torch.tensor([low for low, _ in intervals], dtype=torch.float64),
            "high": torch.tensor([high for _, high in intervals], dtype=torch.float64),
        }
    return InvarianceCurve(
        class_sizes=sizes,
        images=torch.bincount(evaluation.labels, minlength=len(sizes)),
        measures=measures,
        accuracy=by_class["accuracy"],
        confidence=by_class["confidence"],
        settings=settings,
    )


def _means(outputs: PairedOutputs, sums: Tensor) -> dict[str, Tensor]:
    """The mean of every statistic of ``outputs`` from a table of its sums, by name."""
    return dict(zip(outputs.names, group_means(sums), strict=True))


def _per_image_params(family: TransformFamily, images: int, copies: int, seed: int) -> Params:
    """Copy ``k`` of image ``i`` is row ``i * copies + k``, drawn from ``(seed, i)`` alone."""
    return Params.cat([family.sample(copies, generator_for(seed, 1, i)) for i in range(images)])


def _with_field(params: Params, name: str, value: float) -> Params:
    fields = dict(params.items())
    if name not in fields:
        raise ValueError(f"field_name: expected one of {list(fields)}, received {name!r}")
    current = fields[name]
    if not isinstance(current, Tensor):
        raise ValueError(f"field_name: {name!r} is a group of fields; name one of its fields")
    fields[name] = torch.full_like(current, value)
    return Params(**fields)


def _checked_measures(measures: Sequence[str], features: nn.Module | None) -> list[str]:
    unknown = [name for name in measures if name not in MEASURES]
    if unknown or not measures:
        raise ValueError(f"measures: expected some of {MEASURES}, received {list(measures)}")
    if "feature_distance" in measures and features is None:
        raise ValueError("features: 'feature_distance' needs the module whose output to compare")
    return list(measures)


def _write(path: str | Path, data: bytes) -> None:
    """`write_bytes` into the file's own folder: atomic, and never through a link."""
    write_bytes(path, data, Path(path).parent)
