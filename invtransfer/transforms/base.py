"""`TransformFamily`: a distribution over nuisance transformations, applied in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple, overload

import torch
from torch import Tensor, nn

from invtransfer._images import ImageBatch
from invtransfer._seeding import os_seeded
from invtransfer._validation import finite_tensor
from invtransfer.transforms.params import Params

__all__ = ["TransformFamily", "Views"]


class Views(NamedTuple):
    """``k`` transformed copies of each input, each paired with the row it came from."""

    images: Tensor
    """``(N * k, C, H, W)`` transformed images; the copies of input ``i`` are rows
    ``i * k`` to ``i * k + k - 1``."""
    source: Tensor
    """``(N * k,)`` int64: the index of the input each copy was made from."""
    params: Params
    """The parameters that made each copy, so that the views can be replayed."""


class TransformFamily(nn.Module):
    """A distribution over class-agnostic nuisance transformations.

    Subclasses implement three small methods, all on float ``(N, C, H, W)`` batches in [0, 1]:

    - ``_sample(n, generator, device) -> Params`` draws one parameter set per sample;
    - ``_transform(x, params) -> Tensor`` applies per-sample parameters in one batched call
      and returns a new tensor (never ``x`` itself or a view of it);
    - ``identity(n, device=None) -> Params`` gives parameters that leave images unchanged.

    The public methods add the library's contracts around them: input validation, the dtype
    policy (``uint8`` in, ``uint8`` out; float in [0, 1] in, the same float dtype out), single
    images ``(C, H, W)``, local generators, and device placement.

    Examples:
        >>> from invtransfer.transforms import Rotation
        >>> family = Rotation(degrees=30)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> params = family.sample(4, generator=torch.Generator().manual_seed(0))
        >>> y = family.apply(x, params)  # deterministic: the same params give the same y
        >>> torch.equal(y, family.apply(x, params))
        True
        >>> torch.allclose(family.apply(x, family.identity(4)), x, atol=1e-5)
        True
    """

    channels: tuple[int, ...] | None = None
    """The channel counts a family accepts; ``None`` accepts any."""
    geometric: bool = False
    """Whether the family moves pixels (so that masks and boxes would have to move too)."""
    statistic_name: str | None = None
    """What `statistic` measures of an image (``"background level"``, ``"ink mass"``), or
    ``None`` when the family has no such per-image measure of its nuisance."""

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Params:
        """Draw parameters for ``n`` samples.

        Args:
            n: number of samples, at least 1.
            generator: the only source of randomness. ``None`` seeds a fresh generator from
                the operating system, so results differ from call to call; the global RNGs
                are never read or changed.
            device: where to draw and place the parameters; defaults to the generator's
                device, or the CPU. It must match the generator's device.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n: expected a positive int, received {n!r}")
        generator, where = _resolve_generator(generator, device)
        return self._sample(n, generator, where)

    @overload
    def apply(self, x: Tensor, params: Params) -> Tensor: ...

    @overload
    def apply(self, x: Callable[[nn.Module], None]) -> TransformFamily: ...

    def apply(self, x: Any, params: Params | None = None) -> Any:
        """Apply ``params`` (one row per image) to ``x``; deterministic and batched.

        Called with a function and no parameters, this is ``nn.Module.apply``, so that
        ``model.apply(init_weights)`` still works on a model that contains a family.

        Raises:
            ValueError: a parameter is NaN or infinite (``params.angle: expected finite
                values, received nan``), or ``params`` has not one row per image.

        Examples:
            >>> from invtransfer.transforms import Rotation
            >>> Rotation(30).apply(torch.rand(1, 1, 8, 8), Params(angle=torch.tensor([torch.nan])))
            Traceback (most recent call last):
            ...
            ValueError: params.angle: expected finite values, received nan
        """
        if params is None and callable(x):
            return super().apply(x)
        if params is None:
            raise TypeError("params: expected Params for every image of x, received None")
        batch = self._validate(x)
        return batch.restore(
            self._transform(batch.images, self._check_params(params, batch.images))
        )

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Sample parameters for every image of ``x`` and apply them."""
        return self.apply_random(x, generator)[0]

    def apply_random(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Params]:
        """Like calling the family, but also return the parameters it drew."""
        return self._transform_randomly(self._validate(x), generator)

    def statistic(self, x: Tensor) -> Tensor:
        """A per-image measure of this family's nuisance (float32 ``(N,)``), to compare how
        much transformations vary it (see `invtransfer.generative.nuisance_coverage`).

        Raises:
            ValueError: the family has none (``statistic_name`` is ``None``).

        Examples:
            >>> from invtransfer.transforms import Brightness
            >>> Brightness().statistic(torch.full((2, 3, 4, 4), 0.25)).tolist()
            [0.25, 0.25]
        """
        if self.statistic_name is None:
            raise ValueError(f"{type(self).__name__} has no measurable statistic")
        return self._statistic(self._validate(x).images.float())

    def _statistic(self, x: Tensor) -> Tensor:
        """The statistic of a float ``(N, C, H, W)`` batch in [0, 1]."""
        raise NotImplementedError

    def views(self, x: Tensor, k: int, generator: torch.Generator | None = None) -> Views:
        """``k`` independently transformed copies of every image in ``x``.

        Examples:
            >>> from invtransfer.transforms import Brightness
            >>> out = Brightness().views(torch.rand(2, 3, 8, 8), k=3)
            >>> out.images.shape, out.source.tolist()
            (torch.Size([6, 3, 8, 8]), [0, 0, 0, 1, 1, 1])
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k: expected a positive int number of views, received {k!r}")
        batch = self._validate(x)
        source = torch.arange(len(batch.images), device=batch.images.device).repeat_interleave(k)
        copies = replace(batch, images=batch.images[source], single=False)
        images, params = self._transform_randomly(copies, generator)
        return Views(images, source, params)

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        """Parameters for ``n`` samples that leave images unchanged."""
        raise NotImplementedError

    def check_channels(self, channels: int) -> None:
        """Raise ``ValueError`` unless the family transforms images with ``channels`` channels."""
        if self.channels is not None and channels not in self.channels:
            raise ValueError(
                f"x: {type(self).__name__} expects images with {_alternatives(self.channels)} "
                f"channels, received {channels}"
            )

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        raise NotImplementedError

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        raise NotImplementedError

    def _transform_randomly(
        self, batch: ImageBatch, generator: torch.Generator | None
    ) -> tuple[Tensor, Params]:
        params = self.sample(len(batch.images), generator, batch.images.device)
        return batch.restore(self._transform(batch.images, params)), params

    def _validate(self, x: Tensor) -> ImageBatch:
        batch = ImageBatch.from_user(x)
        self.check_channels(batch.images.shape[1])
        return batch

    def _check_params(self, params: Params, x: Tensor) -> Params:
        if not isinstance(params, Params):
            raise TypeError(f"params: expected Params, received {type(params).__name__}")
        if len(params) != len(x):
            raise ValueError(
                f"params: expected parameters for {len(x)} images, received {len(params)}"
            )
        for name, field in params.to_dict().items():
            finite_tensor(f"params.{name}", field)
        return params.to(x.device)


@torch.compiler.disable  # seeding a fresh generator is host work: run it outside the graph
def _resolve_generator(
    generator: torch.Generator | None, device: torch.device | str | None
) -> tuple[torch.Generator, torch.device]:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator: expected a torch.Generator or None, received {type(generator).__name__}"
        )
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    device = torch.device(device)
    if generator is None:
        return os_seeded(device), device
    if not _same_device(generator.device, device):
        raise ValueError(
            f"generator: expected a generator on {device} (where the parameters are drawn), "
            f"received one on {generator.device}"
        )
    return generator, device


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def _alternatives(values: tuple[int, ...]) -> str:
    return " or ".join(str(v) for v in values)
