"""Per-class invariance measured batch by batch inside a user's own evaluation loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

from invtransfer._distributed import rank_and_world
from invtransfer._validation import one_of, positive_int
from invtransfer.metrics.measures import DIVERGENCES
from invtransfer.metrics.pairs import (
    DIVERGENCE_KINDS,
    add_pairs,
    check_pairs,
    group_means,
    pair_statistics,
)

__all__ = ["InvarianceMeter"]

STATISTICS = ("divergence", "consistency", "accuracy", "confidence")
"""The per-pair values an `InvarianceMeter` averages, in the rows of its ``sums``."""


class InvarianceMeter(nn.Module):
    """Accumulates per-class invariance over clean/transformed pairs, with torch alone.

    ``update(clean_logits, transformed_logits, targets)`` pairs row ``i`` of the clean logits
    with row ``i`` of the transformed ones; ``targets[i]`` is the class of the clean image.
    Per pair it adds up the divergence (``divergence`` as in
    `invtransfer.metrics.measures.divergence`; ``"kl"`` is the paper's eKLD),
    the prediction consistency, whether the clean prediction is correct and its confidence
    (the largest softmax probability). ``compute()`` returns, per class and over all pairs,
    the means of these four and the number of pairs. The sums and means are those of
    `invtransfer.metrics.pairs`, the accumulator `InvarianceMetric` and `invariance_curve`
    share, so all three report the same numbers for the same pairs.

    With torchmetrics installed, `InvarianceMetric` is the same measurement as a real
    ``torchmetrics.Metric`` (``forward``, ``merge_state``, ``MetricCollection``, Lightning's
    ``self.log``), one scalar or per-class tensor per metric; the meter returns all four
    statistics at once and needs nothing beyond torch.

    Every mean is over *pairs*: a clean image updated with ``k`` transforms counts ``k``
    times in its class's accuracy and confidence as well as in its divergence. A class with no
    pairs has NaN means and a count of 0.

    The state is one float64 buffer ``sums`` of shape ``(5, num_classes)`` (the rows of
    ``STATISTICS``, then the pair count); it moves with ``.to(device)``, stays float64 when
    the module is cast to another dtype, and is saved in the ``state_dict``. Inputs on another
    device are accepted; their sums are moved to the buffer's device.

    Distributed: ``compute()`` sums the state over all ranks when ``torch.distributed`` is
    initialised (a collective: call it on every rank, with the buffer on a device the backend
    supports, CUDA for NCCL) and leaves the local state as it was. Each pair should be
    updated on one rank only; the padding of ``DistributedSampler`` repeats a few examples.

    Args:
        num_classes: the number of classes ``C``; logits are ``(N, C)``.
        divergence: one of ``invtransfer.metrics.measures.DIVERGENCES``.

    Examples:
        >>> meter = InvarianceMeter(num_classes=3)
        >>> clean = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
        >>> targets = torch.tensor([0, 1, 1])
        >>> meter.update(clean, clean, targets)  # an identity transform
        >>> meter.update(clean, clean.roll(1, dims=1), targets)  # one that moves every argmax
        >>> result = meter.compute()
        >>> result["count"].tolist(), result["consistency"].tolist(), result["accuracy"].tolist()
        ([2, 4, 0], [0.5, 0.5, nan], [1.0, 0.5, nan])
        >>> round(result["overall_consistency"].item(), 4)
        0.5
        >>> meter.reset()
        >>> int(meter.compute()["overall_count"])
        0
    """

    sums: Tensor

    def __init__(self, num_classes: int, divergence: str = "kl") -> None:
        super().__init__()
        one_of("divergence", divergence, DIVERGENCES)
        self.num_classes = positive_int("num_classes", num_classes)
        self.divergence = divergence
        kinds = {kind: name for name, kind in DIVERGENCE_KINDS.items()}
        self._statistics = (kinds[divergence], *STATISTICS[1:])
        shape = (len(STATISTICS) + 1, num_classes)
        self.register_buffer("sums", torch.zeros(shape, dtype=torch.float64))

    @torch.no_grad()
    def update(
        self, clean_logits: Tensor, transformed_logits: Tensor, targets: Tensor | Sequence[int]
    ) -> None:
        """Add a batch of pairs: logits ``(N, C)`` on clean and transformed images, and the
        clean images' classes ``(N,)``.

        Examples:
            >>> meter = InvarianceMeter(2)
            >>> meter.update(torch.zeros(3, 2), torch.zeros(3, 2), torch.tensor([0, 1, 1]))
            >>> meter.compute()["count"].tolist()
            [1, 2]
        """
        target = check_pairs(clean_logits, transformed_logits, targets, self.num_classes)
        statistics = pair_statistics(clean_logits, transformed_logits, target, self._statistics)
        add_pairs(self.sums, statistics, target)

    def compute(self, sync: bool = True) -> dict[str, Tensor]:
        """Means per class and over all pairs, summed over ranks when distributed.

        Returns float64 tensors: ``divergence``, ``consistency``, ``accuracy`` and
        ``confidence`` of shape ``(C,)`` (NaN for a class without pairs), the int64 pair
        ``count`` per class, and ``overall_<name>`` for each: 0-d means over all pairs (NaN
        when there are none) and the total ``overall_count``. ``sync=False`` skips the
        all-reduce and reports this rank's pairs only.

        Examples:
            >>> meter = InvarianceMeter(2, divergence="js")
            >>> meter.update(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), [0])
            >>> meter.compute()["divergence"].tolist()
            [0.0, nan]
        """
        sums = self.sums.clone()
        if sync and rank_and_world()[1] > 1:
            dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        totals = sums.sum(1)
        result = dict(zip(STATISTICS, group_means(sums), strict=True))
        result |= {
            f"overall_{name}": mean
            for name, mean in zip(STATISTICS, group_means(totals), strict=True)
        }
        result["count"] = sums[-1].round().to(torch.int64)
        result["overall_count"] = totals[-1].round().to(torch.int64)
        return result

    def reset(self) -> None:
        """Forget every pair.

        Examples:
            >>> meter = InvarianceMeter(2)
            >>> meter.update(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([1]))
            >>> meter.reset()
            >>> meter.compute()["count"].tolist()
            [0, 0]
        """
        self.sums.zero_()

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, divergence={self.divergence!r}"

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> InvarianceMeter:
        """Move the state as ``fn`` says, but keep it float64 (``.half()`` would ruin sums)."""
        sums = self.sums
        super()._apply(fn, recurse)
        if self.sums.dtype != torch.float64:
            self.sums = sums.to(device=self.sums.device, dtype=torch.float64)
        return self
