"""Labels and class counts, resolved without decoding images.

Every part of the library that needs a dataset's labels asks `resolve_labels`, which
looks, in order, at an explicit ``labels=`` argument, a ``targets`` or ``labels`` attribute,
the parents of ``Subset`` and ``ConcatDataset``, the last tensor of a ``TensorDataset``, and
torchvision's ``samples`` list; it iterates the dataset (decoding every image) only when
explicitly allowed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset, Subset, TensorDataset

from invtransfer._validation import as_tensor

__all__ = [
    "SHOT_GROUPS",
    "check_class_counts",
    "check_shot_thresholds",
    "class_counts",
    "resolve_labels",
    "shot_groups",
]

SHOT_GROUPS = ("many", "medium", "few")
"""Shot-group names, indexed by the group ids `shot_groups` returns."""

_LABELS_ADVICE = (
    "Set `dataset.targets` to one integer label per example, or pass `labels=` where the "
    "function takes it (resolve_labels also reads every example with allow_iteration=True)"
)
"""What a user whose labels cannot be found can do, whichever function asked."""


def resolve_labels(
    dataset: Dataset | None = None,
    labels: Sequence[int] | Tensor | None = None,
    allow_iteration: bool = False,
) -> Tensor:
    """The integer class label of every example of ``dataset``, as a 1-D int64 tensor.

    A ``TensorDataset`` without ``targets`` or ``labels`` attributes has its labels in its
    last tensor, as in ``TensorDataset(images, labels)``: a 1-D integer tensor, one label per
    example. Any other last tensor, or a single tensor (inputs without labels), is an error,
    unless ``allow_iteration`` is given. A ``TensorDataset(images, labels, indices)`` would
    give its indices: set its ``targets`` attribute instead.

    Args:
        dataset: any map-style dataset; may be ``None`` when ``labels`` is given.
        labels: explicit labels; they win over everything the dataset says.
        allow_iteration: as a last resort, read ``dataset[i][1]`` for every ``i``, decoding
            every image (slow; warns).

    Examples:
        >>> from torch.utils.data import Subset, TensorDataset
        >>> base = TensorDataset(torch.zeros(4, 1))
        >>> base.targets = [2, 0, 1, 2]
        >>> resolve_labels(Subset(base, [3, 1])).tolist()
        [2, 0]
        >>> resolve_labels(TensorDataset(torch.zeros(3, 1, 8, 8), torch.tensor([1, 0, 1]))).tolist()
        [1, 0, 1]
    """
    if labels is not None:
        resolved = _as_label_tensor(labels, "labels")
    elif dataset is None:
        raise TypeError("dataset: expected a dataset or explicit labels, received neither")
    else:
        resolved = _labels_of(dataset, allow_iteration)
    if dataset is not None and _has_len(dataset) and len(resolved) != len(dataset):  # type: ignore[arg-type]
        raise ValueError(
            f"labels: expected one label per example ({len(dataset)}), "  # type: ignore[arg-type]
            f"received {len(resolved)}"
        )
    return resolved


def class_counts(labels: Tensor, num_classes: int | None = None) -> Tensor:
    """Examples per class, a 1-D int64 tensor indexed by class id.

    Args:
        labels: 1-D integer labels.
        num_classes: the number of classes; by default one more than the largest label.

    Examples:
        >>> class_counts(torch.tensor([0, 2, 2, 0, 2]), num_classes=4).tolist()
        [2, 0, 3, 0]
    """
    labels = _as_label_tensor(labels, "labels")
    largest = int(labels.max()) if len(labels) else -1
    if num_classes is None and largest < 0:
        raise ValueError("labels: expected at least one label (or num_classes), received none")
    if num_classes is None:
        num_classes = largest + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, received {num_classes!r}")
    if largest >= num_classes:
        raise ValueError(f"labels: expected labels in [0, {num_classes}), received label {largest}")
    return torch.bincount(labels, minlength=num_classes)


def check_class_counts(counts: Any, name: str = "counts") -> Tensor:
    """Validate class counts: a 1-D integer tensor (or sequence) with every class non-empty.

    Examples:
        >>> check_class_counts([50, 5, 1]).tolist()
        [50, 5, 1]
    """
    tensor = as_tensor(name, counts, "a 1-D sequence of integer class counts")
    if tensor.ndim != 1 or len(tensor) == 0:
        raise ValueError(
            f"{name}: expected a non-empty 1-D sequence of class counts, "
            f"received shape {tuple(tensor.shape)}"
        )
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"{name}: expected integer counts, received dtype {tensor.dtype}")
    empty = (tensor < 1).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"{name}: expected every class to have at least 1 example, received "
            f"{tensor[empty].tolist()} for classes {empty}"
        )
    return tensor.to(torch.long)


def shot_groups(counts: Tensor | Sequence[int], many: int = 100, few: int = 20) -> Tensor:
    """The shot group of every class, from its training count: 0 many, 1 medium, 2 few.

    The long-tail convention: *many* has more than ``many`` training examples, *few* fewer
    than ``few``, *medium* the rest (``few <= count <= many``). Group ``g`` is named
    ``SHOT_GROUPS[g]``.

    Args:
        counts: training examples per class, 1-D integers, every class non-empty.
        many: a class with more examples than this is *many*-shot.
        few: a class with fewer examples than this is *few*-shot; ``0 < few <= many``.

    Examples:
        >>> shot_groups(torch.tensor([500, 101, 100, 20, 19, 5])).tolist()
        [0, 0, 1, 1, 2, 2]
    """
    counts = check_class_counts(counts)
    check_shot_thresholds(many, few)
    groups = torch.ones_like(counts)
    groups[counts > many] = 0
    groups[counts < few] = 2
    return groups


def check_shot_thresholds(many: int, few: int) -> None:
    """Check shot-group thresholds: numbers with ``0 < few <= many``."""
    for name, value in (("many", many), ("few", few)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name}: expected a number, received {type(value).__name__}")
    if not 0 < few <= many:
        raise ValueError(f"few, many: expected 0 < few <= many, received few={few}, many={many}")


def _labels_of(dataset: Dataset, allow_iteration: bool) -> Tensor:
    for attribute in ("targets", "labels"):
        value = getattr(dataset, attribute, None)
        if value is not None and not callable(value):
            return _as_label_tensor(value, f"{type(dataset).__name__}.{attribute}")
    if isinstance(dataset, Subset):
        parent = _labels_of(dataset.dataset, allow_iteration)
        return parent[torch.as_tensor(dataset.indices, dtype=torch.long)]
    if isinstance(dataset, ConcatDataset):
        return torch.cat([_labels_of(part, allow_iteration) for part in dataset.datasets])
    if isinstance(dataset, TensorDataset):
        last, single = dataset.tensors[-1], len(dataset.tensors) == 1
        integer = not (last.is_floating_point() or last.is_complex() or last.dtype == torch.bool)
        if integer and last.ndim == 1 and not single:
            return _as_label_tensor(last, "TensorDataset.tensors[-1]")
        if not allow_iteration:
            raise (ValueError if integer else TypeError)(
                "dataset: expected a TensorDataset(inputs, ..., labels) whose last tensor holds "
                "the labels, a 1-D integer tensor with one label per example; received "
                f"{'a single' if single else 'a last'} tensor of dtype {last.dtype} and shape "
                f"{tuple(last.shape)}. {_LABELS_ADVICE}"
            )
    samples = getattr(dataset, "samples", None)
    if isinstance(samples, Sequence) and samples and isinstance(samples[0], tuple):
        return _as_label_tensor(
            [label for _, label in samples], f"{type(dataset).__name__}.samples"
        )
    if allow_iteration:
        warnings.warn(
            f"resolve_labels: {type(dataset).__name__} has no targets, labels or samples; "
            "reading every example to find its label",
            stacklevel=3,
        )
        return _as_label_tensor([dataset[i][1] for i in range(len(dataset))], "dataset[i][1]")  # type: ignore[arg-type]
    raise TypeError(
        f"dataset: expected a dataset with `targets`, `labels` or `samples`, a TensorDataset "
        f"with its labels last, or a Subset or ConcatDataset of one; received "
        f"{type(dataset).__name__}. {_LABELS_ADVICE}"
    )


def _as_label_tensor(value: Any, name: str) -> Tensor:
    if isinstance(value, Tensor):
        tensor = value.detach().cpu()
    elif _is_empty(value):
        raise ValueError(f"{name}: expected at least one label, received none")
    else:
        tensor = as_tensor(name, value, "integer class labels")
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"{name}: expected integer class labels, received dtype {tensor.dtype}")
    if tensor.ndim != 1:
        raise ValueError(
            f"{name}: expected a 1-D sequence of labels, received shape {tuple(tensor.shape)}"
        )
    if len(tensor) and int(tensor.min()) < 0:
        raise ValueError(f"{name}: expected labels >= 0, received {int(tensor.min())}")
    return tensor.to(torch.long)


def _is_empty(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 0


def _has_len(dataset: object) -> bool:
    try:
        len(dataset)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True
