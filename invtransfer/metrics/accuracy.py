"""Accuracy per class, balanced over classes, and by shot group of the training class size.

Every function takes either logits ``(N, C)`` (the prediction is their argmax) or predicted
labels ``(N,)``, and integer targets ``(N,)``. A class with no evaluation examples has no
accuracy: it is NaN in `per_class_accuracy` and left out of every mean built on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from invtransfer._validation import as_tensor, finite_tensor
from invtransfer.labels import SHOT_GROUPS, check_class_counts, shot_groups

__all__ = [
    "SHOT_GROUPS",
    "ShotAccuracy",
    "balanced_accuracy",
    "per_class_accuracy",
    "shot_accuracy",
    "shot_groups",
]


def per_class_accuracy(
    predictions_or_logits: Tensor, targets: Tensor | Sequence[int], num_classes: int | None = None
) -> Tensor:
    """Accuracy of every class, as a float64 tensor ``(C,)``; NaN for a class without examples.

    Args:
        predictions_or_logits: logits ``(N, C)``, whose argmax is the prediction, or
            predicted integer labels ``(N,)``.
        targets: the true integer labels ``(N,)``, in ``[0, C)``.
        num_classes: ``C``; by default the logits' width, or one more than the largest label.

    Examples:
        >>> predictions = torch.tensor([0, 0, 1, 2, 2])
        >>> per_class_accuracy(predictions, torch.tensor([0, 0, 1, 1, 1]), num_classes=3)
        tensor([1.0000, 0.3333,    nan], dtype=torch.float64)
    """
    return _per_class(*_prepare(predictions_or_logits, targets, num_classes))


def balanced_accuracy(
    predictions_or_logits: Tensor, targets: Tensor | Sequence[int], num_classes: int | None = None
) -> float:
    """The mean of `per_class_accuracy` over the classes that have examples.

    NaN when there are no examples at all. Arguments as for `per_class_accuracy`.

    Examples:
        >>> logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
        >>> balanced_accuracy(logits, torch.tensor([0, 0, 0, 0]))  # class 1 has no examples
        0.75
        >>> round(balanced_accuracy(logits, torch.tensor([1, 1, 0, 1])), 4)  # (1 + 1/3) / 2
        0.6667
    """
    return _nanmean(per_class_accuracy(predictions_or_logits, targets, num_classes))


@dataclass(frozen=True)
class ShotAccuracy:
    """Accuracy by shot group of the training class size, with overall and balanced accuracy.

    A group's accuracy is the mean of the per-class accuracies of its classes that have
    evaluation examples: NaN when it has none (for instance when the group is empty).
    """

    many: float
    """Mean per-class accuracy of the classes with more than ``many_threshold`` examples."""
    medium: float
    few: float
    """Mean per-class accuracy of the classes with fewer than ``few_threshold`` examples."""
    many_classes: int
    """Classes in the *many* group (by training count, evaluated or not)."""
    medium_classes: int
    few_classes: int
    overall: float
    """Correct predictions over all evaluation examples."""
    balanced: float
    """Mean per-class accuracy over the classes that have evaluation examples."""
    many_threshold: int
    few_threshold: int

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a flat dict, ready for a logger or a JSON report.

        Examples:
            >>> result = shot_accuracy(torch.tensor([0, 1]), torch.tensor([0, 1]), [200, 10])
            >>> result.to_dict()["few"], result.to_dict()["medium_classes"]
            (1.0, 0)
        """
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"many {self.many:.4f} ({self.many_classes} classes), "
            f"medium {self.medium:.4f} ({self.medium_classes}), "
            f"few {self.few:.4f} ({self.few_classes}); "
            f"overall {self.overall:.4f}, balanced {self.balanced:.4f}"
        )


