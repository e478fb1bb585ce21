"""Families built from families: a sequence, a per-sample choice, a per-sample coin flip.

Composite parameters nest their children's, one field per child named by its position
(``"0"``, ``"1"``, ...) as in ``nn.Sequential``. Children are always sampled for every image,
whether or not they end up applied, so that the random stream a family consumes does not
depend on probabilities or on the outcome of earlier draws.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

import torch
from torch import Tensor, nn

from invtransfer.transforms._ranges import as_number, bernoulli
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.params import Params

__all__ = ["Compose", "RandomApply", "RandomChoice"]


class _Composite(TransformFamily):
    """A family with child families; an image must suit every child."""

    def __init__(self, families: Sequence[TransformFamily], name: str = "families") -> None:
        super().__init__()
        families = list(families)
        if not families:
            raise ValueError(f"{name}: expected at least one TransformFamily, received none")
        for family in families:
            if not isinstance(family, TransformFamily):
                raise TypeError(
                    f"{name}: expected TransformFamily instances, received "
                    f"{type(family).__name__} (wrap torchvision transforms with "
                    f"from_torchvision)"
                )
        self.families = nn.ModuleList(families)

    def members(self) -> Iterator[tuple[str, TransformFamily]]:
        """``(field name, family)`` for every child, in order."""
        for i, family in enumerate(self.families):
            yield str(i), cast(TransformFamily, family)

    def check_channels(self, channels: int) -> None:
        for _, family in self.members():
            family.check_channels(channels)

    @property
    def geometric(self) -> bool:  # type: ignore[override]
        return any(family.geometric for _, family in self.members())

    def _sample_children(
        self, n: int, generator: torch.Generator, device: torch.device
    ) -> dict[str, Params]:
        return {name: f._sample(n, generator, device) for name, f in self.members()}

    def _identity_children(self, n: int, device: torch.device | str | None) -> dict[str, Params]:
        return {name: f.identity(n, device) for name, f in self.members()}


class Compose(_Composite):
    """Apply several families one after the other, each with its own per-image parameters.

    Examples:
        >>> from invtransfer.transforms import BackgroundIntensity, Rotation
        >>> family = Compose([Rotation(degrees=45), BackgroundIntensity()])
        >>> params = family.sample(4, generator=torch.Generator().manual_seed(0))
        >>> sorted(params.to_dict())
        ['0.angle', '1.intensity']
        >>> family.apply(torch.rand(4, 1, 28, 28), params).shape
        torch.Size([4, 1, 28, 28])
    """

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        return Params(**self._sample_children(n, generator, device))

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(**self._identity_children(n, device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        for name, family in self.members():  # each step's input in [0, 1], as on its own
            x = family._transform(x, params[name]).clamp_(0, 1)
        return x


class RandomChoice(_Composite):
    """Apply one family per image, chosen at random (independently for every image).

    Args:
        families: the candidates.
        p: relative weights of the candidates; uniform by default.

    Examples:
        >>> from invtransfer.transforms import Brightness, Rotation
        >>> family = RandomChoice([Rotation(degrees=30), Brightness()], p=[0.25, 0.75])
        >>> params = family.sample(6, generator=torch.Generator().manual_seed(0))
        >>> params.choice.shape
        torch.Size([6])
    """

    p: Tensor

    def __init__(
        self, families: Sequence[TransformFamily], p: Sequence[float] | None = None
    ) -> None:
        super().__init__(families)
        weights = [1.0] * len(self.families) if p is None else list(p)
        if len(weights) != len(self.families) or any(
            isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 for w in weights
        ):
            raise ValueError(
                f"p: expected {len(self.families)} non-negative weights, one per family, "
                f"received {p!r}"
            )
        if sum(weights) <= 0:
            raise ValueError(f"p: expected weights with a positive sum, received {p!r}")
        self.register_buffer(
            "p", torch.tensor(weights, dtype=torch.float64) / sum(weights), persistent=False
        )

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        choice = torch.multinomial(self.p.to(device), n, replacement=True, generator=generator)
        return Params(choice=choice, **self._sample_children(n, generator, device))

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        choice = torch.zeros(n, dtype=torch.long, device=device)
        return Params(choice=choice, **self._identity_children(n, device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        out = x.clone()
        for i, (name, family) in enumerate(self.members()):
            _apply_to_rows(family, x, params[name], params.choice == i, out)
        return out

    def extra_repr(self) -> str:
        return f"p={[round(float(w), 4) for w in self.p]}"


class RandomApply(TransformFamily):
    """Apply ``family`` to each image with probability ``p``, leave it unchanged otherwise.

    Examples:
        >>> from invtransfer.transforms import Rotation
        >>> family = RandomApply(Rotation(degrees=90), p=0.5)
        >>> params = family.sample(4, generator=torch.Generator().manual_seed(0))
        >>> sorted(params.to_dict())
        ['applied', 'family.angle']
    """

    family: TransformFamily

    def __init__(self, family: TransformFamily, p: float = 0.5) -> None:
        super().__init__()
        if not isinstance(family, TransformFamily):
            raise TypeError(f"family: expected a TransformFamily, received {type(family).__name__}")
        self.family = family
        self.p = as_number("p", p, (0.0, 1.0))

    def check_channels(self, channels: int) -> None:
        self.family.check_channels(channels)

    @property
    def geometric(self) -> bool:  # type: ignore[override]
        return self.family.geometric

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        applied = bernoulli(n, self.p, generator, device)
        return Params(applied=applied, family=self.family._sample(n, generator, device))

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        applied = torch.zeros(n, dtype=torch.bool, device=device)
        return Params(applied=applied, family=self.family.identity(n, device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        out = x.clone()
        _apply_to_rows(self.family, x, params.family, params.applied, out)
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _apply_to_rows(
    family: TransformFamily, x: Tensor, params: Params, rows: Tensor, out: Tensor
) -> None:
    """Write ``family`` applied to the selected rows of ``x`` into the same rows of ``out``."""
    index = rows.nonzero().squeeze(1)
    if len(index):
        out[index] = family._transform(x[index], params[index])
