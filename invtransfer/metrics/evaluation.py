"""Measuring a model on clean/transformed pairs: the evaluation set, clean predictions once,
transformed copies in bounded chunks, and each rank's share under DDP."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import PIL.Image
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2.functional import pil_to_tensor
from tqdm.auto import tqdm

from invtransfer._distributed import rank_and_world
from invtransfer._seeding import generator_for
from invtransfer._validation import positive_int
from invtransfer._validation import seed as seed_check
from invtransfer.labels import resolve_labels
from invtransfer.metrics.measures import feature_distance, random_pair_distance
from invtransfer.metrics.pairs import DIVERGENCE_KINDS, add_pairs, pair_statistics
from invtransfer.transforms import Params, TransformFamily

__all__ = ["MEASURES", "EvaluationSet", "PairedOutputs", "evaluation_set", "measure_pairs"]

MEASURES = (*DIVERGENCE_KINDS, "consistency", "feature_distance")
"""The measures an invariance curve can report."""


@dataclass(frozen=True)
class EvaluationSet:
    """The clean images a curve is measured on, with their labels."""

    images: Tensor
    labels: Tensor


@dataclass(frozen=True)
class PairedOutputs:
    """Per-image sums over the image's transformed copies: ``sums`` is a table of
    `invtransfer.metrics.pairs` (one row per statistic in ``names``, then the pair count; one
    column per evaluated image)."""

    names: tuple[str, ...]
    sums: Tensor


def evaluation_set(
    data: Dataset | DataLoader, num_classes: int, per_class: int, seed: int
) -> EvaluationSet:
    """Up to ``per_class`` clean images of every class: a seeded choice from a Dataset (labels
    read without decoding), or the first ones a DataLoader yields.

    Examples:
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.rand(10, 1, 4, 4), torch.arange(10) % 2)
        >>> chosen = evaluation_set(data, num_classes=2, per_class=3, seed=0)
        >>> chosen.images.shape, chosen.labels.tolist()
        (torch.Size([6, 1, 4, 4]), [0, 0, 0, 1, 1, 1])
    """
    seed_check("seed", seed)  # here, not later as a key: "seed:", not "keys:"
    if isinstance(data, DataLoader):
        return _first_per_class(data, num_classes, per_class)
    labels = resolve_labels(data)
    if len(labels) and int(labels.max()) >= num_classes:
        raise ValueError(
            f"class_sizes: expected one size per class ({int(labels.max()) + 1} classes in the "
            f"data), received {num_classes}"
        )
    generator = generator_for(seed)
    chosen = []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)[:per_class]]
        chosen.append(members.sort().values)
    indices = torch.cat(chosen).tolist()
    images = torch.stack([_as_tensor(data[i][0]) for i in indices])
    return EvaluationSet(images, labels[indices])


def measure_pairs(
    model: nn.Module,
    evaluation: EvaluationSet,
    family: TransformFamily,
    params: Params,
    copies: int,
    measures: Sequence[str],
    batch_size: int,
    device: torch.device | str | None,
    progress: bool,
    features: nn.Module | None,
    num_classes: int,
) -> PairedOutputs:
    """Run ``model`` on every image once and on its ``copies`` transformed copies (``params``
    row ``i * copies + k`` makes copy ``k`` of image ``i``), ``batch_size`` at a time, in eval
    mode (restored afterwards), on ``device`` (by default where the model's parameters are).

    Each rank of an initialised process group takes every ``world``-th image and the results
    are gathered, so every rank returns the whole table.
    """
    positive_int("batch_size", batch_size)
    names = _statistic_names(measures)
    from_logits = tuple(name for name in names if name != "feature_distance")
    rank, world = rank_and_world()
    mine = torch.arange(rank, len(evaluation.labels), world)
    with _eval_mode(model):
        forward = _Forward(model, features, _model_device(model, device), num_classes)
        clean = _clean_outputs(forward, evaluation.images[mine], batch_size)
        labels = evaluation.labels[mine].to(forward.device)
        sums = torch.zeros(len(names) + 1, len(mine), dtype=torch.float64, device=forward.device)
        pairs = torch.arange(len(mine) * copies)
        for chunk in tqdm(pairs.split(batch_size), desc="invariance", disable=not progress):
            local, k = chunk // copies, chunk % copies
            rows = mine[local] * copies + k
            images = family.apply(evaluation.images[mine[local]].to(forward.device), params[rows])
            logits, feats = forward(images)
            index = local.to(forward.device)
            statistics = pair_statistics(clean.logits[index], logits, labels[index], from_logits)
            if from_logits != names:
                distance = _feature_distance(clean, index, feats).to(statistics)
                statistics = torch.cat([statistics, distance[None]])
            add_pairs(sums, statistics, index)
    return PairedOutputs(names, _gather(sums, len(evaluation.labels)).cpu())


def _statistic_names(measures: Sequence[str]) -> tuple[str, ...]:
    """The requested measures of the logits, the clean accuracy and confidence every curve
    reports, and the feature distance last when requested."""
    from_logits = [name for name in measures if name != "feature_distance"]
    features = ["feature_distance"] if "feature_distance" in measures else []
    return (*from_logits, "accuracy", "confidence", *features)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode for the block, its own mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _model_device(model: nn.Module, device: torch.device | str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@dataclass(frozen=True)
class _Outputs:
    logits: Tensor
    features: Tensor | None


class _Forward:
    """The model in eval mode, without gradients, checked, with an optional feature hook."""

    def __init__(
        self, model: nn.Module, features: nn.Module | None, device: torch.device, classes: int
    ):
        self.model, self.device, self.classes = model, device, classes
        self.features, self.captured = features, list[Tensor]()

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        self.captured.clear()
        hook = (
            self.features.register_forward_hook(lambda _m, _i, out: self.captured.append(out))
            if self.features is not None
            else None
        )
        try:
            with torch.no_grad():
                logits = self.model(_as_model_input(images.to(self.device)))
        finally:
            if hook is not None:
                hook.remove()
        _check_logits(logits, len(images), self.classes)
        return logits, (self.captured[-1].flatten(1) if self.captured else None)


def _clean_outputs(forward: _Forward, images: Tensor, batch_size: int) -> _Outputs:
    logits, features = [], []
    for batch in images.split(batch_size):
        out, feats = forward(batch)
        logits.append(out)
        if feats is not None:
            features.append(feats)
    return _Outputs(torch.cat(logits), torch.cat(features) if features else None)


def _feature_distance(clean: _Outputs, index: Tensor, features: Tensor | None) -> Tensor:
    if clean.features is None or features is None:
        raise ValueError("features: the module given for feature_distance produced no output")
    scale = random_pair_distance(clean.features)
    return feature_distance(clean.features[index], features, scale=scale)


def _gather(local: Tensor, total: int) -> Tensor:
    """Every rank's columns of a sums table (rank ``r`` holds images ``r, r + world, ...``),
    in image order, on every rank."""
    world = rank_and_world()[1]
    if world == 1:
        return local
    width = -(-total // world)
    padded = local.new_zeros(len(local), width)
    padded[:, : local.shape[1]] = local
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    table = local.new_empty(len(local), total)
    for rank, part in enumerate(parts):
        columns = torch.arange(rank, total, world, device=local.device)
        table[:, columns] = part[:, : len(columns)]
    return table


def _first_per_class(loader: DataLoader, num_classes: int, per_class: int) -> EvaluationSet:
    images: list[Tensor] = []
    labels: list[int] = []
    taken = [0] * num_classes
    for batch_images, batch_labels in _batches(loader):
        for image, label in zip(batch_images, batch_labels.tolist(), strict=True):
            if not 0 <= label < num_classes:
                raise ValueError(
                    f"data: expected labels in [0, {num_classes}) (one per class size), "
                    f"received {label}"
                )
            if taken[label] < per_class:
                taken[label] += 1
                images.append(image)
                labels.append(label)
        if min(taken) >= per_class:
            break
    order = torch.tensor(labels).argsort(stable=True)
    return EvaluationSet(torch.stack(images)[order], torch.tensor(labels)[order])


def _batches(loader: DataLoader) -> Iterator[tuple[Tensor, Tensor]]:
    for batch in loader:
        images, labels = batch[0], batch[1]
        yield _as_tensor(images), torch.as_tensor(labels)


def _as_tensor(image: object) -> Tensor:
    if isinstance(image, PIL.Image.Image):
        return pil_to_tensor(image)
    if not isinstance(image, Tensor):
        raise TypeError(
            f"data: expected images as tensors or PIL images, received {type(image).__name__}"
        )
    return image


def _as_model_input(images: Tensor) -> Tensor:
    """Models take float images in [0, 1]; ``uint8`` images are scaled."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images


def _check_logits(logits: object, rows: int, classes: int) -> None:
    if not isinstance(logits, Tensor) or tuple(logits.shape) != (rows, classes):
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(
            f"model: expected logits of shape ({rows}, {classes}) (one per class size), "
            f"received {shape}"
        )
    if not torch.isfinite(logits).all():
        raise ValueError("model: expected finite logits, received NaN or infinite values")
