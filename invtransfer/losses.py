"""Long-tail losses: class reweighting (with deferred re-weighting), focal, class-balanced,
LDAM margins, logit adjustment and balanced softmax.

Every loss is an ``nn.Module`` called as ``loss(logits, target)``, with ``logits`` a float
tensor of shape ``(N, C)`` and ``target`` an integer tensor of shape ``(N,)`` holding class ids
in ``[0, C)`` or ``ignore_index``. Conventions shared by all of them:

- ``reduction="none"`` gives one loss per sample (0 for ignored samples), ``"sum"`` their sum,
  ``"mean"`` their mean over the non-ignored samples. A weighted loss follows
  ``torch.nn.functional.cross_entropy``: the mean is ``sum(w_i * l_i) / sum(w_i)``, where
  ``w_i`` is the weight of sample ``i``'s class (1 for an unweighted loss). A batch in which
  every sample is ignored has loss 0, not NaN.
- Class counts are a persistent buffer ``class_counts`` (int64), so they follow ``.to(device)``
  and the ``state_dict``, as do the quantities derived from them (weights, margins, priors).
- An empty class (count 0) is an error unless ``empty="as_one"``, which treats it as having
  one example so that weights, margins and priors stay finite.
- A ``schedule`` (for deferred re-weighting) is read in ``set_epoch(epoch)``, never in
  ``forward``: call ``set_epoch`` at the start of every epoch, including after resuming.

Logit adjustment: train with `LogitAdjustedLoss` (or `BalancedSoftmaxLoss`), or
correct a plainly trained model with `adjust_logits`; never both.

Examples:
    >>> from invtransfer.sampling import Deferred
    >>> loss = LDAMLoss([500, 50, 5], schedule=Deferred(160, before=0.0, after=1.0))
    >>> loss.set_epoch(160)  # at the start of every epoch: LDAM-DRW from here on
    >>> loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 2])).shape
    torch.Size([])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invtransfer._validation import as_tensor
from invtransfer.labels import check_class_counts
from invtransfer.sampling.schedules import Constant, Schedule, as_schedule
from invtransfer.sampling.weights import class_weights

__all__ = [
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "NonFiniteLossError",
    "WeightedCrossEntropy",
    "adjust_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite: training stopped before the update (MUNIT,
    `~invtransfer.models.train_classifier`) or the checkpoint (an experiment's epoch) that
    would have kept it in the weights. The command line reports it as one line, like a bad
    setting."""


_EMPTY_POLICIES = ("error", "as_one")
_LOSS_TYPES = ("softmax", "sigmoid", "focal")


