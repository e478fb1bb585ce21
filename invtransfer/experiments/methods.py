"""The paper's long-tail methods by name: how batches are drawn and which loss is minimised.

A method is a loss plus a sampling schedule (the power ``q`` of ``n_c ** q`` per epoch, or
plain shuffling), and optionally GIT on top. Deferred methods (DRS, DRW, LDAM-DRW) switch at
``defer_epoch``, the first learning-rate step in the paper; GIT starts there too. Until then
CE+DRS and the GIT variants of CE and CE+DRS train exactly as plain CE (ERM) does, so a runner
can start them from ERM's checkpoint at ``defer_epoch`` instead of training those epochs again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from invtransfer._validation import non_negative_int
from invtransfer.labels import check_class_counts
from invtransfer.losses import (
    BalancedSoftmaxLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedCrossEntropy,
)
from invtransfer.sampling import Constant, Deferred, Schedule

__all__ = ["METHODS", "GIT_SUFFIX", "MethodParts", "method_parts"]

GIT_SUFFIX = "+git"
"""Appended to a method's name (``"ce_drs+git"``) to add generative invariance transfer."""

Counts = Sequence[int] | Tensor
_Recipe = Callable[[Counts, int], tuple[nn.Module, Schedule | None]]

METHODS: dict[str, _Recipe] = {
    "ce": lambda counts, defer: (nn.CrossEntropyLoss(), None),
    "ce_rs": lambda counts, defer: (nn.CrossEntropyLoss(), Constant(0.0)),
    "ce_rw": lambda counts, defer: (WeightedCrossEntropy(counts, beta=0.9999), None),
    "ce_drs": lambda counts, defer: (nn.CrossEntropyLoss(), Deferred(defer, 1.0, 0.0)),
    "ce_drw": lambda counts, defer: (
        WeightedCrossEntropy(counts, beta=0.9999, schedule=Deferred(defer, 0.0, 1.0)),
        None,
    ),
    "ldam_drw": lambda counts, defer: (
        LDAMLoss(counts, max_m=0.5, s=30.0, schedule=Deferred(defer, 0.0, 1.0)),
        None,
    ),
    "focal": lambda counts, defer: (FocalLoss(gamma=1.0), None),
    "logit_adjustment": lambda counts, defer: (LogitAdjustedLoss(counts, tau=1.0), None),
    "balanced_softmax": lambda counts, defer: (BalancedSoftmaxLoss(counts), None),
}
"""Each method's loss and sampling power schedule, with the paper's settings: RW and DRW
use effective-number weights (beta 0.9999), LDAM a largest margin of 0.5 and scale 30,
focal gamma 1, logit adjustment tau 1; RS and DRS draw class-balanced batches (q = 0)."""

_ERM_UNTIL_DEFER = frozenset({"ce", "ce_drs"})
"""Methods whose loss and batches equal plain CE's before ``defer_epoch``. DRW is not among
them: its weights are all 1 then, but the weighted loss rounds differently."""


@dataclass(frozen=True)
class MethodParts:
    """What a method needs in a training loop."""

    loss: nn.Module
    """The criterion; call ``loss.set_epoch(epoch)`` each epoch if it has one (DRW)."""
    sampling_power: Schedule | None
    """The power ``q`` of a `ClassBalancedSampler` per epoch, or ``None`` for plain
    shuffling."""
    git: bool
    """Whether to add `GenerativeAugment` (starting at ``defer_epoch``)."""
    erm_until_defer: bool
    """Whether the method trains bit for bit as plain CE until ``defer_epoch``: the same
    loss, a plain shuffle (instance-balanced epochs are shuffles) and no GIT yet."""


def method_parts(name: str, class_counts: Counts, defer_epoch: int) -> MethodParts:
    """The loss, sampling schedule and GIT flag of the method called ``name``.

    Examples:
        >>> parts = method_parts("ce_drs+git", [100, 10], defer_epoch=30)
        >>> parts.sampling_power(29), parts.sampling_power(30), parts.git, parts.erm_until_defer
        (1.0, 0.0, True, True)
        >>> type(method_parts("ldam_drw", [100, 10], 30).loss).__name__
        'LDAMLoss'
    """
    base, git = (name[: -len(GIT_SUFFIX)], True) if name.endswith(GIT_SUFFIX) else (name, False)
    if base not in METHODS:
        raise ValueError(
            f"method: expected one of {sorted(METHODS)}, optionally with {GIT_SUFFIX!r}, "
            f"received {name!r}"
        )
    non_negative_int("defer_epoch", defer_epoch)
    loss, power = METHODS[base](check_class_counts(class_counts, "class_counts"), defer_epoch)
    return MethodParts(loss, power, git, base in _ERM_UNTIL_DEFER)
