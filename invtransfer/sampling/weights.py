"""Per-class weights from class counts: inverse frequency, its square root, effective number."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from invtransfer.labels import check_class_counts

__all__ = ["METHODS", "class_weights"]

METHODS = ("inverse", "inverse_sqrt", "effective_number")
"""The weighting methods `class_weights` knows."""


def class_weights(
    counts: Sequence[int] | Tensor,
    method: str = "effective_number",
    beta: float = 0.9999,
    normalize: str | None = "num_classes",
) -> Tensor:
    """One float32 weight per class, larger for smaller classes.

    Methods, for a class with ``n`` examples:

    - ``"inverse"``: ``1 / n``;
    - ``"inverse_sqrt"``: ``1 / sqrt(n)``;
    - ``"effective_number"``: ``(1 - beta) / (1 - beta ** n)`` (Cui et al., 2019), which goes
      from inverse frequency (``beta`` near 1) to uniform (``beta = 0``).

    Normalisation: ``"num_classes"`` scales the weights to sum to the number of classes (so
    that a balanced set gets weight 1 everywhere, the class-balanced-loss convention),
    ``"mean_sample"`` so that the average weight over the training examples is 1 (the loss
    keeps its scale), ``None`` leaves them raw.

    Examples:
        >>> class_weights([100, 10, 1], method="inverse").tolist()
        [0.0270270..., 0.270270..., 2.702702...]
    """
    counts = check_class_counts(counts).to(torch.float64)
    if method == "inverse":
        weights = 1 / counts
    elif method == "inverse_sqrt":
        weights = counts.rsqrt()
    elif method == "effective_number":
        if not 0 <= beta < 1:
            raise ValueError(f"beta: expected a number in [0, 1), received {beta!r}")
        weights = (1 - beta) / (1 - torch.pow(beta, counts))
    else:
        raise ValueError(f"method: expected one of {METHODS}, received {method!r}")
    if normalize == "num_classes":
        weights = weights * (len(weights) / weights.sum())
    elif normalize == "mean_sample":
        weights = weights * (counts.sum() / (weights * counts).sum())
    elif normalize is not None:
        raise ValueError(
            f"normalize: expected 'num_classes', 'mean_sample' or None, received {normalize!r}"
        )
    return weights.to(torch.float32)
