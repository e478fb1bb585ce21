"""Invariance measures on paired outputs: the model's output on ``x`` and on ``T(x)``.

Every function takes the outputs for clean inputs and for their transformed copies, row ``i``
of one paired with row ``i`` of the other, and returns one value per pair. Divergences are
computed from log-probabilities in float32 (or float64 if given), never from probabilities.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from invtransfer._validation import finite_float, finite_tensor, float_tensor, one_of

__all__ = [
    "DIVERGENCES",
    "consistency",
    "divergence",
    "ekld",
    "feature_distance",
    "random_pair_distance",
]

DIVERGENCES = ("kl", "symmetric_kl", "js")
"""The divergences `divergence` computes."""


def divergence(clean_logits: Tensor, transformed_logits: Tensor, kind: str = "kl") -> Tensor:
    """Per-pair divergence between the predictive distributions on ``x`` and on ``T(x)``.

    ``"kl"`` is ``KL(p(.|x) || p(.|T x))``, clean first, as the paper's eKLD; ``"symmetric_kl"``
    the mean of both directions; ``"js"`` the Jensen-Shannon divergence (bounded by log 2).

    Examples:
        >>> same = torch.tensor([[2.0, 0.0, -1.0]])
        >>> divergence(same, same).tolist()
        [0.0]
        >>> bool(divergence(same, same.flip(1), "js") <= torch.log(torch.tensor(2.0)))
        True
    """
    one_of("kind", kind, DIVERGENCES)
    clean, transformed = _paired_log_probs(clean_logits, transformed_logits)
    if kind == "kl":
        return _kl(clean, transformed)
    if kind == "symmetric_kl":
        return (_kl(clean, transformed) + _kl(transformed, clean)) / 2
    middle = torch.logsumexp(torch.stack([clean, transformed]), 0) - torch.log(
        torch.tensor(2.0, dtype=clean.dtype, device=clean.device)
    )
    return (_kl(clean, middle) + _kl(transformed, middle)) / 2  # "js"


def ekld(clean_logits: Tensor, transformed_logits: Tensor) -> Tensor:
    """``KL(p(.|x) || p(.|T x))`` per pair: the paper's invariance measure before averaging.

    Examples:
        >>> clean = torch.tensor([[3.0, 0.0], [0.0, 0.0]])
        >>> ekld(clean, torch.zeros(2, 2))
        tensor([0.5023, 0.0000])
    """
    return divergence(clean_logits, transformed_logits, "kl")


def consistency(clean_logits: Tensor, transformed_logits: Tensor) -> Tensor:
    """Per pair, 1.0 where the top-1 prediction on ``T(x)`` is the one on ``x``, else 0.0.

    Examples:
        >>> consistency(torch.tensor([[2.0, 1.0], [0.0, 1.0]]), torch.tensor([[5.0, 0.0]] * 2))
        tensor([1., 0.])
    """
    _check_pairs(clean_logits, transformed_logits, "logits")
    return (clean_logits.argmax(1) == transformed_logits.argmax(1)).to(torch.float32)


def feature_distance(
    clean_features: Tensor, transformed_features: Tensor, scale: Tensor | float | None = None
) -> Tensor:
    """Per-pair Euclidean distance between features of ``x`` and ``T(x)``, divided by
    ``scale``: by default the mean distance between the clean features of different images
    (rows paired with a fixed cyclic shift), so 1 means "as far apart as unrelated images".

    Raises:
        ValueError: a feature is NaN or infinite; ``scale`` is not finite and positive; or,
            with the default scale, all clean rows are identical, so that unrelated images
            are no distance apart and there is nothing to measure against (pass ``scale``).

    Examples:
        >>> features = torch.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
        >>> feature_distance(features, features).tolist()
        [0.0, 0.0, 0.0]
    """
    _check_pairs(clean_features, transformed_features, "features")
    clean, transformed = clean_features.flatten(1).float(), transformed_features.flatten(1).float()
    distance = (clean - transformed).norm(dim=1)
    if scale is None:
        scale = random_pair_distance(clean)
        if not bool(scale > 0):
            raise ValueError(
                "clean_features: expected rows that differ (their mean distance is the "
                "default scale), received identical rows; pass scale"
            )
    return distance / _checked_scale(scale)


def random_pair_distance(features: Tensor) -> Tensor:
    """The mean distance between different rows of ``features``, paired by a cyclic shift.

    Examples:
        >>> random_pair_distance(torch.tensor([[0.0], [1.0], [3.0]])).item()
        2.0
    """
    features = finite_tensor("features", float_tensor("features", features))
    if features.ndim < 1 or len(features) < 2:
        raise ValueError(
            f"features: expected at least 2 rows to compare unrelated images, "
            f"received {len(features)}"
        )
    flat = features.flatten(1).float()
    return (flat - flat.roll(1, 0)).norm(dim=1).mean()


def _paired_log_probs(clean_logits: Tensor, transformed_logits: Tensor) -> tuple[Tensor, Tensor]:
    _check_pairs(clean_logits, transformed_logits, "logits")
    dtype = torch.float64 if clean_logits.dtype == torch.float64 else torch.float32
    return (
        F.log_softmax(clean_logits.to(dtype), dim=1),
        F.log_softmax(transformed_logits.to(dtype), dim=1),
    )


def _kl(log_p: Tensor, log_q: Tensor) -> Tensor:
    return (log_p.exp() * (log_p - log_q)).sum(1).clamp_min_(0)


def _check_pairs(clean: Tensor, transformed: Tensor, kind: str) -> None:
    """Floating-point, finite outputs ``(N, ...)`` of one shape, named ``clean_<kind>`` and
    ``transformed_<kind>``."""
    for name, value in ((f"clean_{kind}", clean), (f"transformed_{kind}", transformed)):
        float_tensor(name, value)
        if value.ndim < 2:
            raise ValueError(
                f"{name}: expected outputs (N, C), received shape {tuple(value.shape)}"
            )
        finite_tensor(name, value)
    if clean.shape != transformed.shape:
        raise ValueError(
            f"transformed_{kind}: expected the shape of clean_{kind} {tuple(clean.shape)}, "
            f"received {tuple(transformed.shape)}"
        )


def _checked_scale(scale: Tensor | float) -> Tensor | float:
    if isinstance(scale, Tensor):
        finite_tensor("scale", float_tensor("scale", scale))
        if not bool((scale > 0).all()):
            raise ValueError(f"scale: expected positive values, received {scale.min().item()}")
        return scale
    return finite_float("scale", scale, 0, open_low=True)