class _Loss(nn.Module):
    """Shared by every loss: reduction, ignore_index and the checks of the inputs."""

    reductions: tuple[str, ...] = _REDUCTIONS
    """The ``reduction`` settings the loss accepts."""

    def __init__(self, reduction: str, ignore_index: int) -> None:
        super().__init__()
        if reduction not in self.reductions:
            raise ValueError(
                f"reduction: expected one of {self.reductions}, received {reduction!r}"
            )
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise TypeError(f"ignore_index: expected an int, received {ignore_index!r}")
        self.reduction, self.ignore_index = reduction, ignore_index

    @property
    def num_classes(self) -> int | None:
        """The number of classes the logits must have, or ``None`` for any number."""
        return None

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """The loss of ``logits`` ``(N, C)`` against ``target`` ``(N,)``, reduced."""
        target = _check_inputs(logits, target, self.num_classes, self.ignore_index)
        return self._loss(logits, target)

    def _loss(self, logits: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError


class _CountsLoss(_Loss):
    """A loss built from class counts, kept as the persistent buffer ``class_counts``."""

    class_counts: Tensor

    def __init__(
        self, class_counts: Sequence[int] | Tensor, reduction: str, ignore_index: int, empty: str
    ) -> None:
        super().__init__(reduction, ignore_index)
        self.register_buffer("class_counts", _checked_counts(class_counts, empty))

    @property
    def num_classes(self) -> int:
        """The number of classes: the length of ``class_counts``."""
        return len(self.class_counts)


class _ScheduledWeights(_CountsLoss):
    """Per-class weights ``w_c`` applied with a strength ``s`` that a schedule sets per epoch:
    the weight of class ``c`` is ``(1 - s) + s * w_c``."""

    class_weight: Tensor

    def __init__(
        self,
        class_counts: Sequence[int] | Tensor,
        method: str,
        beta: float,
        schedule: float | Schedule | None,
        default_strength: float,
        reduction: str,
        ignore_index: int,
        empty: str,
    ) -> None:
        super().__init__(class_counts, reduction, ignore_index, empty)
        self.method, self.beta = method, beta
        self.register_buffer("class_weight", class_weights(self.class_counts, method, beta))
        schedule = as_schedule(schedule, "schedule")
        self.schedule = Constant(default_strength) if schedule is None else schedule
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Set the weighting strength to ``schedule(epoch)``; call it at the start of every
        epoch (the loss never advances on its own)."""
        strength = self.schedule(epoch)
        if not 0 <= strength <= 1:
            raise ValueError(
                f"schedule: expected a strength in [0, 1], received {strength!r} at epoch {epoch}"
            )
        self.strength = strength

    def _weight(self, logits: Tensor) -> Tensor:
        weight = self.class_weight.to(device=logits.device, dtype=logits.dtype)
        return (1 - self.strength) + self.strength * weight


class WeightedCrossEntropy(_ScheduledWeights):
    """Cross-entropy with per-class weights from `invtransfer.sampling.class_weights`,
    optionally switched on by a schedule (deferred re-weighting, DRW, Cao et al. 2019).

    The weight of class ``c`` is ``(1 - s) + s * w_c``, where ``s = schedule(epoch)`` in
    [0, 1] is set by `set_epoch`: ``schedule=Deferred(160, before=0.0, after=1.0)`` is
    DRW; ``schedule=None`` means ``s = 1`` throughout. The mean is the weighted mean
    ``sum(w_i * l_i) / sum(w_i)``, as in ``torch.nn.functional.cross_entropy``.

    Args:
        class_counts: training examples per class, a 1-D integer sequence.
        method: the weighting method of ``class_weights`` (``"inverse"``, ``"inverse_sqrt"``
            or ``"effective_number"``); weights are normalised to sum to the number of classes.
        beta: the effective-number ``beta``.
        schedule: the strength ``s`` per epoch: a `invtransfer.sampling.Schedule`, a
            number, or ``None`` (always 1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value whose samples are left out.
        label_smoothing: as in ``torch.nn.functional.cross_entropy``.
        empty: ``"error"`` (an empty class is a ``ValueError``) or ``"as_one"``.

    Examples:
        >>> from invtransfer.sampling import Deferred
        >>> loss = WeightedCrossEntropy([100, 10, 1], schedule=Deferred(2, before=0.0, after=1.0))
        >>> logits, target = torch.tensor([[2.0, 0.0, 0.0], [2.0, 0.0, 0.0]]), torch.tensor([0, 2])
        >>> round(loss(logits, target).item(), 4)  # epoch 0: unweighted
        1.2395
        >>> loss.set_epoch(2)
        >>> round(loss(logits, target).item(), 4)  # the rare class 2 now dominates
        2.2196
    """

    def __init__(
        self,
        class_counts: Sequence[int] | Tensor,
        method: str = "effective_number",
        beta: float = 0.9999,
        schedule: float | Schedule | None = None,
        reduction: str = "mean",
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        empty: str = "error",
    ) -> None:
        super().__init__(class_counts, method, beta, schedule, 1.0, reduction, ignore_index, empty)
        self.label_smoothing = _check_range("label_smoothing", label_smoothing, 0.0, 1.0)

    def _loss(self, logits: Tensor, target: Tensor) -> Tensor:
        return _cross_entropy(
            logits,
            target,
            self._weight(logits),
            self.reduction,
            self.ignore_index,
            self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, method={self.method!r}, beta={self.beta}, "
            f"schedule={self.schedule!r}, label_smoothing={self.label_smoothing}, " + _repr(self)
        )


class FocalLoss(_Loss):
    """Softmax focal loss (Lin et al. 2017): ``-alpha_y * (1 - p_y) ** gamma * log p_y``.

    ``gamma = 0`` without ``alpha`` is plain cross-entropy; larger ``gamma`` down-weights
    well-classified samples. ``alpha`` weighs classes, and the mean is the weighted mean
    ``sum(alpha_i * l_i) / sum(alpha_i)`` as in ``torch.nn.functional.cross_entropy`` (so a
    constant ``alpha`` cancels out of the mean). Computed from ``log_softmax``, so large
    logits stay finite.

    Args:
        gamma: the focusing parameter, ``>= 0``.
        alpha: one non-negative weight per class, or ``None`` (all 1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value whose samples are left out.

    Examples:
        >>> loss = FocalLoss(gamma=2.0, reduction="none")
        >>> loss(torch.tensor([[3.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 0]))
        tensor([1.0928e-04, 1.7329e-01])
    """

    alpha: Tensor | None

    def __init__(
        self,
        gamma: float = 1.0,
        alpha: Sequence[float] | Tensor | None = None,
        reduction: str = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__(reduction, ignore_index)
        self.gamma = _check_range("gamma", gamma, 0.0, math.inf)
        self.register_buffer("alpha", None if alpha is None else _checked_alpha(alpha))

    @property
    def num_classes(self) -> int | None:
        """The length of ``alpha``, or ``None`` (any number of classes) without it."""
        return None if self.alpha is None else len(self.alpha)

    def _loss(self, logits: Tensor, target: Tensor) -> Tensor:
        safe, valid = _safe_target(target, self.ignore_index)
        log_p = F.log_softmax(logits, dim=1).gather(1, safe[:, None]).squeeze(1)
        # 1 - p from expm1 for accuracy; clamped so that d/dp (1 - p) ** gamma stays finite.
        one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
        losses = -(one_minus_p**self.gamma) * log_p
        weight = None if self.alpha is None else self.alpha.to(logits)
        sample_weight = _sample_weight(safe, valid, weight, logits)
        return _reduce(losses * sample_weight, sample_weight, self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, " + _repr(self)


class ClassBalancedLoss(_CountsLoss):
    """Class-balanced loss (Cui et al. 2019): each sample's loss weighted by its class's
    inverse effective number ``(1 - beta) / (1 - beta ** n_c)``, normalised to sum to ``C``.

    ``loss_type`` picks the per-sample loss: ``"softmax"`` (cross-entropy), ``"sigmoid"``
    (one-vs-all binary cross-entropy with logits, summed over the ``C`` classes) or ``"focal"``
    (the sigmoid focal loss ``-(1 - p_t) ** gamma * log p_t``, summed over the classes).

    Two means: ``reduction="mean"`` (the default) is the weighted mean
    ``sum(w_i * l_i) / sum(w_i)``, as ``torch.nn.functional.cross_entropy`` takes it with class
    weights; ``"batch_mean"`` is Cui et al.'s ``sum(w_i * l_i) / N`` over the ``N``
    non-ignored samples, whose scale moves with the batch's class mix (a batch of tail
    samples weighs more).

    Args:
        class_counts: training examples per class (the whole training set, not one batch).
        beta: the effective-number ``beta``, in [0, 1).
        loss_type: ``"softmax"``, ``"sigmoid"`` or ``"focal"``.
        gamma: the focusing parameter of ``"focal"``, ``>= 0``.
        reduction: ``"mean"`` (weighted), ``"batch_mean"`` (Cui et al.'s), ``"sum"`` or
            ``"none"``.
        ignore_index: a target value whose samples are left out.
        empty: ``"error"`` (an empty class is a ``ValueError``) or ``"as_one"``.

    Examples:
        >>> loss = ClassBalancedLoss([1000, 10], beta=0.999, loss_type="focal", gamma=2.0)
        >>> loss.class_weight
        tensor([0.0310, 1.9690])
        >>> round(loss(torch.zeros(2, 2), torch.tensor([0, 1])).item(), 4)
        0.3466
        >>> cui = ClassBalancedLoss([1000, 10], beta=0.999, reduction="batch_mean")
        >>> round(cui(torch.zeros(2, 2), torch.tensor([1, 1])).item(), 4)  # 1.969 * log 2
        1.3648
    """

    class_weight: Tensor
    reductions = (*_REDUCTIONS, "batch_mean")

    def __init__(
        self,
        class_counts: Sequence[int] | Tensor,
        beta: float = 0.9999,
        loss_type: str = "softmax",
        gamma: float = 1.0,
        reduction: str = "mean",
        ignore_index: int = -100,
        empty: str = "error",
    ) -> None:
        super().__init__(class_counts, reduction, ignore_index, empty)
        if loss_type not in _LOSS_TYPES:
            raise ValueError(f"loss_type: expected one of {_LOSS_TYPES}, received {loss_type!r}")
        self.beta, self.loss_type = beta, loss_type
        self.gamma = _check_range("gamma", gamma, 0.0, math.inf)
        self.register_buffer(
            "class_weight", class_weights(self.class_counts, "effective_number", beta)
        )

    def _loss(self, logits: Tensor, target: Tensor) -> Tensor:
        weight = self.class_weight.to(logits)
        reduction = "none" if self.reduction == "batch_mean" else self.reduction
        safe, valid = _safe_target(target, self.ignore_index)
        if self.loss_type == "softmax":
            losses = _cross_entropy(logits, target, weight, reduction, self.ignore_index)
        else:
            one_hot = F.one_hot(safe, logits.shape[1]).to(logits.dtype)
            if self.loss_type == "sigmoid":
                per_class = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none")
            else:
                per_class = _sigmoid_focal(logits, one_hot, self.gamma)
            sample_weight = _sample_weight(safe, valid, weight, logits)
            losses = _reduce(per_class.sum(1) * sample_weight, sample_weight, reduction)
        if self.reduction != "batch_mean":
            return losses
        return losses.sum() / valid.sum().clamp_min(1)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, beta={self.beta}, loss_type={self.loss_type!r}, "
            f"gamma={self.gamma}, " + _repr(self)
        )


class LDAMLoss(_ScheduledWeights):
    """Label-distribution-aware margin loss (Cao et al. 2019), optionally with deferred
    re-weighting (LDAM-DRW).

    Class ``c`` gets a margin ``m_c`` proportional to ``n_c ** (-1/4)``, rescaled so that the
    largest margin is ``max_m``. The target logit is lowered by its class's margin, all logits
    are multiplied by ``s``, and the result goes into cross-entropy, weighted per class as in
    `WeightedCrossEntropy` with effective-number weights: ``(1 - t) + t * w_c`` with
    ``t = schedule(epoch)`` (``Deferred(160, before=0.0, after=1.0)`` is LDAM-DRW). Without a
    schedule the loss is unweighted.

    Args:
        class_counts: training examples per class.
        max_m: the largest margin, ``> 0``.
        s: the logit scale, ``> 0``.
        schedule: the weighting strength per epoch, a schedule, a number, or ``None`` (0).
        beta: the effective-number ``beta`` of the weights.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value whose samples are left out.
        empty: ``"error"`` (an empty class is a ``ValueError``) or ``"as_one"``.

    Examples:
        >>> loss = LDAMLoss([10000, 625], max_m=0.5, s=30.0)
        >>> loss.margin.tolist()
        [0.25, 0.5]
        >>> round(loss(torch.zeros(1, 2), torch.tensor([1])).item(), 4)  # log(1 + e^15)
        15.0
    """

    margin: Tensor

    def __init__(
        self,
        class_counts: Sequence[int] | Tensor,
        max_m: float = 0.5,
        s: float = 30.0,
        schedule: float | Schedule | None = None,
        beta: float = 0.9999,
        reduction: str = "mean",
        ignore_index: int = -100,
        empty: str = "error",
    ) -> None:
        super().__init__(
            class_counts, "effective_number", beta, schedule, 0.0, reduction, ignore_index, empty
        )
        self.max_m = _check_range("max_m", max_m, 0.0, math.inf, low_open=True)
        self.s = _check_range("s", s, 0.0, math.inf, low_open=True)
        margin = self.class_counts.to(torch.float64).pow(-0.25)
        self.register_buffer("margin", (margin * (self.max_m / margin.max())).to(torch.float32))

    def _loss(self, logits: Tensor, target: Tensor) -> Tensor:
        safe, _ = _safe_target(target, self.ignore_index)
        margin = self.margin.to(logits)[safe]
        adjusted = logits.scatter_add(1, safe[:, None], -margin[:, None])
        return _cross_entropy(
            self.s * adjusted, target, self._weight(logits), self.reduction, self.ignore_index
        )

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, max_m={self.max_m}, s={self.s}, beta={self.beta}, "
            f"schedule={self.schedule!r}, " + _repr(self)
        )


class LogitAdjustedLoss(_CountsLoss):
    """Logit-adjusted cross-entropy (Menon et al. 2021): cross-entropy on
    ``logits + tau * log(prior)``, with ``prior = class_counts / class_counts.sum()``.

    A model trained with this loss already predicts balanced classes from its raw logits: use
    them as they are at test time. The alternative is to train with plain cross-entropy and
    correct the logits after training with `adjust_logits`. Do one or the other, never
    both (that would subtract the prior twice).

    Args:
        class_counts: training examples per class.
        tau: the strength of the adjustment, ``>= 0`` (0 is plain cross-entropy).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value whose samples are left out.
        empty: ``"error"`` (an empty class is a ``ValueError``) or ``"as_one"``.

    Examples:
        >>> loss = LogitAdjustedLoss([3, 1], tau=1.0)
        >>> round(loss(torch.zeros(1, 2), torch.tensor([1])).item(), 4)  # -log(1/4)
        1.3863
    """

    log_prior: Tensor

    def __init__(
        self,
        class_counts: Sequence[int] | Tensor,
        tau: float = 1.0,
        reduction: str = "mean",
        ignore_index: int = -100,
        empty: str = "error",
    ) -> None:
        super().__init__(class_counts, reduction, ignore_index, empty)
        self.tau = _check_range("tau", tau, 0.0, math.inf)
        self.register_buffer("log_prior", _log_prior(self.class_counts))

    def _loss(self, logits: Tensor, target: Tensor) -> Tensor:
        adjusted = logits + self.tau * self.log_prior.to(logits)
        return _cross_entropy(adjusted, target, None, self.reduction, self.ignore_index)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, tau={self.tau}, " + _repr(self)


class BalancedSoftmaxLoss(LogitAdjustedLoss):
    """Balanced softmax (Ren et al. 2020): `LogitAdjustedLoss` with ``tau = 1``, that
    is cross-entropy on ``logits + log(n_c)``. Use the raw logits at test time; do not also
    apply `adjust_logits`.

    Args:
        class_counts: training examples per class.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value whose samples are left out.
        empty: ``"error"`` (an empty class is a ``ValueError``) or ``"as_one"``.

    Examples:
        >>> loss = BalancedSoftmaxLoss([3, 1])
        >>> round(loss(torch.zeros(1, 2), torch.tensor([0])).item(), 4)  # -log(3/4)
        0.2877
    """

    def __init__(
        self,
        class_counts: Sequence[int] | Tensor,
        reduction: str = "mean",
        ignore_index: int = -100,
        empty: str = "error",
    ) -> None:
        super().__init__(class_counts, 1.0, reduction, ignore_index, empty)


def adjust_logits(
    logits: Tensor, class_counts: Sequence[int] | Tensor, tau: float = 1.0, *, empty: str = "error"
) -> Tensor:
    """Post-hoc logit adjustment (Menon et al. 2021): ``logits - tau * log(prior)``, with
    ``prior = class_counts / class_counts.sum()``, for a model trained with plain
    cross-entropy on long-tailed data.

    Use it on a plainly trained model only: a model trained with `LogitAdjustedLoss` or
    `BalancedSoftmaxLoss` is already adjusted, and adjusting again over-corrects.

    Args:
        logits: a float tensor ``(..., C)``.
        class_counts: training examples per class, length ``C``.
        tau: the strength of the adjustment, ``>= 0``.
        empty: ``"error"`` (an empty class is a ``ValueError``) or ``"as_one"``.

    Examples:
        >>> adjust_logits(torch.zeros(1, 2), [3, 1]).argmax(1).tolist()  # the rare class wins
        [1]
        >>> adjust_logits(torch.zeros(1, 2), [3, 1])  # minus log(3/4) and log(1/4)
        tensor([[0.2877, 1.3863]])
    """
    counts = _checked_counts(class_counts, empty)
    tau = _check_range("tau", tau, 0.0, math.inf)
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits: expected a float tensor (..., C), received {_describe(logits)}")
    log_prior = _log_prior(counts, logits.dtype).to(logits.device)
    if logits.ndim == 0 or logits.shape[-1] != len(log_prior):
        raise ValueError(
            f"logits: expected shape (..., {len(log_prior)}) to match class_counts, "
            f"received {tuple(logits.shape)}"
        )
    return logits - tau * log_prior


def _checked_counts(class_counts: Sequence[int] | Tensor, empty: str) -> Tensor:
    """Validated int64 class counts after the empty-class policy (the one place counts are
    checked): zero counts raise under ``"error"`` and become 1 under ``"as_one"``."""
    if empty not in _EMPTY_POLICIES:
        raise ValueError(f"empty: expected one of {_EMPTY_POLICIES}, received {empty!r}")
    counts = as_tensor("class_counts", class_counts, "a 1-D sequence of integer class counts")
    if counts.ndim == 1 and not (counts.is_floating_point() or counts.is_complex()):
        zero = counts == 0
        if empty == "error" and bool(zero.any()):
            raise ValueError(
                f"class_counts: expected every class to have at least 1 example, received 0 "
                f"for classes {zero.nonzero().flatten().tolist()}; pass empty='as_one' to "
                "treat an empty class as having one example"
            )
        counts = torch.where(zero, torch.ones_like(counts), counts)
    return check_class_counts(counts, "class_counts").clone()


def _checked_alpha(alpha: Sequence[float] | Tensor) -> Tensor:
    tensor = as_tensor("alpha", alpha, "real per-class weights")
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"alpha: expected real per-class weights, received dtype {tensor.dtype}")
    tensor = tensor.detach().to(torch.float32).clone()
    if tensor.ndim != 1 or len(tensor) == 0:
        raise ValueError(
            f"alpha: expected one weight per class (1-D), received shape {tuple(tensor.shape)}"
        )
    if not bool(torch.isfinite(tensor).all()) or bool((tensor < 0).any()):
        raise ValueError(f"alpha: expected finite weights >= 0, received {tensor.tolist()}")
    return tensor


def _log_prior(counts: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    counts = counts.to(torch.float64)
    return (counts / counts.sum()).log().to(dtype)


def _check_inputs(logits: Tensor, target: Tensor, num_classes: int | None, ignore: int) -> Tensor:
    """Check ``logits`` ``(N, C)`` and ``target`` ``(N,)``; return ``target`` as int64."""
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits: expected a float tensor (N, C), received {_describe(logits)}")
    if logits.ndim != 2 or (num_classes is not None and logits.shape[1] != num_classes):
        expected = "(N, C)" if num_classes is None else f"(N, {num_classes}), one per class"
        raise ValueError(f"logits: expected shape {expected}, received {tuple(logits.shape)}")
    if not isinstance(target, Tensor) or target.is_floating_point() or target.is_complex():
        raise TypeError(f"target: expected an integer tensor (N,), received {_describe(target)}")
    if target.dtype == torch.bool:
        raise TypeError("target: expected an integer tensor (N,), received dtype torch.bool")
    if tuple(target.shape) != (len(logits),):
        raise ValueError(
            f"target: expected shape ({len(logits)},), one per row of logits, "
            f"received {tuple(target.shape)}"
        )
    classes = logits.shape[1]
    bad = ((target < 0) | (target >= classes)) & (target != ignore)
    if bool(bad.any()):
        raise ValueError(
            f"target: expected class ids in [0, {classes}) or ignore_index ({ignore}), "
            f"received {target[bad].unique().tolist()}"
        )
    return target.long()


def _describe(value: object) -> str:
    return f"dtype {value.dtype}" if isinstance(value, Tensor) else type(value).__name__


def _check_range(name: str, value: float, low: float, high: float, low_open: bool = False) -> float:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not (low < value if low_open else low <= value) or value > high:
        bounds = f"> {low}" if low_open else f">= {low}"
        expected = (
            f"a finite number {bounds}" if math.isinf(high) else f"a number in [{low}, {high}]"
        )
        raise ValueError(f"{name}: expected {expected}, received {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, received {value!r}")
    return float(value)


def _safe_target(target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor]:
    """Targets with ignored entries replaced by class 0 (safe to index with), and the mask of
    the samples that count."""
    valid = target != ignore_index
    return torch.where(valid, target, torch.zeros_like(target)), valid


def _sample_weight(safe: Tensor, valid: Tensor, weight: Tensor | None, like: Tensor) -> Tensor:
    """Each sample's class weight (1 without weights), 0 for ignored samples."""
    per_sample = valid.to(like.dtype)
    return per_sample if weight is None else weight[safe] * per_sample


def _reduce(losses: Tensor, sample_weight: Tensor, reduction: str) -> Tensor:
    """Reduce weighted per-sample losses; the mean divides by the total weight (0 if none)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / sample_weight.sum().clamp_min(torch.finfo(losses.dtype).tiny)


def _cross_entropy(
    logits: Tensor,
    target: Tensor,
    weight: Tensor | None,
    reduction: str,
    ignore_index: int,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy with per-class weights, ``reduction`` and ``ignore_index`` (the mean of
    ``F.cross_entropy``, except that an all-ignored batch gives 0 instead of NaN)."""
    losses = F.cross_entropy(
        logits,
        target,
        weight=weight,
        ignore_index=ignore_index,
        reduction="none",
        label_smoothing=label_smoothing,
    )
    safe, valid = _safe_target(target, ignore_index)
    return _reduce(losses, _sample_weight(safe, valid, weight, logits), reduction)


def _sigmoid_focal(logits: Tensor, one_hot: Tensor, gamma: float) -> Tensor:
    """Per-class sigmoid focal loss ``-(1 - p_t) ** gamma * log p_t`` with ``p_t = sigmoid(z_t)``,
    ``z_t = z`` for the target class and ``-z`` otherwise, from log-sigmoids (stable)."""
    z_t = logits * (2 * one_hot - 1)
    return -torch.exp(gamma * F.logsigmoid(-z_t)) * F.logsigmoid(z_t)


def _repr(loss: _Loss) -> str:
    return f"reduction={loss.reduction!r}, ignore_index={loss.ignore_index}"
