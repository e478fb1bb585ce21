"""Per-class weights from class counts: inverse frequency, its square root, effective number."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from invtransfer._validation import finite_float, one_of
from invtransfer.labels import check_class_counts

__all__ = ["METHODS", "class_weights"]

METHODS = ("inverse", "inverse_sqrt", "effective_number")
"""The weighting methods `class_weights` knows."""

_NORMALIZATIONS = ("num_classes", "mean_sample", None)


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
    one_of("method", method, METHODS)
    one_of("normalize", normalize, _NORMALIZATIONS)
    if method == "inverse":
        weights = 1 / counts
    elif method == "effective_number":
        finite_float("beta", beta, 0, 1, open_high=True)
        weights = (1 - beta) / (1 - torch.pow(beta, counts))
    else:  # "inverse_sqrt"
        weights = counts.rsqrt()
    if normalize == "num_classes":
        weights = weights * (len(weights) / weights.sum())
    elif normalize == "mean_sample":
        weights = weights * (counts.sum() / (weights * counts).sum())
    return weights.to(torch.float32)
