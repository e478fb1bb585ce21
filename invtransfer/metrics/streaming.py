"""Per-class invariance measured batch by batch inside a user's own evaluation loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from invtransfer.metrics.accuracy import _check_range as check_label_range
from invtransfer.metrics.accuracy import _labels as labels_tensor
from invtransfer.metrics.measures import DIVERGENCES, consistency
from invtransfer.metrics.measures import divergence as pair_divergence

__all__ = ["InvarianceMeter"]

STATISTICS = ("divergence", "consistency", "accuracy", "confidence")
"""The per-pair values an `InvarianceMeter` averages, in the rows of its ``sums``."""


class InvarianceMeter(nn.Module):
    """Accumulates per-class invariance over clean/transformed pairs, torchmetrics style.

    ``update(clean_logits, transformed_logits, targets)`` pairs row ``i`` of the clean logits
    with row ``i`` of the transformed ones; ``targets[i]`` is the class of the clean image.
    Per pair it adds up the divergence (``divergence`` as in
    `invtransfer.metrics.measures.divergence`; ``"kl"`` is the paper's eKLD),
    the prediction consistency, whether the clean prediction is correct and its confidence
    (the largest softmax probability). ``compute()`` returns, per class and over all pairs,
    the means of these four and the number of pairs.

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
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes: expected an int >= 1, received {num_classes!r}")
        if divergence not in DIVERGENCES:
            raise ValueError(f"divergence: expected one of {DIVERGENCES}, received {divergence!r}")
        self.num_classes = num_classes
        self.divergence = divergence
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
        target = self._check(clean_logits, transformed_logits, targets)
        clean, transformed = clean_logits.detach(), transformed_logits.detach()
        dtype = torch.float64 if clean.dtype == torch.float64 else torch.float32
        per_pair = [
            pair_divergence(clean, transformed, self.divergence),
            consistency(clean, transformed),
            clean.argmax(1) == target,
            F.log_softmax(clean.to(dtype), dim=1).amax(1).exp(),
            torch.ones_like(target),
        ]
        values = torch.stack([value.to(torch.float64) for value in per_pair])
        self.sums.index_add_(1, target.to(self.sums.device), values.to(self.sums.device))

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
        if sync and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        count, totals = sums[-1], sums.sum(1)
        result = {name: sums[row] / count for row, name in enumerate(STATISTICS)}
        result.update(
            {f"overall_{name}": totals[row] / totals[-1] for row, name in enumerate(STATISTICS)}
        )
        result["count"] = count.round().to(torch.int64)
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

    def _check(
        self, clean_logits: Tensor, transformed_logits: Tensor, targets: Tensor | Sequence[int]
    ) -> Tensor:
        """Validate a batch; return the targets as int64 on the logits' device."""
        _check_logits("clean_logits", clean_logits, self.num_classes)
        _check_logits("transformed_logits", transformed_logits, self.num_classes)
        if transformed_logits.shape != clean_logits.shape:
            raise ValueError(
                f"transformed_logits: expected the shape of clean_logits "
                f"{tuple(clean_logits.shape)}, received {tuple(transformed_logits.shape)}"
            )
        target = labels_tensor(targets, "targets", clean_logits.device)
        if len(target) != len(clean_logits):
            raise ValueError(
                f"targets: expected one label per pair ({len(clean_logits)}), "
                f"received {len(target)}"
            )
        check_label_range(target, self.num_classes, "targets")
        return target


def _check_logits(name: str, value: Tensor, num_classes: int) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected a tensor of logits, received {type(value).__name__}")
    if value.ndim != 2 or value.shape[1] != num_classes:
        raise ValueError(
            f"{name}: expected logits (N, num_classes={num_classes}), "
            f"received shape {tuple(value.shape)}"
        )
