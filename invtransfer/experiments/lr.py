"""The paper's learning-rate schedule: a linear warm-up, then step decay at milestones."""

from __future__ import annotations

from collections.abc import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from invtransfer._validation import finite_float, instance, non_negative_int

__all__ = ["lr_factor", "warmup_step_lr"]


def lr_factor(epoch: int, warmup_epochs: int, milestones: Sequence[int], gamma: float) -> float:
    """The multiple of the base learning rate used in ``epoch`` (counting from 0).

    ``(epoch + 1) / warmup_epochs`` during the warm-up, then ``gamma ** k`` after ``k``
    milestones have passed (the paper: lr 0.1, 5 warm-up epochs, x0.01 at each of two steps).

    Examples:
        >>> [lr_factor(e, 5, [30, 40], 0.01) for e in (0, 4, 29, 30, 40)]
        [0.2, 1.0, 1.0, 0.01, 0.0001]
    """
    non_negative_int("epoch", epoch)
    _check_schedule(warmup_epochs, milestones, gamma)
    if epoch < warmup_epochs:
        return (epoch + 1) / warmup_epochs
    return gamma ** sum(epoch >= milestone for milestone in milestones)


def warmup_step_lr(
    optimizer: Optimizer,
    warmup_epochs: int = 5,
    milestones: Sequence[int] = (160, 180),
    gamma: float = 0.01,
) -> LambdaLR:
    """`lr_factor` as a scheduler; call ``step()`` once per epoch, after the epoch.

    Examples:
        >>> import torch
        >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> schedule = warmup_step_lr(optimizer, warmup_epochs=2, milestones=[3])
        >>> rates = []
        >>> for epoch in range(4):
        ...     rates.append(round(optimizer.param_groups[0]["lr"], 6))
        ...     optimizer.step(); schedule.step()
        >>> rates
        [0.05, 0.1, 0.1, 0.001]
    """
    instance("optimizer", optimizer, Optimizer)
    _check_schedule(warmup_epochs, milestones, gamma)
    return LambdaLR(optimizer, lambda epoch: lr_factor(epoch, warmup_epochs, milestones, gamma))


def _check_schedule(warmup_epochs: int, milestones: Sequence[int], gamma: float) -> None:
    non_negative_int("warmup_epochs", warmup_epochs)
    for milestone in instance("milestones", milestones, (list, tuple)):
        non_negative_int("milestones", milestone)
    if list(milestones) != sorted(milestones) or any(m < warmup_epochs for m in milestones):
        raise ValueError(
            f"milestones: expected increasing epochs from warmup_epochs={warmup_epochs} on, "
            f"received {list(milestones)}"
        )
    finite_float("gamma", gamma, 0, 1, open_low=True)
