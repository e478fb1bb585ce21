"""A short, plain training loop for quick baselines on in-memory images."""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invtransfer._seeding import os_seeded
from invtransfer._validation import (
    finite_float,
    finite_tensor,
    float_tensor,
    int_tensor,
    positive_int,
)
from invtransfer.losses import NonFiniteLossError

__all__ = ["train_classifier"]

log = logging.getLogger(__name__)


def train_classifier(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Plain cross-entropy (no re-balancing) with Adam and a cosine decay, on shuffled
    mini-batches drawn with ``generator``; returns the mean training loss of every epoch.

    Args:
        model: the classifier; it is left in training mode.
        images: ``uint8`` (scaled to [0, 1]) or float images ``(N, C, H, W)``.
        labels: ``(N,)`` class ids.
        epochs: passes over the data.
        batch_size: images per step.
        lr: Adam's learning rate, decayed to 0 by a cosine schedule.
        generator: the shuffling's only source of randomness; by default a fresh one seeded
            from the operating system (torch's global RNG is never read).

    Raises:
        TypeError, ValueError: a bad argument (the message names it).
        NonFiniteLossError: the loss became NaN or infinite (no update is made with it).

    Examples:
        >>> from invtransfer.models import small_cnn
        >>> model = small_cnn(num_classes=2)
        >>> images, labels = torch.rand(16, 1, 28, 28), torch.arange(16) % 2
        >>> losses = train_classifier(model, images, labels, epochs=2, batch_size=8)
        >>> len(losses)
        2
    """
    x, y = _checked_data(model, images, labels)
    positive_int("epochs", epochs)
    positive_int("batch_size", batch_size)
    finite_float("lr", lr, 0, open_low=True)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator: expected a torch.Generator or None, received {type(generator).__name__}"
        )
    generator = os_seeded() if generator is None else generator
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    model.train()
    history = []
    for epoch in range(epochs):
        total = 0.0
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            logits = model(x[batch])
            loss = F.cross_entropy(logits, _check_classes(y[batch], logits))
            if not math.isfinite(value := loss.item()):
                raise NonFiniteLossError(
                    f"epoch {epoch + 1}: the loss is not finite ({value}); stopped before the "
                    f"update, so the model keeps its last finite weights; a lower lr may help"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += value * len(batch)
        history.append(total / len(x))
        log.info("epoch %d/%d  train loss %.4f", epoch + 1, epochs, history[-1])
    return history


def _checked_data(model: object, images: object, labels: object) -> tuple[Tensor, Tensor]:
    """The images as floats (``uint8`` scaled to [0, 1]) and the labels, both checked."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, received {type(model).__name__}")
    if isinstance(images, Tensor) and images.dtype == torch.uint8:
        x = images.float() / 255
    else:
        x = finite_tensor("images", float_tensor("images", images))
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(
            f"images: expected a non-empty batch (N, C, H, W), received shape {tuple(x.shape)}"
        )
    y = int_tensor("labels", labels, ndim=1)
    if len(y) != len(x):
        raise ValueError(f"labels: expected one class id per image ({len(x)}), received {len(y)}")
    return x, y


def _check_classes(labels: Tensor, logits: Tensor) -> Tensor:
    """``labels`` if each is one of the model's classes."""
    low, high, classes = int(labels.min()), int(labels.max()), logits.shape[-1]
    if low < 0 or high >= classes:
        raise ValueError(
            f"labels: expected class ids in [0, {classes}) (the model's {classes} logits), "
            f"received ids in [{low}, {high}]"
        )
    return labels
