"""`InvarianceMetric`: per-class invariance as a ``torchmetrics.Metric`` (``pip install
invtransfer[torchmetrics]``), for training loops, ``MetricCollection`` and Lightning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from invtransfer._validation import one_of, positive_int
from invtransfer.metrics.pairs import (
    DIVERGENCE_KINDS,
    PAIR_STATISTICS,
    add_pairs,
    check_pairs,
    group_means,
    pair_statistics,
)

__all__ = ["AVERAGES", "InvarianceMetric"]

AVERAGES = ("macro", "micro", "none")
"""How `InvarianceMetric` reduces its per-class means: over classes, over pairs, or not."""


class InvarianceMetric(Metric):
    """How much a model's predictions move under a nuisance transformation, per class, as a
    ``torchmetrics.Metric``.

    ``update(clean_logits, transformed_logits, targets)`` pairs row ``i`` of the clean logits
    ``(N, C)`` with row ``i`` of the transformed ones; ``targets[i]`` is the class of the clean
    image. ``measure`` picks what ``compute()`` reports:

    - ``"ekld"`` (the paper's ``KL(p(.|x) || p(.|T x))``), ``"symmetric_kl"`` or ``"js"``:
      divergences, lower is better;
    - ``"consistency"``: the fraction of pairs whose top-1 predictions agree;
    - ``"accuracy"`` and ``"confidence"`` of the clean predictions, to read beside a
      divergence (a flat, unconfident model scores an eKLD near 0).

    and ``average`` how: ``"macro"`` the mean over the classes that have pairs (every class
    counts the same, as in the paper's per-class curves), ``"micro"`` the mean over all pairs,
    ``"none"`` a tensor ``(C,)`` with NaN for a class without pairs. A class's mean is over its
    *pairs*: an image updated with ``k`` transformed copies counts ``k`` times. Results are
    float64; with no pairs at all, NaN.

    The state is one float64 table ``sums`` ``(7, C)``: the sum of every statistic of
    `invtransfer.metrics.pairs.PAIR_STATISTICS` per class and the pair count, the accumulator
    `InvarianceMeter` and `invariance_curve` use too, so the three agree on the same pairs.
    It is reduced with ``dist_reduce_fx="sum"``, so torchmetrics syncs it across ranks in
    ``compute()``, ``forward`` returns the batch's value while accumulating, ``merge_state``
    adds another metric's pairs, and metrics that differ only in ``measure`` or ``average``
    share one state in a ``MetricCollection`` (compute groups). Each pair should be updated on
    one rank only; the padding of ``DistributedSampler`` repeats a few examples.

    Args:
        num_classes: the number of classes ``C``; logits are ``(N, C)``.
        measure: one of `invtransfer.metrics.pairs.PAIR_STATISTICS`.
        average: one of `AVERAGES`.
        kwargs: torchmetrics' own options (``sync_on_compute``, ``process_group``, ...).

    Examples:
        >>> metric = InvarianceMetric(num_classes=3)
        >>> clean = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
        >>> targets = torch.tensor([0, 1, 1])
        >>> metric.update(clean, clean, targets)  # an identity transform: eKLD 0
        >>> metric(clean, clean.roll(1, dims=1), targets)  # forward: this batch's macro eKLD
        tensor(3.7880, dtype=torch.float64)
        >>> metric.compute()  # both batches
        tensor(1.8940, dtype=torch.float64)
        >>> per_class = InvarianceMetric(3, measure="consistency", average="none")
        >>> per_class.update(clean, clean.roll(1, dims=1), targets)
        >>> per_class.compute()
        tensor([0., 0., nan], dtype=torch.float64)
    """

    is_differentiable = False
    full_state_update = False
    plot_lower_bound = 0.0
    sums: Tensor

    def __init__(
        self, num_classes: int, measure: str = "ekld", average: str = "macro", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.num_classes = positive_int("num_classes", num_classes)
        self.measure = one_of("measure", measure, PAIR_STATISTICS)
        self.average = one_of("average", average, AVERAGES)
        shape = (len(PAIR_STATISTICS) + 1, num_classes)
        self.add_state("sums", torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def higher_is_better(self) -> bool:  # type: ignore[override]
        """False for the divergences, True for consistency, accuracy and confidence."""
        return self.measure not in DIVERGENCE_KINDS

    def update(
        self, clean_logits: Tensor, transformed_logits: Tensor, targets: Tensor | Sequence[int]
    ) -> None:
        """Add a batch of pairs: logits ``(N, C)`` on clean and transformed images, and the
        clean images' classes ``(N,)``.

        Examples:
            >>> metric = InvarianceMetric(2, measure="accuracy", average="none")
            >>> metric.update(torch.eye(2), torch.eye(2), torch.tensor([0, 0]))
            >>> metric.compute().tolist()
            [0.5, nan]
        """
        target = check_pairs(clean_logits, transformed_logits, targets, self.num_classes)
        statistics = pair_statistics(clean_logits, transformed_logits, target)
        add_pairs(self.sums, statistics, target)

    def compute(self) -> Tensor:
        """The ``measure``, reduced as ``average`` says, over every pair since the last
        ``reset()`` (on every rank, when distributed).

        Examples:
            >>> metric = InvarianceMetric(2, measure="consistency", average="micro")
            >>> metric.update(torch.eye(2), torch.eye(2).flip(1), torch.tensor([0, 0]))
            >>> metric.update(torch.eye(2), torch.eye(2), torch.tensor([1, 1]))
            >>> metric.compute().item()
            0.5
        """
        row = PAIR_STATISTICS.index(self.measure)
        if self.average == "micro":
            return group_means(self.sums.sum(1))[row]
        per_class = group_means(self.sums)[row]
        return per_class if self.average == "none" else per_class.nanmean()

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, measure={self.measure!r}, average={self.average!r}"
