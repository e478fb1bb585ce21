"""A short, plain training loop for quick baselines on in-memory images."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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
        generator: the shuffling's only source of randomness.

    Examples:
        >>> from invtransfer.models import small_cnn
        >>> model = small_cnn(num_classes=2)
        >>> images, labels = torch.rand(16, 1, 28, 28), torch.arange(16) % 2
        >>> losses = train_classifier(model, images, labels, epochs=2, batch_size=8)
        >>> len(losses)
        2
    """
    x = images.float() / 255 if images.dtype == torch.uint8 else images
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    model.train()
    history = []
    for epoch in range(epochs):
        total = 0.0
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            loss = F.cross_entropy(model(x[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        history.append(total / len(x))
        log.info("epoch %d/%d  train loss %.4f", epoch + 1, epochs, history[-1])
    return history