def shot_accuracy(
    predictions_or_logits: Tensor,
    targets: Tensor | Sequence[int],
    train_class_counts: Tensor | Sequence[int],
    many: int = 100,
    few: int = 20,
) -> ShotAccuracy:
    """Accuracy by shot group, where groups come from the TRAINING class counts.

    *many* has more than ``many`` training examples, *few* fewer than ``few``, *medium* the
    rest, as `shot_groups` and ``invtransfer.data.summary`` define them.

    Args:
        predictions_or_logits: logits ``(N, C)`` or predicted labels ``(N,)``.
        targets: the true integer labels ``(N,)``, in ``[0, C)``.
        train_class_counts: training examples per class; its length is ``C``.
        many: the *many*-shot threshold.
        few: the *few*-shot threshold; ``0 < few <= many``.

    Examples:
        >>> counts = torch.tensor([500, 50, 5])
        >>> predictions = torch.tensor([0, 0, 1, 0, 2, 1])
        >>> result = shot_accuracy(predictions, torch.tensor([0, 0, 1, 1, 2, 2]), counts)
        >>> result.many, result.medium, result.few, result.overall
        (1.0, 0.5, 0.5, 0.6666666666666666)
        >>> shot_accuracy(predictions, torch.tensor([0] * 6), counts, many=1000).many
        nan
    """
    counts = check_class_counts(train_class_counts, "train_class_counts")
    groups = shot_groups(counts, many, few)
    logits = predictions_or_logits
    if isinstance(logits, Tensor) and logits.ndim == 2 and logits.shape[1] != len(counts):
        raise ValueError(
            f"train_class_counts: expected one count per class of the logits "
            f"({logits.shape[1]}), received {len(counts)}"
        )
    predicted, target, _ = _prepare(predictions_or_logits, targets, len(counts))
    accuracy = _per_class(predicted, target, len(counts))
    group_accuracy = [_nanmean(accuracy[groups.to(accuracy.device) == g]) for g in range(3)]
    sizes = torch.bincount(groups, minlength=3).tolist()
    overall = (predicted == target).to(torch.float64).mean() if len(target) else math.nan
    return ShotAccuracy(
        many=group_accuracy[0],
        medium=group_accuracy[1],
        few=group_accuracy[2],
        many_classes=sizes[0],
        medium_classes=sizes[1],
        few_classes=sizes[2],
        overall=float(overall),
        balanced=_nanmean(accuracy),
        many_threshold=many,
        few_threshold=few,
    )


def _per_class(predicted: Tensor, target: Tensor, num_classes: int) -> Tensor:
    total = torch.bincount(target, minlength=num_classes)
    correct = torch.bincount(target[predicted == target], minlength=num_classes)
    return correct.to(torch.float64) / total.to(torch.float64)


def _prepare(
    predictions_or_logits: Tensor, targets: Tensor | Sequence[int], num_classes: int | None
) -> tuple[Tensor, Tensor, int]:
    """Check the inputs; return predicted labels, targets (both int64) and the class count."""
    if not isinstance(predictions_or_logits, Tensor):
        raise TypeError(
            f"predictions_or_logits: expected a tensor of logits (N, C) or labels (N,), "
            f"received {type(predictions_or_logits).__name__}"
        )
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(f"num_classes: expected an int >= 1 or None, received {num_classes!r}")
    predicted, num_classes = _predicted_labels(predictions_or_logits, num_classes)
    target = _labels(targets, "targets", predicted.device)
    if len(target) != len(predicted):
        raise ValueError(
            f"targets: expected one target per prediction ({len(predicted)}), "
            f"received {len(target)}"
        )
    if num_classes is None:
        if len(target) == 0:
            raise ValueError(
                "num_classes: expected an int to size an empty evaluation, received None"
            )
        num_classes = int(torch.maximum(predicted.max(), target.max())) + 1
    _check_range(target, num_classes, "targets")
    if predictions_or_logits.ndim == 1:  # an argmax is in range by construction
        _check_range(predicted, num_classes, "predictions_or_logits")
    return predicted, target, num_classes


def _predicted_labels(values: Tensor, num_classes: int | None) -> tuple[Tensor, int | None]:
    if values.ndim == 2:
        finite_tensor("predictions_or_logits", values)
        if values.shape[1] < 1 or (num_classes is not None and values.shape[1] != num_classes):
            expected = "C >= 1" if num_classes is None else f"C = num_classes = {num_classes}"
            raise ValueError(
                f"predictions_or_logits: expected logits (N, C) with {expected}, "
                f"received shape {tuple(values.shape)}"
            )
        return values.argmax(1), values.shape[1]
    if values.ndim == 1:
        return _labels(values, "predictions_or_logits", values.device), num_classes
    raise ValueError(
        f"predictions_or_logits: expected logits (N, C) or labels (N,), "
        f"received shape {tuple(values.shape)}"
    )


def _labels(values: Tensor | Sequence[int], name: str, device: torch.device) -> Tensor:
    tensor = as_tensor(name, values, "integer class labels").to(device)
    if not isinstance(values, Tensor) and tensor.numel() == 0:
        tensor = tensor.long()  # an empty list: no labels, not float ones
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"{name}: expected integer class labels, received dtype {tensor.dtype}")
    if tensor.ndim != 1:
        raise ValueError(f"{name}: expected labels (N,), received shape {tuple(tensor.shape)}")
    return tensor.to(torch.long)


def _check_range(labels: Tensor, num_classes: int, name: str) -> None:
    if len(labels) == 0:
        return
    low, high = (int(value) for value in torch.aminmax(labels))
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"{name}: expected labels in [0, {num_classes}), received labels from {low} to {high}"
        )


def _nanmean(values: Tensor) -> float:
    present = values[~values.isnan()]
    return float(present.mean()) if len(present) else math.nan
